"""The primitive ops: each one's forward and its vector-Jacobian product, side by side.

Reading guide: ``g`` is the upstream gradient (shape of ``out``), ``x``/``y`` the
inputs, ``out`` the result. The first docstring line of each class is its math,
and is what ``tg.trace_backward`` shows as the rule applied. ``forward`` saves
exactly what ``backward`` reads (``self.save``); backward receives it after ``g``.

A backward may return a gradient with the *broadcast* shape of the output: the
engine sums it back to the input's exact shape in one place (``sum_to_shape``).
Everything not here is composed from these in ``composed.py``. The few ops that
could be composed but are primitives say why (speed or numerical stability).

Movement ops return a view of their input, read-only: writing through it would
change the input behind the back of any graph that saved it.
"""
from __future__ import annotations

import numpy as np

from .function import Function, ShapeError, lib, raw


def normalize_axes(axis, ndim, op):
    """Turn ``axis`` (None, int or tuple, negative allowed) into a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimension(s)")
        result.append(int(a) % max(ndim, 1))
    if len(set(result)) != len(result):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result)) if ndim else ()


def _own_copy(attr):
    """``attr`` with its arrays copied, for an op whose backward reads it (an index, a clip bound):
    the caller may change its array before backward runs (a loader refilling a label buffer)."""
    if isinstance(attr, tuple):
        return tuple(_own_copy(a) for a in attr)
    return attr.copy() if isinstance(attr, np.ndarray) else attr


def _read_only_view(result, x):
    """``result`` made read-only when it is a view of ``x``'s memory."""
    if result.base is not None and isinstance(x, np.ndarray) and result.flags.writeable:
        result.flags.writeable = False
    return result


def _expand_reduced(g, in_shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input again."""
    if not keepdims and g.ndim:  # a 0-d gradient (everything reduced) broadcasts as it is
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(in_shape)))
    return g


# ----------------------------------------------------------------------------- unary


class Neg(Function):
    """out = -x;  dx = -g"""

    def forward(self, x):
        return np.negative(x)

    def backward(self, g):
        return (-g,)


class Exp(Function):
    """out = exp(x);  dx = g * out"""

    def forward(self, x):
        out = np.exp(x)
        self.save(out)
        return out

    def backward(self, g, out):
        return (g * out,)


class Log(Function):
    """out = log(x);  dx = g / x"""

    def forward(self, x):
        self.save(x)
        return np.log(x)

    def backward(self, g, x):
        return (g / x,)


class Sin(Function):
    """out = sin(x);  dx = g * cos(x)"""

    def forward(self, x):
        self.save(x)
        return np.sin(x)

    def backward(self, g, x):
        return (g * lib(g).cos(x),)


class Cos(Function):
    """out = cos(x);  dx = -g * sin(x)"""

    def forward(self, x):
        self.save(x)
        return np.cos(x)

    def backward(self, g, x):
        return (-g * lib(g).sin(x),)


class Tanh(Function):
    """out = tanh(x);  dx = g * (1 - out**2)"""

    # Primitive for stability: composing it from exp overflows for |x| > ~89 (float32).
    def forward(self, x):
        out = np.tanh(x)
        self.save(out)
        return out

    def backward(self, g, out):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x));  dx = g * out * (1 - out)"""

    # Primitive for stability: exp(-|x|) never overflows, so no clipping is needed.
    def forward(self, x):
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save(out)
        return out

    def backward(self, g, out):
        return (g * out * (1 - out),)


class Relu(Function):
    """out = max(x, 0);  dx = g * (out > 0)"""

    # Primitive for speed: it sits in every hidden layer. Backward reads out (out > 0
    # exactly where x > 0), which the next layer's matmul saves anyway, so the node
    # saves no array of its own. (It still holds x as its input, like every node.)
    def forward(self, x):
        out = np.maximum(x, 0)
        self.save(out)
        return out

    def backward(self, g, out):
        return (g * (raw(out) > 0),)


class LeakyRelu(Function):
    """out = x if x > 0 else alpha * x;  dx = g * (1 if x > 0 else alpha)"""

    def forward(self, x, alpha=0.01):
        self.alpha = alpha
        self.save(x)
        return np.where(x > 0, x, x * alpha)

    def backward(self, g, x):
        return (g * np.where(raw(x) > 0, 1.0, self.alpha).astype(raw(g).dtype, copy=False),)


class Abs(Function):
    """out = |x|;  dx = g * sign(x)   (0 at x = 0, as PyTorch)"""

    def forward(self, x):
        self.save(x)
        return np.abs(x)

    def backward(self, g, x):
        return (g * np.sign(raw(x)),)


class Clip(Function):
    """out = min(max(x, lo), hi);  dx = g * (lo <= x <= hi)"""

    def forward(self, x, lo=None, hi=None):
        self.lo, self.hi = _own_copy(lo), _own_copy(hi)
        self.save(x)
        return np.clip(x, lo, hi)

    def backward(self, g, x):
        x = raw(x)
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (g * inside,)


class Step(Function):
    """out = f(x) for a piecewise-constant f (sign, round, floor, ...);  dx = 0"""

    def forward(self, x, fn=np.sign, **options):
        return fn(x, **options)

    def backward(self, g):
        return (g * 0,)


class Cast(Function):
    """out = x.astype(dtype);  dx = g.astype(x.dtype)"""

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g):
        return (g,)  # the engine casts every gradient to its input's dtype


