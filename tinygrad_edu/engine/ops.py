"""The primitive ops: each one's forward and its vector-Jacobian product, side by side.

Reading guide: ``g`` is the upstream gradient (shape of ``out``), ``x``/``y`` the
inputs, ``out`` the result. The first docstring line of each class is its math,
and is what ``tg.trace_backward`` shows as the rule applied.

A backward may return a gradient with the *broadcast* shape of the output: the
engine sums it back to the input's exact shape in one place (``sum_to_shape``).
Everything not here is composed from these in ``tensor.py``. The few ops that
could be composed but are primitives say why (speed or numerical stability).

Two class flags tell the engine what backward reads, so it guards only that
(see ``Function``): ``saves_output = True`` when backward reads ``out``, and
``reads_inputs = False`` when it reads no input values (only shapes) and the
output is a fresh array rather than a view of an input.
"""
from __future__ import annotations

import numpy as np

from .function import Function, ShapeError, lib, raw


def sum_to_shape(g, shape):
    """Sum a broadcast gradient back to ``shape``: drop leading axes, then sum size-1 axes.

    Works on ndarrays and Tensors alike (it only calls ``.sum`` and ``.reshape``).

    Examples:
        >>> import numpy as np
        >>> sum_to_shape(np.ones((4, 2, 3)), (2, 1)).tolist()
        [[12.0], [12.0]]
    """
    if g.shape == shape:
        return g
    if shape and g.shape[1:] == shape:  # one leading axis, e.g. a bias's batch axis: one sum
        return g.sum(axis=0)
    lead = g.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    # keepdims, then reshape: a full reduction without keepdims gives a NumPy scalar, not an array
    return g.sum(axis=tuple(range(lead)) + ones, keepdims=True).reshape(shape)


def _normalize_axes(axis, ndim, op):
    """Turn ``axis`` (None, int or tuple) into a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dimension(s)")
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result))


def expand(g, shape):
    """Broadcast ``g`` up to ``shape``: a fresh array for NumPy (cheap and writeable), a graph op for Tensors."""
    if lib(g) is np:
        out = np.empty(shape, dtype=g.dtype)
        out[...] = g
        return out
    return g.broadcast_to(shape)


def _own_copy(attr):
    """``attr`` with its arrays copied, for an op whose backward reads it (an index, a clip bound):
    the caller may change its array before backward runs (a loader refilling a label buffer)."""
    if isinstance(attr, tuple):
        return tuple(_own_copy(a) for a in attr)
    return attr.copy() if isinstance(attr, np.ndarray) else attr


def _expand_reduced(g, in_shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input again."""
    if not keepdims and g.ndim:  # a 0-d gradient (everything reduced) broadcasts as it is
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(in_shape)))
    return g


# ----------------------------------------------------------------------------- unary


class Neg(Function):
    """out = -x;  dx = -g"""

    reads_inputs = False

    def forward(self, x):
        return np.negative(x)

    def backward(self, g, out, x):
        return (-g,)


class Exp(Function):
    """out = exp(x);  dx = g * out"""

    saves_output = True
    reads_inputs = False

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (g * out,)


class Log(Function):
    """out = log(x);  dx = g / x"""

    def forward(self, x):
        return np.log(x)

    def backward(self, g, out, x):
        return (g / x,)


class Sin(Function):
    """out = sin(x);  dx = g * cos(x)"""

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, out, x):
        return (g * lib(g).cos(x),)


class Cos(Function):
    """out = cos(x);  dx = -g * sin(x)"""

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, out, x):
        return (-g * lib(g).sin(x),)


