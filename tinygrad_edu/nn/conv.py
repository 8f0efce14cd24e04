"""Convolution and pooling on images of shape (N, C, H, W), built on im2col.

``im2col`` copies every kernel-sized window of the (padded) input into a column
of its own: an (N, C, H, W) image becomes (N, C, kh, kw, OH, OW), that is, for
each image a (C*kh*kw, OH*OW) matrix with one column per output pixel. Then

* a convolution is ONE matrix product: the (O, C*kh*kw) flattened kernels times
  those columns gives (N, O, OH*OW), already in (N, C, H, W) order,
* max pooling is a max over each window's kh*kw numbers, average pooling a mean.

No Python loop visits a pixel: the windows are a strided view of the input
(``numpy.lib.stride_tricks.sliding_window_view``) and their gradients go back
with one strided slice-add per kernel offset (see ``Im2Col`` in engine/ops.py).

Output size along each spatial axis, for input size H, kernel k, stride s and
padding p on both sides:  OH = (H + 2p - k) // s + 1.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import ops
from ..engine import random as _random
from ..engine.function import ShapeError
from ..engine.tensor import Tensor, get_default_dtype
from .module import Module, Parameter, layer_input

__all__ = ["im2col", "conv2d", "max_pool2d", "avg_pool2d", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten"]


def _pair(value, name, minimum=1):
    """An int or a pair of ints -> (height, width), each at least ``minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    is_int = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)  # noqa: E731
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(is_int(v) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_images(x, where, channels=None):
    """Refuse anything but an (N, C, H, W) tensor (with ``channels`` channels, if given)."""
    if x.ndim != 4:
        raise ShapeError(f"{where}: expected an input of shape (N, C, H, W), got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ShapeError(f"{where}: expected {channels} input channel(s), got an input of shape {x.shape}")


def _check_kernel_fits(shape, padding, kernel_size, where):
    (ph, pw), (kh, kw) = padding, kernel_size
    height, width = shape[2] + 2 * ph, shape[3] + 2 * pw
    if kh > height or kw > width:
        raise ShapeError(
            f"{where}: kernel {kh}x{kw} is larger than the padded input {height}x{width} "
            f"(input shape {shape}, padding {padding})"
        )


def _padded(x, padding, where, kernel_size, value=0.0):
    """``x`` with ``padding`` rows/columns of ``value`` on each side; checks the kernel fits."""
    _check_kernel_fits(x.shape, padding, kernel_size, where)
    ph, pw = padding
    if ph or pw:
        x = x.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), value=value)
    return x


def im2col(x: Tensor, kernel_size, stride=1) -> Tensor:
    """Every window of an (N, C, H, W) tensor: shape (N, C, kh, kw, OH, OW).

    ``out[n, :, :, :, i, j]`` is the (C, kh, kw) patch the kernel sees at output pixel
    (i, j): ``x[n, :, i*sh : i*sh + kh, j*sw : j*sw + kw]``. Differentiable to any order.
    """
    _check_images(x, "im2col")
    return ops.Im2Col.apply(x, kernel_size=_pair(kernel_size, "im2col: kernel_size"),
                            stride=_pair(stride, "im2col: stride"))


