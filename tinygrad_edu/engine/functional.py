"""Functions on tensors and array-likes: ``tg.where``, ``tg.concatenate``, ``tg.exp``, ...

They mirror NumPy's names, so a backward rule can call ``lib(g).exp(x)`` and get
NumPy's ``exp`` for ndarrays or this module's for Tensors (see ``function.lib``).

Besides the functions below, each of these is an alias of the Tensor method of the
same name that also accepts an array-like (``tg.exp(x)`` is ``x.exp()``): ``exp``,
``log``, ``sqrt``, ``abs``, ``sin``, ``cos``, ``tanh``, ``sigmoid``, ``relu``,
``leaky_relu``, ``clip``, ``sum``, ``mean``, ``var``, ``max``, ``min``, ``logsumexp``,
``softmax``, ``log_softmax``, ``argmax``, ``flatten``, ``squeeze``, ``expand_dims``, ``pad``.
"""
from __future__ import annotations

import sys

import numpy as np

from . import function, ops
from .function import ShapeError
from .tensor import Tensor, _check_axis, get_default_dtype


def _as_tensor(x, like=None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if like is not None:
        return Tensor._make(np.asarray(like._operand(x)))
    array = np.asarray(x)
    if array.dtype.kind in "iu" and not isinstance(x, np.ndarray):
        array = array.astype(get_default_dtype())
    return Tensor._make(array)


def concatenate(tensors, axis=0) -> Tensor:
    """Join tensors along an existing ``axis``; their shapes must agree on every other axis.

    Examples:
        >>> import tinygrad_edu as tg
        >>> tg.concatenate([tg.zeros(2, 1), tg.ones(2, 2)], axis=1).shape
        (2, 3)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    tensors = [_as_tensor(t, first) for t in tensors]
    if any(t.ndim == 0 for t in tensors):
        raise ValueError("concatenate: 0-d tensors cannot be concatenated; use stack")
    _check_axis(axis, tensors[0].ndim, "concatenate")
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0) -> Tensor:
    """Join same-shaped tensors along a new ``axis``: n tensors of shape S give (n, *S) for axis 0."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {np.shape(t) for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    return concatenate([_as_tensor(t, first).expand_dims(axis) for t in tensors], axis=axis)


def where(condition, x, y) -> Tensor:
    """``x`` where ``condition`` holds, else ``y``; differentiable in ``x`` and ``y``."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    if like is None:
        return Tensor._make(np.where(cond, x, y))
    return ops.Where.apply(cond, like._operand(x), like._operand(y))


def maximum(x, y) -> Tensor:
    """Elementwise max; where x == y the gradient is shared equally."""
    x = _as_tensor(x, y if isinstance(y, Tensor) else None)
    return ops.Maximum.apply(x, x._operand(y))


def minimum(x, y) -> Tensor:
    """Elementwise min, as -max(-x, -y)."""
    x = _as_tensor(x, y if isinstance(y, Tensor) else None)
    return -maximum(-x, -_as_tensor(y, x))


def matmul(x, y) -> Tensor:
    """``x @ y`` for Tensors or array-likes."""
    return _as_tensor(x) @ y


def broadcast_to(x, shape) -> Tensor:
    """``x.broadcast_to(shape)`` for a Tensor or an array-like."""
    return _as_tensor(x).broadcast_to(shape)


def reshape(x, *shape) -> Tensor:
    """``x.reshape(*shape)`` for a Tensor or an array-like."""
    return _as_tensor(x).reshape(*shape)


def transpose(x, *axes) -> Tensor:
    """``x.transpose(*axes)`` for a Tensor or an array-like."""
    return _as_tensor(x).transpose(*axes)


def _unary(method):
    """Module-level alias ``tg.exp(x)`` of the Tensor method ``x.exp()``."""

    def call(x, *args, **kwargs):
        return getattr(_as_tensor(x), method)(*args, **kwargs)

    call.__name__ = method
    call.__doc__ = f"``tg.{method}(x)`` is ``x.{method}()`` for a Tensor or array-like ``x``."
    return call


exp, log, sqrt, abs, sin, cos, tanh = (_unary(n) for n in ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh"))
sigmoid, relu, leaky_relu, clip = (_unary(n) for n in ("sigmoid", "relu", "leaky_relu", "clip"))
sum, mean, var, max, min = (_unary(n) for n in ("sum", "mean", "var", "max", "min"))
logsumexp, softmax, log_softmax, argmax = (_unary(n) for n in ("logsumexp", "softmax", "log_softmax", "argmax"))
flatten, squeeze, expand_dims, pad = (_unary(n) for n in ("flatten", "squeeze", "expand_dims", "pad"))

function.tensor_namespace = sys.modules[__name__]  # what lib(g) returns for Tensors

__all__ = [
    "concatenate", "stack", "where", "maximum", "minimum", "matmul", "broadcast_to", "reshape", "transpose",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "clip",
    "sum", "mean", "var", "max", "min", "logsumexp", "softmax", "log_softmax", "argmax",
    "flatten", "squeeze", "expand_dims", "pad",
]