# ----------------------------------------------------------------------------- binary (broadcasting)


class Add(Function):
    """out = x + y;  dx = g;  dy = g"""

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, g):
        return g, g


class Sub(Function):
    """out = x - y;  dx = g;  dy = -g"""

    def forward(self, x, y):
        return np.subtract(x, y)

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """out = x * y;  dx = g * y;  dy = g * x"""

    def forward(self, x, y):
        self.save(x, y)
        return np.multiply(x, y)

    def backward(self, g, x, y):
        nx, ny = self.needs_input_grad
        return (g * y if nx else None), (g * x if ny else None)


class Div(Function):
    """out = x / y;  dx = g / y;  dy = -g * out / y"""

    def forward(self, x, y):
        out = np.true_divide(x, y)
        self.save(y, out)
        return out

    def backward(self, g, y, out):
        gx = g / y
        return gx, (-gx * out if self.needs_input_grad[1] else None)


class Pow(Function):
    """out = x ** y;  dx = g * y * x ** (y - 1);  dy = g * out * log(x)   (0 where y == 0, resp. x == 0, as PyTorch)"""

    def forward(self, x, y):
        out = np.power(x, y).astype(np.result_type(x, y), copy=False)  # NumPy's power gives int8 for two bools
        self.save(x, y, out)
        return out

    def backward(self, g, x, y, out):
        nx, ny = self.needs_input_grad
        where = lib(g).where
        # Where the formula gives 0 * inf, PyTorch takes 0: x ** 0 has dx = 0 at x = 0, 0 ** y (y >= 0) has dy = 0.
        zero_y, zero_x = raw(y) == 0, (raw(x) == 0) & (raw(y) >= 0)
        gx = g * y * x ** ((where(zero_y, 1, y) if np.any(zero_y) else y) - 1) if nx else None
        gy = g * out * lib(x).log(where(zero_x, 1, x) if np.any(zero_x) else x) if ny else None  # x may be a number
        return gx, gy


class Maximum(Function):
    """out = max(x, y);  dx = g * [x > y] + g/2 * [x == y];  dy likewise"""

    def forward(self, x, y):
        self.save(x, y)
        return np.maximum(x, y)

    def backward(self, g, x, y):
        share_x = _share(raw(x), raw(y), raw(g).dtype)
        return g * share_x, g * (1 - share_x)


class Minimum(Function):
    """out = min(x, y);  dx = g * [x < y] + g/2 * [x == y];  dy likewise"""

    def forward(self, x, y):
        self.save(x, y)
        return np.minimum(x, y)

    def backward(self, g, x, y):
        share_y = _share(raw(x), raw(y), raw(g).dtype)
        return g * (1 - share_y), g * share_y


def _share(x, y, dtype):
    """1 where x > y, 1/2 where they tie, 0 elsewhere: x's share of a max's gradient."""
    return ((x > y) + 0.5 * (x == y)).astype(dtype, copy=False)


