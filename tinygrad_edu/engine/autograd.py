"""Reverse-mode autodiff: order the graph, then sweep it backwards once.

``topological_order`` is iterative (an explicit stack), so a chain of 100,000 ops
needs no recursion. ``run_backward`` walks the order in reverse, calls each
node's ``backward``, sums every gradient back to its input's shape and dtype, and
*adds* it to what that input already received (a tensor used twice gets both
contributions). Leaf gradients accumulate into ``.grad`` across calls, as in
PyTorch; ``tg.grad`` uses the same sweep but hands the gradients back instead.

Memory: an intermediate gradient is dropped as soon as its node has been swept,
and (without ``retain_graph``) so are the node's saved arrays, so the sweep
holds little more than the gradients still on their way to the leaves.
"""
from __future__ import annotations

import numpy as np

from . import function
from .function import state
from .ops import sum_to_shape

# Pushed above a tensor on the stack: "the inputs of the tensor below are all ordered".
_INPUTS_DONE = object()


def topological_order(roots, leaves=True):
    """Tensors that require grad, reachable from ``roots``, each after all of its inputs.

    A depth-first search with an explicit stack: a tensor is pushed once to visit its
    inputs, then again under the ``_INPUTS_DONE`` marker to be emitted after them.
    ``leaves=False`` leaves out the tensors that no op produced: the backward sweep
    needs only the nodes, and hands the leaves their gradients at the end.

    Examples:
        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([1.0], requires_grad=True, name="x")
        >>> y = (x * 2).exp()
        >>> [t.name or t.grad_fn.name for t in topological_order([y])]
        ['x', 'Mul', 'Exp']
    """
    order, visited = [], set()
    stack = []
    for root in roots:
        if root._ctx is not None:
            stack.append(root)
        elif leaves and root not in visited:
            visited.add(root)
            order.append(root)
    while stack:
        tensor = stack.pop()
        if tensor is _INPUTS_DONE:
            order.append(stack.pop())
            continue
        if tensor in visited:
            continue
        visited.add(tensor)
        stack.append(tensor)
        stack.append(_INPUTS_DONE)
        ctx = tensor._ctx
        for inp, need in zip(ctx.inputs, ctx.needs_input_grad):
            if not need or inp in visited:
                continue
            if inp._ctx is not None:
                stack.append(inp)
            elif leaves:  # a leaf waits for nothing: it goes in at once, still before its user
                visited.add(inp)
                order.append(inp)
    return order


def _check_graph(nodes, create_graph):
    """Refuse, before any gradient is written, a graph that was freed or changed in place."""
    for tensor in nodes:
        ctx = tensor._ctx
        if ctx.freed:
            raise RuntimeError(
                f"backward: the graph through {ctx.name} (output shape {tensor.shape}) was already "
                "used by a backward pass and its saved arrays were freed; pass retain_graph=True "
                "to the first backward() to go through it again"
            )
        if ctx.saves_output and (tensor._version or tensor.data is not ctx.out):
            label = f"'{tensor.name}'" if tensor.name else f"of shape {tensor.shape}"
            raise RuntimeError(
                f"backward: the output of {ctx.name} (a tensor {label}) was changed in place after "
                "the op saved it for backward; the gradient would be wrong. Change a copy instead"
            )
        for inp, version in zip(ctx.inputs, ctx.versions):
            if getattr(inp, "_version", version) != version:
                _raise_modified(ctx, inp, version)
        if create_graph:
            for i, inp in enumerate(ctx.inputs):
                if isinstance(inp, function.Tensor) and inp.data is not ctx.arrays[i]:
                    raise RuntimeError(
                        f"backward: the data of input {i} of {ctx.name} was replaced after the op saved it"
                    )


