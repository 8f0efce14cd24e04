"""Layer and group normalisation: each sample standardised on its own.

Unlike batch normalisation they need no running statistics and behave the same in
training and evaluation, one sample at a time:

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

with mean and (biased) variance over the trailing ``normalized_shape`` axes (layer
norm), or over each group of channels and all their positions (group norm).
Composed from Tensor ops, so they are differentiable to any order.
"""
from __future__ import annotations

import numpy as np

from ..engine.function import ShapeError
from ..engine.tensor import Tensor, dtype_or_default
from .module import Module, Parameter, layer_input

__all__ = ["layer_norm", "LayerNorm", "group_norm", "GroupNorm"]


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
    out = _standardised(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _standardised(x, axes, eps):
    """(x - mean) / sqrt(var + eps), with the mean and the biased variance over ``axes``."""
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    return centered * (variance + eps) ** -0.5


def _layer_input(x, weight, layer) -> Tensor:
    """With a scale, plain data takes its dtype (another float dtype is refused); without, x keeps its own."""
    if weight is not None:
        return layer_input(x, weight, layer)
    return x if isinstance(x, Tensor) else Tensor(x)


class LayerNorm(Module):
    """``layer_norm`` with a learned per-element scale (ones) and shift (zeros) of ``normalized_shape``.

    The scale and shift have ``dtype`` (default: ``tg.get_default_dtype()``): plain input data
    is cast to it, a Tensor of another float dtype is refused.
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
        return layer_norm(_layer_input(x, self.weight, self), shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


def _check_groups(where, num_groups, channels):
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or channels % num_groups:
        raise ValueError(f"{where}: num_groups must be a positive int dividing the {channels} channels, "
                         f"got {num_groups!r}")


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Standardise each sample's channels in ``num_groups`` groups, then scale and shift per channel.

    x             (N, C, ...): the C channels split into num_groups groups of C / num_groups
                  consecutive channels; each group of each sample is standardised over its
                  channels and all their positions (mean and biased variance)
    weight, bias  (C,) or None
    Returns a tensor of x's shape. ``num_groups=1`` standardises each sample as a whole;
    ``num_groups=C`` each channel on its own (instance normalisation).
    """
    if x.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, ...), got shape {x.shape}")
    n, channels = x.shape[:2]
    _check_groups("group_norm", num_groups, channels)
    grouped = x.reshape(n, int(num_groups), -1) if x.size else x.reshape(n, int(num_groups), 0)
    out = _standardised(grouped, (2,), eps).reshape(x.shape)
    per_channel = (channels,) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


class GroupNorm(Module):
    """``group_norm`` with a learned per-channel scale (ones) and shift (zeros) of shape (num_channels,).

    The scale and shift have ``dtype`` (default: ``tg.get_default_dtype()``), as ``LayerNorm``'s.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=None):
        super().__init__()
        if not isinstance(num_channels, (int, np.integer)) or num_channels < 1:
            raise ValueError(f"GroupNorm: num_channels must be a positive int, got {num_channels!r}")
        _check_groups("GroupNorm", num_groups, num_channels)
        self.num_groups, self.num_channels, self.eps = int(num_groups), int(num_channels), eps
        dtype = dtype_or_default(dtype)
        self.weight = Parameter(np.ones(self.num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype)) if affine else None

    def forward(self, x):
        x = x if isinstance(x, Tensor) else np.asarray(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.num_channels}, ...), got shape {x.shape}")
        return group_norm(_layer_input(x, self.weight, self), self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.weight is not None}"
