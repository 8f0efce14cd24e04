"""Convolution and pooling on signals (N, C, L) and images (N, C, H, W), built on im2col.

``im2col`` copies every kernel-sized window of the (padded) input into a column
of its own: an (N, C, H, W) image becomes (N, C, kh, kw, OH, OW), that is, for
each image a (C*kh*kw, OH*OW) matrix with one column per output pixel. Then

* a convolution is ONE matrix product: the (O, C*kh*kw) flattened kernels times
  those columns gives (N, O, OH*OW), already in (N, C, H, W) order (with
  ``groups`` g, one product per group, batched: (g, O/g, C/g*kh*kw) times
  (N, g, C/g*kh*kw, OH*OW)),
* max pooling is a max over each window's kh*kw numbers, average pooling a sum
  divided by how many cells each window counts.

No Python loop visits a pixel: the windows are a strided view of the input
(``numpy.lib.stride_tricks.sliding_window_view``) and their gradients go back
with one strided slice-add per kernel offset (see ``Im2Col`` in engine/ops.py).
A dilated kernel (``dilation`` d) spans d*(k - 1) + 1 cells and reads every d-th:
its windows are the windows of that span with every d-th row and column kept.
The 1-D layers are the 2-D ones on signals seen as images of height 1.

Output size along each spatial axis, for input size H, kernel k, stride s,
dilation d and padding p_before + p_after:

    OH = (H + p_before + p_after - d*(k - 1) - 1) // s + 1

Pools with ``ceil_mode=True`` round that division up (a last, partial window),
as long as the window starts inside the input or its left padding (PyTorch's rule).
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import ops
from ..engine import random as _random
from ..engine.function import ShapeError
from ..engine.tensor import Tensor, dtype_or_default, get_default_dtype
from .module import Module, Parameter, layer_input

__all__ = ["im2col", "conv1d", "conv2d", "max_pool1d", "avg_pool1d", "max_pool2d", "avg_pool2d",
           "Conv1d", "Conv2d", "MaxPool1d", "AvgPool1d", "MaxPool2d", "AvgPool2d", "Flatten"]


# ----------------------------------------------------------------------------- arguments


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _ints(value, count, name, minimum=1):
    """An int or ``count`` ints -> a tuple of ``count`` ints, each at least ``minimum``."""
    values = (value,) * count if _is_int(value) else value
    if not isinstance(values, (tuple, list)) or len(values) != count or not all(_is_int(v) for v in values):
        form = "an int or a pair of ints" if count == 2 else "an int or a tuple of one int"
        raise TypeError(f"{name} must be {form}, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _paddings(value, count, name, kernel_size=None, dilation=None):
    """A padding argument -> one (before, after) pair per spatial axis.

    Accepts an int (every side), one entry per axis (an int for both sides, or a
    (before, after) pair for different ones), or, for convolutions (``kernel_size``
    given), ``"valid"`` (no padding) and ``"same"`` (the output as large as the input
    at stride 1: d*(k - 1) cells in all, the odd one after, as PyTorch does).
    """
    if isinstance(value, str) and kernel_size is not None and value in ("valid", "same"):
        if value == "valid":
            return ((0, 0),) * count
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    entries = (value,) * count if _is_int(value) else value
    pair = lambda v: isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(p) for p in v)  # noqa: E731
    if not isinstance(entries, (tuple, list)) or len(entries) != count or \
            not all(_is_int(v) or (pair(v) and kernel_size is not None) for v in entries):
        forms = ["an int", f"a tuple of {count} int(s)"]
        if kernel_size is not None:
            forms += [f"{count} (before, after) pair(s)", "'valid'", "'same'"]
        raise TypeError(f"{name} must be {', '.join(forms[:-1])} or {forms[-1]}, got {value!r}")
    pads = tuple((int(v), int(v)) if _is_int(v) else (int(v[0]), int(v[1])) for v in entries)
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{name} must be at least 0, got {value!r}")
    return pads


def _shown_padding(pads):
    """Padding as a layer stores and shows it: one int per axis when both sides agree, else the pairs."""
    return tuple(a for a, _ in pads) if all(a == b for a, b in pads) else pads


def _check_input(x, dims, where, channels=None):
    """Refuse anything but an (N, C, L) (``dims`` 1) or (N, C, H, W) (``dims`` 2) tensor."""
    layout = "(N, C, L)" if dims == 1 else "(N, C, H, W)"
    if x.ndim != dims + 2:
        raise ShapeError(f"{where}: expected an input of shape {layout}, got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ShapeError(f"{where}: expected {channels} input channel(s), got an input of shape {x.shape}")


def _spans(kernel_size, dilation):
    """How many cells each dilated kernel axis covers: d*(k - 1) + 1."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))


