"""``tg.grad``: gradients handed back instead of accumulated into ``.grad``.

The engine's sweep accumulates into leaves; ``tg.grad`` runs it with that switched
off and catches each requested tensor's complete gradient with a hook (the same
``register_hook`` users have), removed again afterwards.
"""
from __future__ import annotations

import threading

import numpy as np

from ..engine.autograd import run_backward
from ..engine.tensor import Tensor, seed_gradient


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple; ``.grad`` is untouched.

    Args:
        outputs: a Tensor or a sequence of them.
        inputs: a Tensor or a sequence of tensors that require grad.
        grad_outputs: one upstream gradient per output (same shape); may be None for
            an output with one element.
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: record the backward pass, so the returned gradients are
            themselves differentiable.
        allow_unused: give None for an input the outputs do not depend on, instead of
            raising.

    Returns:
        A tuple with one gradient Tensor (or None) per input.

    Examples:
        >>> import tinygrad_edu as tg
        >>> x = tg.Tensor([2.0], requires_grad=True)
        >>> (dy,) = tg.grad((x ** 3).sum(), x, create_graph=True)
        >>> dy
        Tensor([12.], dtype=float32, grad_fn=<Mul>)
        >>> tg.grad(dy.sum(), x)
        (Tensor([12.], dtype=float32),)
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so it has no gradient")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {np.shape(t)}) does not require grad and has no graph")
    seeds = [seed_gradient(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)]
    caught, thread = {}, threading.get_ident()

    def catcher(i):
        def catch(g):
            if threading.get_ident() == thread:  # another thread's backward through the same tensor is not ours
                caught[i] = g if create_graph else Tensor._make(np.array(g.data))
        return catch

    handles = [t.register_hook(catcher(i)) for i, t in enumerate(inputs)]
    try:
        run_backward(outputs, seeds, create_graph if retain_graph is None else retain_graph, create_graph,
                     accumulate=False)
    finally:
        for handle in handles:
            handle.remove()
    for i, t in enumerate(inputs):
        if i not in caught and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                               "pass allow_unused=True to get None for it")
    return tuple(caught.get(i) for i in range(len(inputs)))