class Where(Function):
    """out = where(c, x, y);  dx = g * c;  dy = g * !c   (c is a constant mask)"""

    def forward(self, cond, x, y):
        self.save(cond)
        return np.where(cond, x, y)

    def backward(self, g, cond):
        where = lib(g).where
        _, nx, ny = self.needs_input_grad
        return None, (where(cond, g, 0.0) if nx else None), (where(cond, 0.0, g) if ny else None)


class MatMul(Function):
    """out = x @ y;  dx = g @ y.T;  dy = x.T @ g   (batched; 1-D operands promoted)"""

    def forward(self, x, y):
        self.save(x, y)
        try:
            return np.matmul(x, y)
        except ValueError:  # explained here, not checked up front: the check would cost every call
            if np.ndim(x) == 0 or np.ndim(y) == 0:
                raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {np.shape(x)} and {np.shape(y)}") from None
            raise ShapeError(
                f"matmul: shapes {np.shape(x)} and {np.shape(y)} do not align "
                f"(inner dimensions {np.shape(x)[-1]} and {np.shape(y)[-2 if np.ndim(y) > 1 else 0]}, "
                f"batch dimensions must broadcast)"
            ) from None

    def backward(self, g, x, y):
        nx, ny = self.needs_input_grad
        x_vec, y_vec = x.ndim == 1, y.ndim == 1
        if y_vec:  # y as a column (n, 1): out gains a trailing axis
            y, g = y.reshape((-1, 1)), g.reshape(g.shape + (1,))
        if x_vec:  # x as a row (1, n): out gains an axis before the last
            x, g = x.reshape((1, -1)), g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        gx = g @ y.swapaxes(-1, -2) if nx else None
        gy = x.swapaxes(-1, -2) @ g if ny else None
        # drop the promoted axes again; the engine then sums any batch axes away
        if x_vec and nx:
            gx = gx.reshape(gx.shape[:-2] + gx.shape[-1:])
        if y_vec and ny:
            gy = gy.reshape(gy.shape[:-1])
        return gx, gy


# ----------------------------------------------------------------------------- reductions


