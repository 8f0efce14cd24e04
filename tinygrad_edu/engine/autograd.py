"""Reverse-mode autodiff: order the graph, then sweep it backwards once.

``topological_order`` is iterative (an explicit stack), so a chain of 100,000 ops
needs no recursion. ``run_backward`` walks the order in reverse, calls each
node's ``backward``, sums every gradient back to its input's shape and dtype, and
*adds* it to what that input already received (a tensor used twice gets both
contributions). Leaf gradients accumulate into ``.grad`` across calls, as in
PyTorch; ``tg.grad`` uses the same sweep but hands the gradients back instead.
"""
from __future__ import annotations

import numpy as np

from . import function
from .function import state
from .ops import sum_to_shape


def topological_order(roots):
    """Tensors that require grad, reachable from ``roots``, each after all of its inputs.

    A depth-first search with an explicit stack: each tensor is pushed twice, once
    to visit its inputs and once (``children_done``) to be emitted after them.

    Examples:
        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([1.0], requires_grad=True, name="x")
        >>> y = (x * 2).exp()
        >>> [t.name or t.grad_fn.name for t in topological_order([y])]
        ['x', 'Mul', 'Exp']
    """
    order, visited = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if tensor in visited:
            continue
        visited.add(tensor)
        stack.append((tensor, True))
        ctx = tensor._ctx
        if ctx is not None:
            for inp, need in zip(ctx.inputs, ctx.needs_input_grad):
                if need and inp not in visited:
                    stack.append((inp, False))
    return order


def _check_graph(order, create_graph):
    """Refuse, before any gradient is written, a graph that was freed or changed in place."""
    for tensor in order:
        ctx = tensor._ctx
        if ctx is None:
            continue
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
        for i, (inp, version) in enumerate(zip(ctx.inputs, ctx.versions)):
            if getattr(inp, "_version", version) != version:
                label = f"'{inp.name}'" if inp.name else f"of shape {inp.shape}"
                raise RuntimeError(
                    f"backward: input {i} of {ctx.name} (a tensor {label}) was modified in place "
                    f"after the op saved it (version {version} -> {inp._version}); the gradient "
                    "would be wrong. Run backward() before changing it, e.g. before optimizer.step()"
                )
            if create_graph and isinstance(inp, function.Tensor) and inp.data is not ctx.arrays[i]:
                raise RuntimeError(
                    f"backward: the data of input {i} of {ctx.name} was replaced after the op saved it"
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
    """
    Tensor = function.Tensor
    order = topological_order(roots)
    _check_graph(order, create_graph)
    grads = {}
    for root, g in zip(roots, root_grads):
        grads[root] = g if root not in grads else grads[root] + g
    anomaly = state.anomaly
    stored_ids = set()  # arrays already handed out as a .grad in this sweep

    previous_mode, state.grad_enabled = state.grad_enabled, create_graph
    previous_node = state.anomaly_backward_of
    try:
        for tensor in reversed(order):
            g = grads.pop(tensor, None)
            if g is None:
                continue
            if tensor._hooks:
                g = _run_hooks(tensor, g, create_graph)
            ctx = tensor._ctx
            if capture is not None:
                if tensor in capture:
                    capture[tensor] = g if isinstance(g, Tensor) else Tensor._make(g)
            elif ctx is None or tensor._retains_grad:
                _accumulate_grad(tensor, g, create_graph, stored_ids)
            if ctx is None:
                continue
            if create_graph:
                g_in = g if isinstance(g, Tensor) else Tensor._make(g)
                if anomaly:  # the ops recorded now belong to ctx's backward: say so if one fails
                    state.anomaly_backward_of = ctx
                input_grads = ctx.backward(g_in, tensor, *ctx.inputs)
            else:
                input_grads = ctx.backward(g, tensor.data, *ctx.arrays)
            if anomaly:
                from ..tools.anomaly import check_backward

                check_backward(ctx, tensor, input_grads)
            if tracer is not None:
                tracer(tensor, ctx, g, input_grads)
            if not retain_graph:
                ctx.release()
            for inp, grad, need in zip(ctx.inputs, input_grads, ctx.needs_input_grad):
                if grad is None or not need:
                    continue
                if grad.shape != inp.shape:
                    grad = sum_to_shape(grad, inp.shape)
                if grad.dtype != inp.dtype:
                    grad = grad.astype(inp.dtype)
                previous = grads.get(inp)
                grads[inp] = grad if previous is None else previous + grad
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


def _accumulate_grad(tensor, g, create_graph, stored_ids):
    """``tensor.grad += g``, keeping each .grad its own array (never a view another tensor shares)."""
    Tensor = function.Tensor
    if create_graph:
        g = g if isinstance(g, Tensor) else Tensor._make(g)
        tensor.grad = g if tensor.grad is None else tensor.grad + g
        return
    if tensor.grad is not None:
        tensor.grad = Tensor._make(tensor.grad.data + g)
        return
    if type(g) is not np.ndarray or not g.flags.writeable or g.base is not None or id(g) in stored_ids:
        g = np.array(g, dtype=tensor.dtype)
    stored_ids.add(id(g))
    tensor.grad = Tensor._make(g)
