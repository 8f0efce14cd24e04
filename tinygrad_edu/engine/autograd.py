"""Reverse-mode autodiff: order the graph, then sweep it backwards once.

``topological_order`` is iterative (an explicit stack), so a chain of 100,000 ops
needs no recursion. ``run_backward`` walks that order in reverse: each node gets
its complete upstream gradient, runs its ``backward``, and every input's share is
summed back to that input's shape (``sum_to_shape``, the one place broadcasting is
undone) and *added* to what the input already has, so a tensor used twice gets
both contributions. The leaves come last: their gradients go into ``.grad``.

Memory: a node's gradient is dropped as soon as it has been swept, and (without
``retain_graph``) so are its saved values.
"""
from __future__ import annotations

import threading

import numpy as np

from . import events
from .function import CONSTANTS, ShapeError, state

_INPUTS_DONE = object()  # pushed above a tensor on the stack: "its inputs are all ordered now"
_accumulating = threading.Lock()  # backward passes in several threads may add into one shared .grad


def topological_order(roots, leaves=True):
    """Tensors that require grad, reachable from ``roots``, each after all of its inputs.

    ``leaves=False`` leaves out the tensors no op produced (the sweep needs only nodes).

    Examples:
        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([1.0], requires_grad=True, name="x")
        >>> y = (x * 2).exp()
        >>> [t.name or t.grad_fn.name for t in topological_order([y])]
        ['x', 'Mul', 'Exp']
    """
    order, visited, stack = [], set(), list(roots)
    while stack:
        tensor = stack.pop()
        if tensor is _INPUTS_DONE:
            order.append(stack.pop())
        elif tensor not in visited:
            visited.add(tensor)
            node = tensor._ctx
            if node is None:
                if leaves:
                    order.append(tensor)
                continue
            stack += (tensor, _INPUTS_DONE)
            stack += [x for x, need in zip(node.inputs, node.needs_input_grad) if need and x not in visited]
    return order


def sum_to_shape(g, shape, op="backward"):
    """Sum a broadcast gradient back to ``shape``: drop leading axes, then sum the size-1 axes.

    A gradient that ``shape`` does not broadcast to is a bug in some backward: refused.

    Examples:
        >>> sum_to_shape(np.ones((4, 2, 3)), (2, 1)).tolist()
        [[12.0], [12.0]]
    """
    if shape and g.shape[1:] == shape:  # one leading axis, e.g. a bias's batch axis: one sum
        return g.sum(axis=0)
    lead = g.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, g.shape[lead:])):
        raise ShapeError(f"{op}: a gradient of shape {g.shape} cannot be summed to its input's shape {tuple(shape)}")
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + ones, keepdims=True).reshape(shape)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, accumulate=True):
    """The backward sweep behind ``Tensor.backward`` (and ``tg.grad``, which sets ``accumulate=False``).

    ``root_grads`` are ndarrays, or Tensors when ``create_graph``: then every backward
    runs on Tensors with grad mode on, so the gradients are recorded too.
    """
    nodes = topological_order(roots, leaves=False)
    for tensor in nodes:
        if tensor._ctx.saved is None:
            raise RuntimeError(
                f"backward: the graph through {tensor._ctx.name} (output shape {tensor.shape}) was already used by a "
                "backward pass and its saved arrays were freed; pass retain_graph=True to the first backward() "
                "to go through it again")
    for watch in events.sweep_started:
        watch(nodes, create_graph, roots, root_grads, accumulate)
    grads, seen = {}, set(map(id, root_grads))  # seen: arrays someone else holds (never adopted as a .grad)
    for root, g in zip(roots, root_grads):
        grads[root] = grads[root] + g if root in grads else g
    previous, state.grad_enabled = state.grad_enabled, create_graph
    try:
        _sweep(reversed(nodes), grads, seen, retain_graph, create_graph)
        for leaf, g in grads.items():  # what is left are the leaves' complete gradients
            if leaf._hooks:
                g = run_hooks(leaf, g, seen)
            if accumulate:
                with _accumulating:
                    accumulate_grad(leaf, g, seen)
    finally:
        state.grad_enabled = previous