class Sum(Function):
    """out = sum(x, axis);  dx = broadcast(g)"""

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims, self.shape = normalize_axes(axis, x.ndim, "sum"), keepdims, x.shape
        return np.add.reduce(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return (BroadcastTo.call(_expand_reduced(g, self.shape, self.axes, self.keepdims), shape=self.shape),)


class Max(Function):
    """out = max(x, axis);  dx = g * [x == out] / count   (ties share the gradient)"""

    reduce = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = normalize_axes(axis, np.ndim(x), self.name.lower()), keepdims
        if np.size(x) == 0:
            raise ShapeError(f"{self.name.lower()}: cannot reduce an empty tensor of shape {np.shape(x)}")
        out = self.reduce(x, axis=self.axes, keepdims=keepdims)
        self.save(x, out)
        return out

    def backward(self, g, x, out):
        x = raw(x)
        winners = x == _expand_reduced(raw(out), x.shape, self.axes, self.keepdims)
        share = (winners / winners.sum(axis=self.axes, keepdims=True)).astype(raw(g).dtype, copy=False)
        return (_expand_reduced(g, x.shape, self.axes, self.keepdims) * share,)


class Min(Max):
    """out = min(x, axis);  dx = g * [x == out] / count   (ties share the gradient)"""

    reduce = staticmethod(np.min)


class Softmax(Function):
    """out = exp(x) / sum(exp(x), axis);  dx = out * (g - sum(g * out, axis))"""

    # Primitive for speed and stability: one fused, max-shifted pass instead of five ops.
    def forward(self, x, axis=-1):
        self.axis = axis
        if x.size == 0:
            out = np.array(x, copy=True)
        else:
            e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
            out = e / np.add.reduce(e, axis=axis, keepdims=True)
        self.save(out)
        return out

    def backward(self, g, out):
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """out = x - logsumexp(x, axis);  dx = g - exp(out) * sum(g, axis)"""

    # Primitive for stability: log(softmax(x)) underflows to -inf; this never does.
    def forward(self, x, axis=-1):
        self.axis = axis
        if x.size == 0:
            out = np.array(x, copy=True)
        else:
            peak = np.maximum.reduce(x, axis=axis, keepdims=True)
            shifted = x - np.where(np.isfinite(peak), peak, 0)  # a row of -inf stays -inf, not nan
            out = shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
        self.save(out)
        return out

    def backward(self, g, out):
        return (g - lib(g).exp(out) * g.sum(axis=self.axis, keepdims=True),)


# ----------------------------------------------------------------------------- movement


class Reshape(Function):
    """out = x.reshape(shape);  dx = g.reshape(x.shape)"""

    def forward(self, x, shape=()):
        self.shape = x.shape
        try:
            return _read_only_view(np.reshape(x, shape), x)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {np.shape(x)} into {shape}") from None

    def backward(self, g):
        return (g.reshape(self.shape),)


class Transpose(Function):
    """out = x.transpose(axes);  dx = g.transpose(argsort(axes))"""

    def forward(self, x, axes=None):
        ndim = np.ndim(x)
        self.axes = tuple(range(ndim))[::-1] if axes is None else tuple(axes)
        try:
            if len(normalize_axes(self.axes, ndim, "transpose")) != ndim:
                raise ShapeError
        except ShapeError:
            raise ShapeError(f"transpose: axes {axes} do not fit a tensor of shape {np.shape(x)} "
                             "(give a permutation of its axes)") from None
        self.axes = tuple(a % ndim for a in self.axes)  # negative axes: normalised, or argsort below goes wrong
        return _read_only_view(np.transpose(x, self.axes), x)

    def backward(self, g):
        return (g.transpose(tuple(np.argsort(self.axes))),)


class BroadcastTo(Function):
    """out = broadcast_to(x, shape);  dx = sum_to_shape(g, x.shape)"""

    # "expand is sum in reverse": the engine's sum_to_shape does the reduction. The result
    # is a fresh array (filled by one assignment, several times cheaper than np.broadcast_to's
    # view for small arrays): Sum's backward uses this op on every step.
    def forward(self, x, shape=()):
        out = np.empty(shape, dtype=x.dtype)
        try:
            out[...] = x
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {np.shape(x)} to {tuple(shape)}") from None
        if np.ndim(x) > len(out.shape):  # assignment also drops leading size-1 axes; broadcasting does not
            raise ShapeError(f"broadcast_to: cannot broadcast shape {np.shape(x)} to {tuple(shape)}")
        return out

    def backward(self, g):
        return (g,)


class Index(Function):
    """out = x[index];  dx = zeros_like(x) with g added at index (repeats accumulate)"""

    def forward(self, x, index=None):
        self.index, self.shape = _own_copy(index), x.shape
        try:
            return _read_only_view(np.asarray(x[index]), x)
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {np.shape(x)})") from None

    def backward(self, g):
        return (IndexAdd.call(g, shape=self.shape, index=self.index),)


class IndexAdd(Function):
    """out = zeros(shape) with g added at index;  dg = out_grad[index]   (Index's backward)"""

    def forward(self, g, shape=(), index=None):
        self.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g  # basic and boolean indices never repeat an element
        else:
            np.add.at(out, index, g)
        return out

    def backward(self, gg):
        return (gg[self.index],)


def _is_basic(index):
    """True when an index has no integer arrays, so no element can repeat."""
    parts = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(p, (list, tuple)) or isinstance(p, np.ndarray) and p.dtype != bool for p in parts)


class Concatenate(Function):
    """out = concatenate(xs, axis);  dxs = the slices of g along axis"""

    def forward(self, *xs, axis=0):
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None
        self.axis = axis % out.ndim
        self.bounds = np.cumsum([0] + [np.shape(x)[self.axis] for x in xs])
        return out

    def backward(self, g):
        lead = (slice(None),) * self.axis
        return tuple(
            g[lead + (slice(int(a), int(b)),)] if need else None
            for a, b, need in zip(self.bounds[:-1], self.bounds[1:], self.needs_input_grad)
        )