def conv2d(x, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    x       (N, C, H, W)     a Tensor, or an array (cast to the weight's dtype)
    weight  (O, C, kh, kw)   one (C, kh, kw) kernel per output channel
    bias    (O,) or None
    stride, padding: an int or an (along H, along W) pair; padding adds zeros.
    Returns (N, O, OH, OW) with out[n, o, i, j] = bias[o] + sum over c, p, q of
    weight[o, c, p, q] * x_padded[n, c, i*sh + p, j*sw + q].
    """
    x = x if isinstance(x, Tensor) else np.asarray(x)
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must have shape (out_channels, in_channels, kh, kw), got {weight.shape}")
    out_channels, in_channels, kh, kw = weight.shape
    _check_images(x, "conv2d", in_channels)
    if bias is not None and bias.shape != (out_channels,):
        raise ShapeError(f"conv2d: bias must have shape ({out_channels},) for weight {weight.shape}, got {bias.shape}")
    x = layer_input(x, weight, "conv2d")
    stride, padding = _pair(stride, "conv2d: stride"), _pair(padding, "conv2d: padding", minimum=0)
    cols = im2col(_padded(x, padding, "conv2d", (kh, kw)), (kh, kw), stride)  # (N, C, kh, kw, OH, OW)
    n, out_h, out_w = cols.shape[0], cols.shape[4], cols.shape[5]
    # The one matrix product, all images at once: (O, C*kh*kw) @ (N, C*kh*kw, OH*OW) -> (N, O, OH*OW)
    patch = in_channels * kh * kw
    out = weight.reshape(out_channels, patch) @ cols.reshape(n, patch, out_h * out_w)
    out = out.reshape(n, out_channels, out_h, out_w)
    return out if bias is None else out + bias.reshape(out_channels, 1, 1)


def _pool_windows(x, kernel_size, stride, padding, where, pad_value):
    """(N, C, H, W) -> (N, C, kh*kw, OH, OW): each output pixel's window along axis 2."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    _check_images(x, where)
    kernel_size = _pair(kernel_size, f"{where}: kernel_size")
    stride = kernel_size if stride is None else _pair(stride, f"{where}: stride")
    padding = _pair(padding, f"{where}: padding", minimum=0)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        # a window made only of padding would have nothing to pool
        raise ValueError(f"{where}: padding {padding} must be at most half the kernel size {kernel_size}")
    cols = im2col(_padded(x, padding, where, kernel_size, pad_value), kernel_size, stride)
    n, channels, _, _, out_h, out_w = cols.shape
    return cols.reshape(n, channels, kernel_size[0] * kernel_size[1], out_h, out_w)


def max_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """The largest value in each kh x kw window: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size`` (windows side by side). Padding is -inf,
    so it is never picked. The gradient goes to each window's maximum (ties share it).
    """
    windows = _pool_windows(x, kernel_size, stride, padding, "max_pool2d", -np.inf)
    return windows.max(axis=2)


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """The mean of each kh x kw window: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``. Padding is zeros and counts in the mean
    (PyTorch's default, ``count_include_pad=True``).
    """
    windows = _pool_windows(x, kernel_size, stride, padding, "avg_pool2d", 0.0)
    return windows.mean(axis=2)


# ----------------------------------------------------------------------------- modules


class Conv2d(Module):
    """A learned 2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW).

    weight  (out_channels, in_channels, kh, kw), He-normal: std sqrt(2 / fan_in) with
            fan_in = in_channels * kh * kw, drawn from the seeded generator (tg.manual_seed)
    bias    (out_channels,), zeros; None with ``bias=False``
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "Conv2d: kernel_size")
        self.stride = _pair(stride, "Conv2d: stride")
        self.padding = _pair(padding, "Conv2d: padding", minimum=0)
        dtype = get_default_dtype()
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.weight = Parameter(_random.draw("standard_normal", shape, dtype=dtype) * math.sqrt(2.0 / fan_in))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def forward(self, x):
        x = x if isinstance(x, Tensor) else np.asarray(x)
        _check_images(x, repr(self), self.in_channels)
        _check_kernel_fits(x.shape, self.padding, self.kernel_size, repr(self))
        x = layer_input(x, self.weight, repr(self))
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


class _Pool2d(Module):
    """Shared by the pooling layers: kernel size, stride (default: the kernel size), padding."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, f"{name}: kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{name}: stride")
        self.padding = _pair(padding, f"{name}: padding", minimum=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over each window: (N, C, H, W) -> (N, C, OH, OW). See ``max_pool2d``."""

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over each window: (N, C, H, W) -> (N, C, OH, OW). See ``avg_pool2d``."""

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        ndim = x.ndim
        if not (-ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim) or \
                self.start_dim % ndim > self.end_dim % ndim:
            raise ShapeError(f"{self!r}: cannot flatten dims {self.start_dim}..{self.end_dim} of shape {x.shape}")
        start, end = self.start_dim % ndim, self.end_dim % ndim
        merged = int(np.prod(x.shape[start:end + 1]))
        return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