def _sweep(nodes, grads, seen, retain_graph, create_graph):
    """Each node, after all that use it: its complete gradient through its backward, on to its inputs."""
    starting, swept = events.node_starting, events.node_swept
    for out in nodes:
        g = grads.pop(out, None)  # popped: dropped as soon as this node is done
        if g is None:
            continue
        if out._hooks:
            g = run_hooks(out, g, seen)
        node = out._ctx
        for watch in starting:
            watch(node)
        saved = _as_tensors(node, out) if create_graph else node.saved
        passed = _pass_back(node, node.backward(g, *saved), grads, saved, seen)
        for watch in swept:
            watch(node, out, g, passed)
        if not retain_graph:
            node.release()


def _as_tensors(node, out):
    """The node's saved values for a create_graph sweep: a saved input's or output's array as that tensor."""
    tensors = {id(t._data): t for t in (out, *node.inputs) if not isinstance(t, CONSTANTS)}
    return [tensors.get(id(value), value) for value in node.saved]


def _pass_back(node, input_grads, grads, saved, seen):
    """Sum each input's gradient to its shape and dtype and add it to ``grads``; returns them (None where none).

    A gradient that is one of the node's saved arrays belongs to the graph: noted in ``seen``, never adopted.
    """
    if len(input_grads) != len(node.inputs):
        raise RuntimeError(f"{node.name}.backward returned {len(input_grads)} gradients for {len(node.inputs)} inputs")
    passed = []
    for x, grad, need in zip(node.inputs, input_grads, node.needs_input_grad):
        if grad is None or not need:
            passed.append(None)
            continue
        if isinstance(grad, np.generic):  # NumPy gives a scalar for 0-d arithmetic
            grad = np.asarray(grad)
        for value in saved:
            if grad is value:
                seen.add(id(grad))
        data = x._data
        if grad.shape != data.shape:
            grad = sum_to_shape(grad, data.shape, node.name)
        if grad.dtype != data.dtype:
            grad = grad.astype(data.dtype)
        grads[x] = grads[x] + grad if x in grads else grad
        passed.append(grad)
    return passed


def run_hooks(tensor, g, seen):
    """Call ``tensor``'s hooks on its complete gradient ``g``; a hook may return a replacement."""
    wrap = type(tensor)._make
    as_tensor = g if not isinstance(g, np.ndarray) else wrap(g)
    for hook in list(tensor._hooks.values()):
        replaced = hook(as_tensor)
        if replaced is not None:
            replaced = replaced if not isinstance(replaced, CONSTANTS) else wrap(np.asarray(replaced, tensor.dtype))
            if replaced.shape != tensor.shape:
                raise RuntimeError(f"register_hook: a hook returned a gradient of shape {replaced.shape} "
                                 f"for a tensor of shape {tensor.shape}")
            as_tensor = replaced
    g = as_tensor._data if isinstance(g, np.ndarray) else as_tensor
    seen.add(id(g))  # a hook may keep it
    return g


def accumulate_grad(tensor, g, seen):
    """``tensor.grad += g``, where each ``.grad`` owns its array so later backwards can add in place.

    ``g`` is adopted as is only when nothing else can see it: a fresh, writeable
    array that is no view and not ``seen``. Otherwise it is copied.
    """
    grad = tensor.grad
    if not isinstance(g, np.ndarray):  # create_graph: a differentiable gradient
        tensor.grad = g if grad is None else grad + g
    elif grad is None:
        if g.base is not None or not g.flags.writeable or id(g) in seen:
            g = np.array(g, dtype=tensor.dtype)
        seen.add(id(g))
        tensor.grad = type(tensor)._make(g)
    elif grad._data.flags.writeable and not grad.requires_grad:
        grad._data += g
        grad._version += 1
    else:  # a graph holds the old .grad (or it is differentiable): leave it as it is
        tensor.grad = type(tensor)._make(grad._data + g)