class Pad(Function):
    """out = x surrounded by a constant border;  dx = g[the slice that holds x]"""

    # Primitive for speed: composed, it would take a concatenate per side of every axis.
    def forward(self, x, pad_width=(), value=0.0):
        self.inside = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, np.shape(x)))
        if not pad_width:  # a 0-d tensor has no sides (and np.pad refuses it)
            return np.array(x, copy=True)
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return (g[self.inside],)


# ----------------------------------------------------------------------------- windows (convolution, pooling)
# Im2Col copies every kernel-sized window of an image into its own column, so a
# convolution becomes one matrix product and a pooling one reduction. It is a
# primitive for speed: composed from indexing it would cost one op per window.
# Its backward (col2im) adds each window's gradient back where the window came
# from; Col2Im is that scatter as an op of its own so that, as with Index and
# IndexAdd, each is the other's backward and gradients of gradients work.


class Im2Col(Function):
    """out[n, c, p, q, i, j] = x[n, c, i*sh + p, j*sw + q];  dx = col2im(g)   (windows' gradients added back)"""

    def forward(self, x, kernel_size=(1, 1), stride=(1, 1)):
        self.kernel_size, self.stride, self.shape = kernel_size, stride, np.shape(x)
        _check_windows(np.shape(x), kernel_size, stride)  # before NumPy sees it, for a clear message
        return _im2col(x, kernel_size, stride)

    def backward(self, g):
        return (Col2Im.call(g, shape=self.shape, kernel_size=self.kernel_size, stride=self.stride),)


class Col2Im(Function):
    """out = zeros(shape) with every window of g added back in place;  dg = im2col(gg)   (Im2Col's backward)"""

    def forward(self, g, shape=(), kernel_size=(1, 1), stride=(1, 1)):
        self.kernel_size, self.stride = kernel_size, stride
        return _col2im(g, shape, kernel_size, stride)

    def backward(self, gg):
        return (Im2Col.call(gg, kernel_size=self.kernel_size, stride=self.stride),)


def _check_windows(shape, kernel_size, stride):
    """Refuse an input that is not (N, C, H, W), a kernel that does not fit it, a stride below 1."""
    if len(shape) != 4:
        raise ShapeError(f"im2col: expected an input of shape (N, C, H, W), got shape {tuple(shape)}")
    (kh, kw), (sh, sw), (h, w) = kernel_size, stride, shape[2:]
    if min(kh, kw, sh, sw) < 1:
        raise ShapeError(f"im2col: kernel size {kernel_size} and stride {stride} must be positive")
    if kh > h or kw > w:
        raise ShapeError(f"im2col: kernel {kh}x{kw} is larger than the (padded) input {h}x{w} (shape {tuple(shape)})")


def _im2col(x, kernel_size, stride):
    """(N, C, H, W) -> (N, C, kh, kw, OH, OW): a strided view of every window, copied once.

    Kernel offsets before window positions: the copy then reads x along its rows,
    and each offset's (OH, OW) plane is contiguous for col2im to add back in one go.
    """
    sh, sw = stride
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel_size, axis=(2, 3))[:, :, ::sh, ::sw]
    return np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))


def _col2im(g, shape, kernel_size, stride):
    """(N, C, kh, kw, OH, OW) -> (N, C, H, W), adding overlapping windows' entries.

    One strided slice-add per kernel offset (kh*kw of them): offset (p, q) of every
    window lands on the pixels x[:, :, p::sh, q::sw], never two windows at once.
    """
    (kh, kw), (sh, sw) = kernel_size, stride
    out_h, out_w = g.shape[4], g.shape[5]
    dx = np.zeros(shape, dtype=g.dtype)
    for p in range(kh):
        for q in range(kw):
            dx[:, :, p:p + sh * (out_h - 1) + 1:sh, q:q + sw * (out_w - 1) + 1:sw] += g[:, :, p, q]
    return dx


PRIMITIVES = tuple(op for op in list(globals().values()) if isinstance(op, type) and issubclass(op, Function)
                   and op is not Function)
"""Every primitive op class, in the order of this file (derived: a new class here is one automatically)."""