def _check_kernel_fits(shape, pads, kernel_size, dilation, where):
    sizes = [n + a + b for n, (a, b) in zip(shape[2:], pads)]
    spans = _spans(kernel_size, dilation)
    if any(span > size for span, size in zip(spans, sizes)):
        dilated = f" (dilated to {'x'.join(map(str, spans))})" if spans != tuple(kernel_size) else ""
        raise ShapeError(
            f"{where}: kernel {'x'.join(map(str, kernel_size))}{dilated} is larger than the padded input "
            f"{'x'.join(map(str, sizes))} (input shape {shape}, padding {_shown_padding(pads)})"
        )


def _as_image(x, dims):
    """(N, C, L) -> (N, C, 1, L), so the 1-D layers can run as 2-D ones; images pass through."""
    return x if dims == 2 else x.reshape(x.shape[:2] + (1,) + x.shape[2:])


def _image_shape(shape, dims):
    """The shape ``_as_image`` gives."""
    return shape if dims == 2 else shape[:2] + (1,) + shape[2:]


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


# ----------------------------------------------------------------------------- windows


def im2col(x: Tensor, kernel_size, stride=1, dilation=1) -> Tensor:
    """Every window of an (N, C, H, W) tensor: shape (N, C, kh, kw, OH, OW).

    ``out[n, :, :, :, i, j]`` is the (C, kh, kw) patch the kernel sees at output pixel
    (i, j): ``x[n, :, i*sh : i*sh + dh*(kh - 1) + 1 : dh, j*sw : j*sw + dw*(kw - 1) + 1 : dw]``.
    Differentiable to any order.
    """
    _check_input(x, 2, "im2col")
    kernel_size, dilation = _ints(kernel_size, 2, "im2col: kernel_size"), _ints(dilation, 2, "im2col: dilation")
    cols = ops.Im2Col.apply(x, kernel_size=_spans(kernel_size, dilation), stride=_ints(stride, 2, "im2col: stride"))
    # a dilated kernel: the windows of its whole span, every d-th row and column
    return cols if dilation == (1, 1) else cols[:, :, ::dilation[0], ::dilation[1]]


def _windows(x, kernel_size, stride, dilation, pads, where, pad_value=0.0):
    """Pad (N, C, H, W) by ``pads``, checking the kernel fits, then take its windows (see ``im2col``)."""
    _check_kernel_fits(x.shape, pads, kernel_size, dilation, where)
    if any(a or b for a, b in pads):
        x = x.pad(((0, 0), (0, 0)) + tuple(pads), value=pad_value)
    return im2col(x, kernel_size, stride, dilation)


# ----------------------------------------------------------------------------- convolution