class Tanh(Function):
    """out = tanh(x);  dx = g * (1 - out**2)"""

    saves_output = True
    reads_inputs = False

    # Primitive for stability: composing from exp overflows for |x| > ~89 (float32).
    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out, x):
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x));  dx = g * out * (1 - out)"""

    saves_output = True
    reads_inputs = False

    # Primitive for stability: exp(-|x|) never overflows, so no clipping is needed.
    def forward(self, x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, g, out, x):
        return (g * out * (1 - out),)


class Relu(Function):
    """out = max(x, 0);  dx = g * (out > 0)"""

    # Primitive for speed: it sits in every hidden layer. Backward reads out (out > 0
    # exactly where x > 0), not x: x, the pre-activation, is then freed after forward,
    # and out is held anyway by the next layer's matmul.
    saves_output = True
    reads_inputs = False

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, out, x):
        return (g * (raw(out) > 0),)


class LeakyRelu(Function):
    """out = x if x > 0 else alpha * x;  dx = g * (1 if x > 0 else alpha)"""

    def forward(self, x, alpha=0.01):
        self.alpha = alpha
        return np.where(x > 0, x, x * alpha)

    def backward(self, g, out, x):
        slope = np.where(raw(x) > 0, 1.0, self.alpha).astype(raw(g).dtype, copy=False)
        return (g * slope,)


class Abs(Function):
    """out = |x|;  dx = g * sign(x)"""

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, out, x):
        return (g * np.sign(raw(x)),)


class Clip(Function):
    """out = min(max(x, lo), hi);  dx = g * (lo <= x <= hi)"""

    def forward(self, x, lo=None, hi=None):
        self.lo, self.hi = _own_copy(lo), _own_copy(hi)
        return np.clip(x, lo, hi)

    def backward(self, g, out, x):
        x = raw(x)
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (g * inside,)


class Cast(Function):
    """out = x.astype(dtype);  dx = g.astype(x.dtype)"""

    reads_inputs = False

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, g, out, x):
        return (g,)  # the engine casts every gradient to its input's dtype


# ----------------------------------------------------------------------------- binary (broadcasting)


class Add(Function):
    """out = x + y;  dx = g;  dy = g"""

    reads_inputs = False

    def forward(self, x, y):
        return np.add(x, y)

    def backward(self, g, out, x, y):
        return g, g


class Sub(Function):
    """out = x - y;  dx = g;  dy = -g"""

    reads_inputs = False

    def forward(self, x, y):
        return np.subtract(x, y)

    def backward(self, g, out, x, y):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """out = x * y;  dx = g * y;  dy = g * x"""

    def forward(self, x, y):
        return np.multiply(x, y)

    def backward(self, g, out, x, y):
        nx, ny = self.needs_input_grad
        return (g * y if nx else None), (g * x if ny else None)


class Div(Function):
    """out = x / y;  dx = g / y;  dy = -g * out / y"""

    saves_output = True

    def forward(self, x, y):
        return np.true_divide(x, y)

    def backward(self, g, out, x, y):
        nx, ny = self.needs_input_grad
        gx = g / y if nx else None
        return gx, (-(gx if nx else g / y) * out if ny else None)


class Pow(Function):
    """out = x ** y;  dx = g * y * x ** (y - 1);  dy = g * out * log(x)"""

    saves_output = True

    def forward(self, x, y):
        return np.power(x, y)

    def backward(self, g, out, x, y):
        nx, ny = self.needs_input_grad
        gx = g * y * x ** (y - 1) if nx else None
        gy = g * out * lib(g).log(x) if ny else None
        return gx, gy


class Maximum(Function):
    """out = max(x, y);  dx = g * [x > y] + g/2 * [x == y];  dy likewise"""

    def forward(self, x, y):
        return np.maximum(x, y)

    def backward(self, g, out, x, y):
        x, y = raw(x), raw(y)
        dtype = raw(g).dtype
        share_x = ((x > y) + 0.5 * (x == y)).astype(dtype, copy=False)
        return g * share_x, g * (1 - share_x)


class Where(Function):
    """out = where(c, x, y);  dx = g * c;  dy = g * !c   (c is a constant mask)"""

    def forward(self, cond, x, y):
        return np.where(cond, x, y)

    def backward(self, g, out, cond, x, y):
        where = lib(g).where
        _, nx, ny = self.needs_input_grad
        c = raw(cond)
        return None, (where(c, g, 0) if nx else None), (where(c, 0, g) if ny else None)


class MatMul(Function):
    """out = x @ y;  dx = g @ y.T;  dy = x.T @ g   (batched; 1-D operands promoted)"""

    def forward(self, x, y):
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

    def backward(self, g, out, x, y):
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

    reads_inputs = False

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes(axis, x.ndim, "sum")
        self.keepdims = keepdims
        return np.add.reduce(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, out, x):
        return (expand(_expand_reduced(g, x.shape, self.axes, self.keepdims), x.shape),)


class Max(Function):
    """out = max(x, axis);  dx = g * [x == out] / count   (ties share the gradient)"""

    saves_output = True

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes(axis, np.ndim(x), "max")
        self.keepdims = keepdims
        if np.size(x) == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {np.shape(x)}")
        return np.max(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g, out, x):
        x = raw(x)
        winners = x == _expand_reduced(raw(out), x.shape, self.axes, self.keepdims)
        share = (winners / winners.sum(axis=self.axes, keepdims=True)).astype(raw(g).dtype, copy=False)
        return (_expand_reduced(g, x.shape, self.axes, self.keepdims) * share,)


class Softmax(Function):
    """out = exp(x) / sum(exp(x), axis);  dx = out * (g - sum(g * out, axis))"""

    saves_output = True
    reads_inputs = False

    # Primitive for speed and stability: one fused, max-shifted pass instead of five ops.
    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def backward(self, g, out, x):
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """out = x - logsumexp(x, axis);  dx = g - exp(out) * sum(g, axis)"""

    saves_output = True
    reads_inputs = False

    # Primitive for stability: log(softmax(x)) underflows to -inf; this never does.
    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(self, g, out, x):
        return (g - lib(g).exp(out) * g.sum(axis=self.axis, keepdims=True),)


class SoftmaxCrossEntropy(Function):
    """out = w sum_i (logsumexp(x_i) - t_i . x_i);  dx = g w (softmax(x) sum(t, 1) - t);  dt = -g w log_softmax(x)"""

    # Primitive for speed and stability: cross-entropy ends every classification step,
    # and one fused, max-shifted pass replaces log-softmax, multiply, sum, negate and the
    # mean (each its own node on both sweeps). With one-hot targets dx is the tutorial's
    # y_pred - y_true (over N), and it stays finite for any logits.
    # x: logits (N, C); t: target probabilities (N, C). reduction "mean" (w = 1/N) and
    # "sum" (w = 1) give a scalar; "none" gives the N per-sample losses (w = 1, no sum).
    def forward(self, x, t, reduction="mean"):
        log_probs = x - np.maximum.reduce(x, axis=1, keepdims=True)  # shifted: exp cannot overflow
        log_probs -= np.log(np.add.reduce(np.exp(log_probs), axis=1, keepdims=True))
        self.log_probs = log_probs
        self.reduced = reduction != "none"
        self.weight = 1.0 / x.shape[0] if reduction == "mean" else 1.0
        if self.reduced:  # vdot: the sum of t * log_probs in one pass, without the product array
            return np.asarray(-np.vdot(t, log_probs) * self.weight)
        return -(t * log_probs).sum(axis=1)

    def backward(self, g, out, x, t):
        g = g * self.weight if self.reduced else g.reshape((-1, 1))
        # recorded (create_graph) mode recomputes log-softmax as a graph op, so the
        # gradient is itself differentiable; the plain mode reuses the forward's array
        log_probs = self.log_probs if lib(g) is np else x.log_softmax(axis=1)
        nx, nt = self.needs_input_grad
        gx = g * (lib(g).exp(log_probs) * t.sum(axis=1, keepdims=True) - t) if nx else None
        gt = -g * log_probs if nt else None
        return gx, gt


# ----------------------------------------------------------------------------- movement


class Reshape(Function):
    """out = x.reshape(shape);  dx = g.reshape(x.shape)"""

    returns_view = True
    reads_inputs = False

    def forward(self, x, shape=()):
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {np.shape(x)} into {shape}") from None

    def backward(self, g, out, x):
        return (g.reshape(x.shape),)


class Transpose(Function):
    """out = x.transpose(axes);  dx = g.transpose(argsort(axes))"""

    returns_view = True
    reads_inputs = False

    def forward(self, x, axes=None):
        self.axes = tuple(range(np.ndim(x)))[::-1] if axes is None else tuple(axes)
        try:
            return np.transpose(x, self.axes)
        except ValueError:
            raise ShapeError(f"transpose: axes {axes} do not fit a tensor of shape {np.shape(x)}") from None

    def backward(self, g, out, x):
        return (g.transpose(tuple(np.argsort(self.axes))),)


class BroadcastTo(Function):
    """out = broadcast_to(x, shape);  dx = sum_to_shape(g, x.shape)"""

    returns_view = True
    reads_inputs = False

    # "expand is sum in reverse": the engine's sum_to_shape does the reduction.
    def forward(self, x, shape=()):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {np.shape(x)} to {tuple(shape)}") from None

    def backward(self, g, out, x):
        return (g,)


class Index(Function):
    """out = x[index];  dx = zeros_like(x) with g added at index (repeats accumulate)"""

    returns_view = True
    reads_inputs = False

    def forward(self, x, index=None):
        self.index = _own_copy(index)
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor of shape {np.shape(x)})") from None

    def backward(self, g, out, x):
        if lib(g) is np:
            return (_scatter_add(g, x.shape, self.index),)
        return (IndexAdd.apply(g, shape=x.shape, index=self.index),)


class IndexAdd(Function):
    """out = zeros(shape) with g added at index;  dg = out_grad[index]   (Index's backward)"""

    reads_inputs = False

    def forward(self, g, shape=(), index=None):
        self.index = index
        return _scatter_add(g, shape, index)

    def backward(self, gg, out, g):
        return (gg[self.index],)


def _is_basic(index):
    """True when an index has no integer arrays, so no element can repeat."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, np.ndarray) and p.dtype != bool:
            return False
        if isinstance(p, (list, tuple)):
            return False
    return True


def _scatter_add(g, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g  # basic and boolean indices never repeat an element
    else:
        np.add.at(out, index, g)
    return out


class Concatenate(Function):
    """out = concatenate(xs, axis);  dxs = the slices of g along axis"""

    reads_inputs = False

    def forward(self, *xs, axis=0):
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None
        self.axis = axis % out.ndim
        self.bounds = np.cumsum([0] + [np.shape(x)[self.axis] for x in xs])
        return out

    def backward(self, g, out, *xs):
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

    def backward(self, g, out, x):
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
        self.kernel_size, self.stride = kernel_size, stride
        _check_windows(np.shape(x), kernel_size, stride)  # before NumPy sees it, for a clear message
        return _im2col(x, kernel_size, stride)

    def backward(self, g, out, x):
        if lib(g) is np:
            return (_col2im(g, x.shape, self.kernel_size, self.stride),)
        return (Col2Im.apply(g, shape=x.shape, kernel_size=self.kernel_size, stride=self.stride),)


class Col2Im(Function):
    """out = zeros(shape) with every window of g added back in place;  dg = im2col(gg)   (Im2Col's backward)"""

    def forward(self, g, shape=(), kernel_size=(1, 1), stride=(1, 1)):
        self.kernel_size, self.stride = kernel_size, stride
        return _col2im(g, shape, kernel_size, stride)

    def backward(self, gg, out, g):
        if lib(gg) is np:
            return (_im2col(gg, self.kernel_size, self.stride),)
        return (Im2Col.apply(gg, kernel_size=self.kernel_size, stride=self.stride),)


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


PRIMITIVES = (
    Neg, Exp, Log, Sin, Cos, Tanh, Sigmoid, Relu, LeakyRelu, Abs, Clip, Cast,
    Add, Sub, Mul, Div, Pow, Maximum, Where, MatMul,
    Sum, Max, Softmax, LogSoftmax, SoftmaxCrossEntropy,
    Reshape, Transpose, BroadcastTo, Index, IndexAdd, Concatenate, Pad, Im2Col, Col2Im,
)
"""Every primitive op class, grouped as above: unary, binary, reductions, movement."""
