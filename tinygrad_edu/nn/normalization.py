"""Layer normalisation: each sample standardised over its last few axes.

Unlike batch normalisation it needs no running statistics and behaves the same in
training and evaluation, one sample at a time:

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

with mean and (biased) variance over the trailing ``normalized_shape`` axes.
Composed from Tensor ops, so it is differentiable to any order.
"""
from __future__ import annotations

import numpy as np

from ..engine.function import ShapeError
from ..engine.tensor import Tensor, dtype_or_default
from .module import Module, Parameter, layer_input

__all__ = ["layer_norm", "LayerNorm"]


def _shape_tuple(normalized_shape):
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not shape or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape):
        raise ValueError(f"normalized_shape must be a positive int or a tuple of them, got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Standardise ``x`` over its trailing axes ``normalized_shape``, then scale and shift.

    x               (..., *normalized_shape)
    weight, bias    normalized_shape, or None (no scale / no shift)
    Returns a tensor of x's shape.
    """
    shape = _shape_tuple(normalized_shape)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ShapeError(f"layer_norm: input of shape {x.shape} does not end with normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    out = centered * (variance + eps) ** -0.5
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class LayerNorm(Module):
    """``layer_norm`` with a learned per-element scale (ones) and shift (zeros) of ``normalized_shape``.

    The scale and shift have ``dtype`` (default: ``tg.get_default_dtype()``); plain input data
    (an ndarray, a list) is cast to it, a Tensor of another float dtype is refused.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps = eps
        dtype = dtype_or_default(dtype)
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine else None

    def forward(self, x):
        shape, x_shape = self.normalized_shape, np.shape(x)
        if len(x_shape) < len(shape) or x_shape[len(x_shape) - len(shape):] != shape:
            raise ShapeError(f"{self!r}: input of shape {x_shape} does not end with {shape}")
        x = layer_input(x, self.weight, repr(self)) if self.weight is not None else _as_tensor(x)
        return layer_norm(x, shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