def _conv(x, weight, bias, stride, pads, dilation, groups, where):
    """The convolution of (N, C, H, W) by (O, C/groups, kh, kw), once its arguments are checked."""
    out_channels, group_channels, kh, kw = weight.shape
    cols = _windows(x, (kh, kw), stride, dilation, pads, where)  # (N, C, kh, kw, OH, OW)
    n, out_h, out_w = cols.shape[0], cols.shape[4], cols.shape[5]
    # The one matrix product, all images and groups at once:
    # (g, O/g, C/g*kh*kw) @ (N, g, C/g*kh*kw, OH*OW) -> (N, g, O/g, OH*OW)
    patch = group_channels * kh * kw
    out = weight.reshape(groups, out_channels // groups, patch) @ cols.reshape(n, groups, patch, out_h * out_w)
    out = out.reshape(n, out_channels, out_h, out_w)
    return out if bias is None else out + bias.reshape(out_channels, 1, 1)


def _conv_nd(dims, op, x, weight, bias, stride, padding, dilation, groups):
    """conv1d / conv2d: check the arguments, then run ``_conv`` (1-D signals as images of height 1)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor (a learned parameter), got {type(weight).__name__}")
    if weight.ndim != dims + 2:
        kernel = "k" if dims == 1 else "kh, kw"
        raise ShapeError(f"{op}: weight must have shape (out_channels, in_channels / groups, {kernel}), "
                         f"got {weight.shape}")
    x = x if isinstance(x, Tensor) else np.asarray(x)
    out_channels, group_channels = weight.shape[:2]
    if not _is_int(groups) or groups < 1 or out_channels % groups:
        raise ValueError(f"{op}: groups must be a positive int dividing out_channels {out_channels}, got {groups!r}")
    _check_input(x, dims, op, group_channels * groups)
    if bias is not None and bias.shape != (out_channels,):
        raise ShapeError(f"{op}: bias must have shape ({out_channels},) for weight {weight.shape}, got {bias.shape}")
    kernel_size = weight.shape[2:]
    stride, dilation = _ints(stride, dims, f"{op}: stride"), _ints(dilation, dims, f"{op}: dilation")
    pads = _paddings(padding, dims, f"{op}: padding", kernel_size, dilation)
    if isinstance(padding, str) and padding == "same" and stride != (1,) * dims:
        raise ValueError(f"{op}: padding='same' needs stride 1 (got stride {stride}); give the padding as numbers")
    _check_kernel_fits(x.shape, pads, kernel_size, dilation, op)
    x = layer_input(x, weight, op)  # plain data in the weight's dtype; another float dtype is refused
    if dims == 1:
        x, weight = _as_image(x, 1), weight.reshape(weight.shape[:2] + (1,) + kernel_size)
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    out = _conv(x, weight, bias, stride, pads, dilation, int(groups), op)
    return out if dims == 2 else out.reshape(out.shape[:2] + out.shape[3:])


def conv2d(x, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    x         (N, C, H, W)             a Tensor, or an array (cast to the weight's dtype)
    weight    (O, C / groups, kh, kw)  one kernel per output channel
    bias      (O,) or None
    stride, dilation: an int or an (along H, along W) pair.
    padding:  zeros added around the image: an int, an (along H, along W) pair, two
              (before, after) pairs ``((top, bottom), (left, right))``, ``"valid"`` (none)
              or ``"same"`` (output as large as the input; stride 1 only).
    groups:   channels split into ``groups`` independent convolutions: output channels
              o * groups // O read only input channels of that group (``groups=C``,
              O = C: one kernel per channel, a depthwise convolution).
    Returns (N, O, OH, OW) with out[n, o, i, j] = bias[o] + sum over c, p, q of
    weight[o, c, p, q] * x_padded[n, g*C/groups + c, i*sh + p*dh, j*sw + q*dw], g = o // (O / groups).
    """
    return _conv_nd(2, "conv2d", x, weight, bias, stride, padding, dilation, groups)


def conv1d(x, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) of a batch of signals: ``conv2d`` along one axis.

    x (N, C, L), weight (O, C / groups, k), bias (O,) or None -> (N, O, OL).
    ``stride`` and ``dilation`` are an int; ``padding`` an int, a ``((before, after),)``
    tuple, ``"valid"`` or ``"same"``; ``groups`` as in ``conv2d``.
    """
    return _conv_nd(1, "conv1d", x, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------- pooling


def _pool_size(size, kernel, stride, padding, dilation, ceil_mode):
    """(output size, cells the last window reaches past the padded input) along one axis, as PyTorch sizes it."""
    span = size + 2 * padding - (dilation * (kernel - 1) + 1)
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # a last window starting in the right padding: dropped
        out -= 1
    return out, max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - (size + 2 * padding))


class _PoolArgs:
    """A pool's checked arguments: kernel, stride (default: the kernel), padding, dilation, ceil_mode."""

    def __init__(self, dims, where, kernel_size, stride, padding, dilation=1, ceil_mode=False):
        self.kernel_size = _ints(kernel_size, dims, f"{where}: kernel_size")
        self.stride = self.kernel_size if stride is None else _ints(stride, dims, f"{where}: stride")
        self.padding = _ints(padding, dims, f"{where}: padding", minimum=0)
        self.dilation = _ints(dilation, dims, f"{where}: dilation")
        if not isinstance(ceil_mode, (bool, np.bool_)):
            raise TypeError(f"{where}: ceil_mode must be True or False, got {ceil_mode!r}")
        self.ceil_mode = bool(ceil_mode)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            # a window made only of padding would have nothing to pool
            raise ValueError(f"{where}: padding {self.padding} must be at most half the kernel size {self.kernel_size}")


def _pooled_windows(x, dims, args, where, pad_value):
    """(N, C, [H,] W) -> (windows (N, C, kh*kw, OH, OW), the extra cells a ceil-mode last window reaches)."""
    _check_input(x, dims, where)
    _check_kernel_fits(x.shape, [(p, p) for p in args.padding], args.kernel_size, args.dilation, where)
    image = _as_image(x, dims)
    lead = 2 - dims  # the height axis of a 1-D signal: one cell, no padding
    kernel, stride, dilation = ((1,) * lead + v for v in (args.kernel_size, args.stride, args.dilation))
    padding = (0,) * lead + args.padding
    sizes = [_pool_size(n, k, s, p, d, args.ceil_mode)
             for n, k, s, p, d in zip(image.shape[2:], kernel, stride, padding, dilation)]
    pads = [(p, p + extra) for p, (_, extra) in zip(padding, sizes)]
    cols = _windows(image, kernel, stride, dilation, pads, where, pad_value)
    n, channels, _, _, out_h, out_w = cols.shape
    return cols.reshape(n, channels, kernel[0] * kernel[1], out_h, out_w), (kernel, stride, padding)


def _squeezed(out, dims):
    """(N, C, 1, OL) back to (N, C, OL) for the 1-D pools."""
    return out if dims == 2 else out.reshape(out.shape[:2] + out.shape[3:])


def _lowest(dtype):
    """The value max pooling pads with, never picked: -inf, or the integer dtype's minimum."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


def _max_pool(dims, where, x, kernel_size, stride, padding, dilation, ceil_mode):
    x = _tensor(x)
    args = _PoolArgs(dims, where, kernel_size, stride, padding, dilation, ceil_mode)
    windows, _ = _pooled_windows(x, dims, args, where, _lowest(x.dtype))
    return _squeezed(windows.max(axis=2), dims)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> Tensor:
    """The largest value in each kh x kw window: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size`` (windows side by side); ``padding`` (at most
    half the kernel) is -inf, so it is never picked; ``dilation`` spaces the window's
    cells; ``ceil_mode`` keeps a last, partial window. Integer inputs give integers
    (exact). The gradient goes to each window's maximum (ties share it).
    """
    return _max_pool(2, "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> Tensor:
    """The largest value in each window of k: (N, C, L) -> (N, C, OL). See ``max_pool2d``."""
    return _max_pool(1, "max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode)


def _window_counts(size, kernel, stride, padding, out, count_include_pad):
    """How many cells each of the ``out`` windows along one axis averages over (PyTorch's divisor).

    A window starts at i*s - p and ends at i*s - p + k, cut at the end of the padded
    input (a ceil-mode window's overhang never counts); without ``count_include_pad``
    only the input's own cells count.
    """
    starts = np.arange(out) * stride - padding
    ends = np.minimum(starts + kernel, size + padding)
    if count_include_pad:
        return ends - starts
    return np.minimum(ends, size) - np.maximum(starts, 0)


def _avg_pool(dims, where, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x = _tensor(x)
    if x.dtype.kind != "f":  # the mean of integers is a fraction: the default float dtype, as for Tensor.mean
        x = x.astype(get_default_dtype())
    args = _PoolArgs(dims, where, kernel_size, stride, padding, ceil_mode=ceil_mode)
    windows, (kernel, stride, padding) = _pooled_windows(x, dims, args, where, 0.0)
    out_sizes = windows.shape[3:]
    if divisor_override is not None:
        if not _is_int(divisor_override) or divisor_override < 1:
            raise ValueError(f"{where}: divisor_override must be a positive int, got {divisor_override!r}")
        divisor = np.asarray(divisor_override)
    else:
        counts = [_window_counts(n, k, s, p, out, count_include_pad)
                  for n, k, s, p, out in zip(_image_shape(x.shape, dims)[2:], kernel, stride, padding, out_sizes)]
        divisor = np.outer(counts[0], counts[1])
    return _squeezed(windows.sum(axis=2) * (1.0 / divisor).astype(x.dtype), dims)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:
    """The mean of each kh x kw window: (N, C, H, W) -> (N, C, OH, OW).

    ``stride`` defaults to ``kernel_size``. Padding (at most half the kernel) is zeros,
    and counts in the mean unless ``count_include_pad=False`` (then each window divides
    by its number of input cells); ``ceil_mode`` keeps a last, partial window, which
    divides by the cells it covers inside the padded input; ``divisor_override``
    replaces every divisor. Integer inputs give the default float dtype (PyTorch
    truncates the means to integers instead).
    """
    return _avg_pool(2, "avg_pool2d", x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True) -> Tensor:
    """The mean of each window of k: (N, C, L) -> (N, C, OL). See ``avg_pool2d``."""
    return _avg_pool(1, "avg_pool1d", x, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


# ----------------------------------------------------------------------------- modules


class _ConvNd(Module):
    """Shared by Conv1d and Conv2d: the arguments, the He-normal weight, the repr.

    ``dtype`` is the parameters' (default: ``tg.get_default_dtype()``): plain input data is cast
    to it, a Tensor of another float dtype is refused.
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, dtype=None):
        super().__init__()
        name = type(self).__name__
        for label, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name}: {label} must be a positive int, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _ints(kernel_size, self.dims, f"{name}: kernel_size")
        self.stride = _ints(stride, self.dims, f"{name}: stride")
        self.dilation = _ints(dilation, self.dims, f"{name}: dilation")
        pads = _paddings(padding, self.dims, f"{name}: padding", self.kernel_size, self.dilation)
        if isinstance(padding, str) and padding == "same" and self.stride != (1,) * self.dims:
            raise ValueError(f"{name}: padding='same' needs stride 1 (got stride {self.stride})")
        self.padding = padding if isinstance(padding, str) else _shown_padding(pads)
        dtype = dtype_or_default(dtype)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        self.weight = Parameter(_random.draw("standard_normal", shape, dtype=dtype) * math.sqrt(2.0 / fan_in))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def forward(self, x):
        return _conv_nd(self.dims, repr(self), x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        one = lambda v: v[0] if self.dims == 1 else v  # noqa: E731
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={one(self.kernel_size)}, stride={one(self.stride)}"
        if isinstance(self.padding, str) or any(self.padding):
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={one(self.dilation)}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(_ConvNd):
    """A learned 2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW). See ``conv2d``.

    weight  (out_channels, in_channels / groups, kh, kw), He-normal: std sqrt(2 / fan_in) with
            fan_in = in_channels / groups * kh * kw, drawn from the seeded generator (tg.manual_seed)
    bias    (out_channels,), zeros; None with ``bias=False``
    stride, padding, dilation, groups: as in ``conv2d``.
    """


class Conv1d(_ConvNd):
    """A learned 1-D convolution: (N, in_channels, L) -> (N, out_channels, OL). See ``conv1d``.

    weight  (out_channels, in_channels / groups, k), He-normal as ``Conv2d``'s; bias (out_channels,) or None.
    """

    dims = 1


class _Pool(Module):
    """Shared by the pooling layers: kernel size, stride (default: the kernel size), padding, ceil_mode."""

    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        args = _PoolArgs(self.dims, type(self).__name__, kernel_size, stride, padding, ceil_mode=ceil_mode)
        self.kernel_size, self.stride, self.padding = args.kernel_size, args.stride, args.padding
        self.ceil_mode = args.ceil_mode

    def extra_repr(self) -> str:
        one = lambda v: v[0] if self.dims == 1 else v  # noqa: E731
        text = f"kernel_size={one(self.kernel_size)}, stride={one(self.stride)}, padding={one(self.padding)}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")


class _MaxPool(_Pool):
    function = staticmethod(max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = _ints(dilation, self.dims, f"{type(self).__name__}: dilation")

    def forward(self, x):
        return type(self).function(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        dilation = self.dilation[0] if self.dims == 1 else self.dilation
        return super().extra_repr() + (f", dilation={dilation}" if self.dilation != (1,) * self.dims else "")


class _AvgPool(_Pool):
    function = staticmethod(avg_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        return type(self).function(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                   self.count_include_pad)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")


class MaxPool2d(_MaxPool):
    """Max over each window: (N, C, H, W) -> (N, C, OH, OW). See ``max_pool2d``."""


class AvgPool2d(_AvgPool):
    """Mean over each window: (N, C, H, W) -> (N, C, OH, OW). See ``avg_pool2d``."""


class MaxPool1d(_MaxPool):
    """Max over each window: (N, C, L) -> (N, C, OL). See ``max_pool1d``."""

    dims = 1
    function = staticmethod(max_pool1d)


class AvgPool1d(_AvgPool):
    """Mean over each window: (N, C, L) -> (N, C, OL). See ``avg_pool1d``."""

    dims = 1
    function = staticmethod(avg_pool1d)


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