def _raise_modified(ctx, inp, version):
    i = next(i for i, x in enumerate(ctx.inputs) if x is inp)
    label = f"'{inp.name}'" if inp.name else f"of shape {inp.shape}"
    raise RuntimeError(
        f"backward: input {i} of {ctx.name} (a tensor {label}) was modified in place "
        f"after the op saved it (version {version} -> {inp._version}); the gradient "
        "would be wrong. Run backward() before changing it, e.g. before optimizer.step()"
    )


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, capture=None, tracer=None):
    """The backward sweep shared by ``Tensor.backward`` and ``tg.grad``.

    Args:
        roots: the output tensors to start from.
        root_grads: their upstream gradients, same shapes (ndarrays, or Tensors when
            ``create_graph``).
        retain_graph: keep every node's saved arrays for another sweep.
        create_graph: run each backward on Tensors with grad mode on, so the
            gradients are recorded too.
        capture: None to accumulate leaf gradients into ``.grad`` (``Tensor.backward``);
            a dict ``{tensor: None}`` to fill with those tensors' gradients instead,
            leaving every ``.grad`` untouched (``tg.grad``).
        tracer: optional ``callable(tensor, ctx, g, input_grads)`` run after each step.

    Every node is visited once, after all the nodes that use it, so the gradient it
    gets is complete; the leaves, which have no backward of their own, are handed
    their gradients last.
    """
    Tensor = function.Tensor
    nodes = topological_order(roots, leaves=False)
    _check_graph(nodes, create_graph)
    grads = {}
    for root, g in zip(roots, root_grads):
        grads[root] = g if root not in grads else grads[root] + g
    anomaly = state.anomaly
    # ids of arrays that some .grad, the caller or a hook holds: a leaf may not keep one as its own
    shared = set(map(id, root_grads))

    previous_mode, state.grad_enabled = state.grad_enabled, create_graph
    previous_node = state.anomaly_backward_of
    try:
        for tensor in reversed(nodes):
            g = grads.pop(tensor, None)  # popped: dropped as soon as this node is done
            if g is None:
                continue
            if tensor._hooks:
                g = _run_hooks(tensor, g, create_graph)
                shared.add(id(g))
            ctx = tensor._ctx
            if capture is not None:
                if tensor in capture:
                    capture[tensor] = g if isinstance(g, Tensor) else Tensor._make(g)
            elif tensor._retains_grad:
                _accumulate_grad(tensor, g, create_graph, shared)
            if create_graph:
                g_in = g if isinstance(g, Tensor) else Tensor._make(g)
                if anomaly:  # the ops recorded now belong to ctx's backward: say so if one fails
                    state.anomaly_backward_of = ctx
                input_grads = ctx.backward(g_in, tensor, *ctx.inputs)
            else:
                arrays = ctx.arrays  # plain calls for one or two: a star-call costs ~0.15 us more
                if len(arrays) == 1:
                    input_grads = ctx.backward(g, tensor.data, arrays[0])
                elif len(arrays) == 2:
                    input_grads = ctx.backward(g, tensor.data, arrays[0], arrays[1])
                else:
                    input_grads = ctx.backward(g, tensor.data, *arrays)
            if anomaly:
                from ..tools.anomaly import check_backward

                check_backward(ctx, tensor, input_grads)
            if tracer is not None:
                tracer(tensor, ctx, g, input_grads)
                shared.update(id(grad) for grad in input_grads)  # the tracer may keep them
            for inp, grad, need in zip(ctx.inputs, input_grads, ctx.needs_input_grad):
                if grad is None or not need:
                    continue
                data = inp.data
                if grad.shape != data.shape:
                    grad = sum_to_shape(grad, data.shape)
                if grad.dtype is not data.dtype and grad.dtype != data.dtype:  # `is`: the cheap usual case
                    grad = grad.astype(data.dtype)
                if inp._ctx is None and not create_graph and not grad.flags.writeable:
                    shared.add(id(grad))  # a saved (locked) array, so some tensor's data: never a .grad
                previous = grads.get(inp)
                grads[inp] = grad if previous is None else previous + grad
            if not retain_graph:
                ctx.release()
        # what is left are the leaves' gradients, complete now
        for leaf, g in grads.items():
            if leaf._hooks:
                g = _run_hooks(leaf, g, create_graph)
                shared.add(id(g))
            if capture is None:
                _accumulate_grad(leaf, g, create_graph, shared)
            elif leaf in capture:
                capture[leaf] = g if isinstance(g, Tensor) else Tensor._make(g)
    finally:
        state.grad_enabled = previous_mode
        state.anomaly_backward_of = previous_node


def _run_hooks(tensor, g, create_graph):
    Tensor = function.Tensor
    g = g if isinstance(g, Tensor) else Tensor._make(g)
    for hook in list(tensor._hooks.values()):
        replaced = hook(g)
        if replaced is not None:
            if not isinstance(replaced, Tensor):
                replaced = Tensor._make(np.asarray(replaced, dtype=g.dtype))
            if replaced.shape != g.shape:
                raise RuntimeError(
                    f"register_hook: a hook returned a gradient of shape {replaced.shape} "
                    f"for a tensor of shape {g.shape}"
                )
            g = replaced
    return g if create_graph else g.data


def _accumulate_grad(tensor, g, create_graph, shared):
    """``tensor.grad += g``.

    Outside ``create_graph`` each ``.grad`` owns its array: the first gradient is
    kept only if nothing else can see it (a fresh, writeable array that is no view
    and not in ``shared``), else copied; later backwards then add into it in place,
    as PyTorch does, with no temporary. A ``.grad`` that a graph saved (read-only)
    or that is itself differentiable gets a new array instead.
    """
    Tensor = function.Tensor
    if create_graph:
        g = g if isinstance(g, Tensor) else Tensor._make(g)
        tensor.grad = g if tensor.grad is None else tensor.grad + g
        return
    grad = tensor.grad
    if grad is None:
        if type(g) is not np.ndarray or g.base is not None or not g.flags.writeable or id(g) in shared:
            g = np.array(g, dtype=tensor.dtype)
        shared.add(id(g))
        tensor.grad = Tensor._make(g)
    elif grad.data.flags.writeable and not grad.requires_grad:
        grad.data += g
        grad._version += 1
    else:
        tensor.grad = Tensor._make(grad.data + g)
