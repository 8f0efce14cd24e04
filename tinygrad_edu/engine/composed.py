"""Every operation on a Tensor: one primitive call, or a line or two composed from others.

``TensorOps`` is the mixin ``Tensor`` inherits: operators, elementwise math,
reductions, movement, and the in-place updates (outside the graph) optimizers use. Below it are the module functions (``tg.where``,
``tg.concatenate``, ...) and, derived from the mixin, an alias for each public
method (``tg.exp(x)`` is ``x.exp()``, for any array-like ``x``). A backward running
on Tensors finds these functions as ``lib(g)``, where an ndarray's backward finds
NumPy's.

The NumPy boundary is here too: NumPy's ufuncs and functions applied to a Tensor
(``np.exp(t)``, ``np.dot(a, t)``) dispatch to these operations, so they stay on the
graph; one that has no tinygrad_edu counterpart raises rather than silently turning
a tensor that requires grad into a plain array.
"""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from . import ops
from .function import CONSTANTS, ShapeError, get_default_dtype, state

_SCALARS = (int, float, bool)


def _wrap(array):
    return TensorOps.tensor_type._make(array)


def _is_tensor(value) -> bool:
    return isinstance(value, TensorOps)


def index_arg(index):
    """Tensors and lists inside an index become ndarrays (so they index like NumPy's)."""
    if isinstance(index, tuple):
        return tuple(index_arg(i) for i in index)
    if _is_tensor(index):
        return index._data
    return np.asarray(index) if isinstance(index, list) else index


def _float_of(dtype):
    """The dtype to compute in when an integer or bool ``dtype`` meets a float: the default float."""
    return dtype if dtype.kind == "f" else get_default_dtype()


def promote(x, y):
    """``(x, y)`` cast to the dtype PyTorch computes ``x op y`` in (one of them is a Tensor).

    Python numbers are weak (they take the tensor's dtype, but a float makes an integer
    tensor the default float); an ndarray or list next to a float tensor is cast to that
    tensor's dtype; two tensors of different kinds compute in the float's dtype, and two
    floats in the wider one.
    """
    if type(y) is float and isinstance(x, TensorOps) and x._data.dtype.kind == "f":  # the commonest cases first
        return x, y
    if isinstance(y, TensorOps) and isinstance(x, TensorOps) and x._data.dtype == y._data.dtype:
        return x, y
    return _promote(x, y)


def _promote(x, y):
    x, y = _operand(x), _operand(y)
    if isinstance(y, _SCALARS) or isinstance(x, _SCALARS):
        tensor, number = (x, y) if isinstance(y, _SCALARS) else (y, x)
        kind = tensor._data.dtype.kind
        if kind == "f" or type(number) is not float and (kind != "b" or type(number) is bool):
            return x, y
        target = _float_of(tensor.dtype) if type(number) is float else np.dtype(np.int64)
        return (_cast(x, target), y) if tensor is x else (x, _cast(y, target))
    dx, dy = x.dtype, y.dtype
    if dx == dy:
        return x, y
    if not _is_tensor(y) and dx.kind == "f":
        return x, y.astype(dx)
    if not _is_tensor(x) and dy.kind == "f":
        return x.astype(dy), y
    if (dx.kind == "f") != (dy.kind == "f"):  # a float with an integer or bool: the float's dtype
        target = dx if dx.kind == "f" else dy
    else:
        target = np.promote_types(dx, dy)
    return _cast(x, target), _cast(y, target)


def _operand(value):
    """A Tensor or a Python number as it is (a NumPy scalar as a Python number, weak as one), else an ndarray."""
    if isinstance(value, np.generic):
        return value.item()
    return value if _is_tensor(value) or isinstance(value, _SCALARS) else as_operand(value)


def as_operand(value):
    """A non-Tensor operand as an ndarray (a list holding tensors is stacked, so it stays on the graph)."""
    if isinstance(value, (list, tuple)) and _holds_tensor(value):
        return stack(value)
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"unsupported operand of dtype {array.dtype} ({type(value).__name__}) with a Tensor")
    if array.dtype.kind == "f" and not isinstance(value, (np.ndarray, np.generic)):  # lists: the default dtype
        return array.astype(get_default_dtype())
    return array


def stored_as(value, dtype, what) -> np.ndarray:
    """``value`` as an ndarray of ``dtype``, not copied when it is one already.

    Refuses what is not numbers, and values an integer or bool ``dtype`` would change
    (1.5, NaN or 300 stored in an int8 tensor), rather than storing something else."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise TypeError(f"{what}: cannot store {type(value).__name__} as {dtype}: {e}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what}: cannot store {type(value).__name__} (dtype {array.dtype}) as {dtype}; "
                        "give numbers or booleans")
    with np.errstate(invalid="ignore"):  # NaN into an integer: refused just below
        converted = array.astype(dtype, copy=False)
    if dtype.kind in "iub" and array.dtype != dtype and not np.array_equal(converted, array):
        raise ValueError(f"{what}: these {array.dtype} values change when stored as {dtype} (fractions, NaN or "
                         f"out of range); convert them yourself first, e.g. np.round(values).astype(np.{dtype})")
    return converted


def _holds_tensor(value) -> bool:
    return _is_tensor(value) or isinstance(value, (list, tuple)) and builtins.any(map(_holds_tensor, value))


def _cast(x, dtype):
    if x.dtype == dtype:
        return x
    if not _is_tensor(x):
        return x.astype(dtype)
    return x.astype(dtype) if x.dtype.kind == "f" else _wrap(x._data.astype(dtype))


class TensorOps:
    """The operations of a Tensor. ``Tensor`` inherits them; ``Tensor`` itself holds data, grad and backward."""

    __slots__ = ()
    tensor_type = None  # the Tensor class, noted when it subclasses this mixin

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if TensorOps.tensor_type is None:  # Tensor itself, not its subclasses (Parameter)
            TensorOps.tensor_type = cls

    # ------------------------------------------------------------------ arithmetic (broadcasting)

    def __add__(self, other):
        return ops.Add.apply(*promote(self, other))

    def __radd__(self, other):
        return ops.Add.apply(*promote(other, self))

    def __sub__(self, other):
        return ops.Sub.apply(*promote(self, other))

    def __rsub__(self, other):
        return ops.Sub.apply(*promote(other, self))

    def __mul__(self, other):
        return ops.Mul.apply(*promote(self, other))

    def __rmul__(self, other):
        return ops.Mul.apply(*promote(other, self))

    def __truediv__(self, other):
        return ops.Div.apply(*_as_floats(*promote(self, other)))

    def __rtruediv__(self, other):
        return ops.Div.apply(*_as_floats(*promote(other, self)))

    def __pow__(self, other):
        return ops.Pow.apply(*promote(self, other))

    def __rpow__(self, other):
        return ops.Pow.apply(*promote(other, self))

    def __matmul__(self, other):
        return ops.MatMul.apply(*promote(self, other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(*promote(other, self))

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def matmul(self, other):
        """Matrix product, same as ``self @ other`` (1-D operands promoted, batch dims broadcast)."""
        return self @ other

    # comparisons and logic: bool tensors, never part of the graph
    def _compare(self, other, ufunc):
        return _wrap(np.asarray(ufunc(self._data, other._data if _is_tensor(other) else other)))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __and__(self, other):
        return self._compare(other, np.logical_and)

    def __or__(self, other):
        return self._compare(other, np.logical_or)

    def __invert__(self):
        return _wrap(np.logical_not(self._data))

    # ------------------------------------------------------------------ elementwise math

    def exp(self):
        """Elementwise e**x."""
        return ops.Exp.apply(self)

    def log(self):
        """Elementwise natural logarithm."""
        return ops.Log.apply(self)

    def sqrt(self):
        """Elementwise square root, composed as ``x ** 0.5``."""
        return self**0.5

    def abs(self):
        """Elementwise |x|; the gradient at 0 is 0 (PyTorch's choice)."""
        return ops.Abs.apply(self)

    def sin(self):
        """Elementwise sine."""
        return ops.Sin.apply(self)

    def cos(self):
        """Elementwise cosine."""
        return ops.Cos.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent (a primitive: composing it from exp overflows)."""
        return ops.Tanh.apply(self)

    def sigmoid(self):
        """Elementwise 1 / (1 + e**-x), computed without overflow for any x."""
        return ops.Sigmoid.apply(self)

    def relu(self):
        """Elementwise max(x, 0); the gradient at 0 is 0 (PyTorch's choice)."""
        return ops.Relu.apply(self)

    def leaky_relu(self, alpha=0.01):
        """Elementwise ``x if x > 0 else alpha * x``."""
        return ops.LeakyRelu.apply(self, alpha=alpha)

    def clip(self, lo=None, hi=None):
        """Clamp into [lo, hi] (either bound may be None); the gradient is 0 outside the range."""
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of lo and hi")
        return ops.Clip.apply(self, lo=lo, hi=hi)

    def sign(self):
        """Elementwise sign: -1, 0 or 1, with zero gradient (piecewise constant)."""
        return ops.Step.apply(self, fn=np.sign)

    def round(self, decimals=0):
        """Round half to even, as NumPy; zero gradient."""
        return ops.Step.apply(self, fn=np.round, decimals=decimals)

    def astype(self, dtype):
        """A copy in ``dtype``; differentiable between floating dtypes."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f" or self._data.dtype.kind != "f":
            return _wrap(self._data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def float(self):
        """A float32 copy (differentiable)."""
        return self.astype(np.float32)

    def double(self):
        """A float64 copy (differentiable): what gradcheck needs."""
        return self.astype(np.float64)

    # ------------------------------------------------------------------ reductions

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None: all axes; an int or a tuple of ints); size-1 axes kept if ``keepdims``.

        Examples:
            >>> import tinygrad_edu as tg
            >>> tg.Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
            Tensor([4., 6.], dtype=float32)
        """
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``, composed as ``sum * (1 / count)``."""
        count = _reduced_count(self.shape, axis, "mean")
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count if count else float("nan"))

    def var(self, axis=None, ddof=0, keepdims=False):
        """Variance, sum((x - mean)^2) / (n - ddof); nan where n - ddof <= 0, as in PyTorch."""
        divisor = _reduced_count(self.shape, axis, "var") - ddof
        centered = self - self.mean(axis=axis, keepdims=True)
        return (centered * centered).sum(axis=axis, keepdims=keepdims) * (1.0 / divisor if divisor > 0 else float("nan"))

    def std(self, axis=None, ddof=0, keepdims=False):
        """Standard deviation, ``sqrt(var)``. Where it is 0 (one value, or all equal) sqrt has no derivative;
        the gradient there is 0, PyTorch's choice."""
        var = self.var(axis=axis, ddof=ddof, keepdims=keepdims)
        flat = var._data == 0
        if not flat.any():
            return var.sqrt()
        return where(flat, 0.0, where(flat, 1.0, var).sqrt())  # sqrt(1) in the flat places: no 0 * inf there

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``; tied minima share the gradient equally."""
        return ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x), axis)), shifted by the (constant) max so it never overflows."""
        axes = ops.normalize_axes(axis, self.ndim, "logsumexp")
        shift = np.max(self._data, axis=axes, keepdims=True) if self.size else np.zeros((1,) * self.ndim)
        shift = np.where(np.isfinite(shift), shift, 0).astype(self.dtype, copy=False)
        total = (self - shift).exp().sum(axis=axes, keepdims=True).log() + shift
        return total if keepdims else total.reshape(np.sum(self._data, axis=axes).shape)

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis`` (an int, a tuple, or None for all), shifted by the max."""
        return ops.Softmax.apply(self, axis=ops.normalize_axes(axis, self.ndim, "softmax"))

    def log_softmax(self, axis=-1):
        """x - logsumexp(x) along ``axis``: finite where ``softmax(x).log()`` would give -inf.

        Examples:
            >>> import tinygrad_edu as tg
            >>> tg.Tensor([0.0, 200.0]).log_softmax()
            Tensor([-200.,    0.], dtype=float32)
        """
        return ops.LogSoftmax.apply(self, axis=ops.normalize_axes(axis, self.ndim, "log_softmax"))

    def any(self, axis=None, keepdims=False):
        """Whether any element along ``axis`` is nonzero (a bool tensor, outside the graph)."""
        return _wrap(np.asarray(np.any(self._data, axis=axis, keepdims=keepdims)))

    def all(self, axis=None, keepdims=False):
        """Whether every element along ``axis`` is nonzero (a bool tensor, outside the graph)."""
        return _wrap(np.asarray(np.all(self._data, axis=axis, keepdims=keepdims)))

    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum along ``axis`` (an integer tensor, outside the graph)."""
        return _wrap(np.asarray(np.argmax(self._data, axis=axis, keepdims=keepdims)))

    def argmin(self, axis=None, keepdims=False):
        """Index of the minimum along ``axis`` (an integer tensor, outside the graph)."""
        return _wrap(np.asarray(np.argmin(self._data, axis=axis, keepdims=keepdims)))

    # ------------------------------------------------------------------ movement

    @property
    def T(self):
        """All axes reversed (NumPy's ``.T``)."""
        return self.transpose()

    def reshape(self, *shape):
        """The same elements in a new shape: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one size may be -1."""
        return ops.Reshape.apply(self, shape=_shape_arg(shape))

    def transpose(self, *axes):
        """Permute axes (NumPy's convention: no axes reverses them all; negative axes count from the end)."""
        return ops.Transpose.apply(self, axes=_shape_arg(axes) or None)

    def swapaxes(self, axis1, axis2):
        """Exchange two axes: ``(B, M, N).swapaxes(-1, -2)`` has shape (B, N, M)."""
        axes = list(range(self.ndim))
        a, b = ops.normalize_axes((axis1,), self.ndim, "swapaxes")[0], ops.normalize_axes((axis2,), self.ndim, "swapaxes")[0]
        axes[a], axes[b] = axes[b], axes[a]
        return ops.Transpose.apply(self, axes=tuple(axes))

    def flatten(self, start_axis=0):
        """Merge the axes from ``start_axis`` on into one: (N, C, H, W).flatten(1) -> (N, C*H*W)."""
        return self.reshape(self.shape[:start_axis] + (-1,))

    def squeeze(self, axis=None):
        """Drop size-1 axes (all of them, or those in ``axis``)."""
        return self.reshape(_movement_shape(np.squeeze, self.shape, axis, "squeeze"))

    def expand_dims(self, axis):
        """Insert a size-1 axis at position ``axis``."""
        return self.reshape(_movement_shape(np.expand_dims, self.shape, axis, "expand_dims"))

    def broadcast_to(self, shape):
        """Repeat along size-1 and new leading axes to reach ``shape`` (NumPy's rules); backward sums them back."""
        return ops.BroadcastTo.apply(self, shape=(shape,) if isinstance(shape, int) else tuple(shape))

    def __getitem__(self, index):
        """NumPy indexing (slices, ints, None, ..., integer arrays, boolean masks); repeated indices accumulate."""
        return ops.Index.apply(self, index=index_arg(index))

    def pad(self, pad_width, value=0.0):
        """Surround with a constant border, as ``np.pad(x, pad_width, constant_values=value)``.

        ``pad_width``: an int (every side of every axis), a ``(before, after)`` pair
        (every axis), or one pair per axis: ``x.pad(((0, 0), (0, 0), (1, 1), (2, 2)))``
        pads an (N, C, H, W) image by 1 row above and below and 2 columns left and right.
        """
        widths = np.asarray(pad_width)
        try:
            widths = np.broadcast_to(widths, (self.ndim, 2))
        except ValueError:
            raise ShapeError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {self.shape}; give an int, "
                             "a (before, after) pair, or one pair per axis") from None
        if widths.size and (widths.dtype.kind not in "iu" or widths.min() < 0):
            raise ValueError(f"pad: pad_width must hold non-negative integers, got {pad_width!r}")
        return ops.Pad.apply(self, pad_width=tuple((int(a), int(b)) for a, b in widths), value=value)

    # ------------------------------------------------------------------ in place (outside the graph)
    # A live graph may hold this tensor's array read-only (guards.inplace), and views are
    # read-only for good: then the update goes into a fresh array and the old one stays
    # intact for that graph. Every update bumps _version, which backward checks.

    def _writable(self, op):
        """This tensor's array, ready to be written in place (a fresh copy if a graph holds it read-only)."""
        if state.grad_enabled and self.requires_grad:
            raise RuntimeError(
                f"{op}: cannot change a tensor that requires grad in place while grad mode is on (shape "
                f"{self.shape}); wrap the update in `with tg.no_grad():`, e.g. `p -= lr * p.grad` inside it")
        if not self._data.flags.writeable:
            self._data = self._data.copy()
        return self._data

    def _update(self, op, compute, *args):
        """``compute(data, *args)`` writes into this tensor's array; the version goes up."""
        data = self._writable(op)
        try:
            compute(data, *args)
        except (TypeError, ValueError) as e:  # a float into an int tensor, a shape that does not broadcast
            error = TypeError if isinstance(e, TypeError) else ValueError  # NumPy's own classes need other arguments
            raise error(f"{op}: {e} (tensor of shape {self.shape}, dtype {self.dtype})") from None
        self._version += 1
        return self

    def copy_(self, src) :
        """Overwrite the data with ``src`` (broadcast to this shape), in place; use under ``no_grad``."""
        src = src._data if _is_tensor(src) else np.asarray(src)
        if not _broadcasts_to(src.shape, self.shape):
            raise ShapeError(f"copy_: cannot copy shape {np.shape(src)} into a tensor of shape {self.shape}")
        return self._update("copy_", np.copyto, src)

    def zero_(self) :
        """Set every element to 0, in place."""
        return self._update("zero_", np.copyto, 0)

    def fill_(self, value) :
        """Set every element to ``value``, in place."""
        return self._update("fill_", np.copyto, value)

    def add_(self, other, alpha=1.0) :
        """``self += alpha * other`` in place (optimizers' updates, under no_grad)."""
        other = _value(other) if alpha == 1.0 else alpha * _value(other)
        return self._update("add_", _in_place, np.add, other)

    def sub_(self, other, alpha=1.0) :
        """``self -= alpha * other`` in place: the plain SGD step ``w.sub_(w.grad, alpha=lr)``."""
        other = _value(other) if alpha == 1.0 else alpha * _value(other)
        return self._update("sub_", _in_place, np.subtract, other)

    def mul_(self, other) :
        """``self *= other`` in place (weight decay, momentum)."""
        other = _value(other)
        return self._update("mul_", _in_place, np.multiply, other)

    def div_(self, other) :
        """``self /= other`` in place."""
        other = _value(other)
        return self._update("div_", _in_place, np.true_divide, other)

    def __setitem__(self, index, value):
        index, value = index_arg(index), _value(value)
        self._update("__setitem__", np.ndarray.__setitem__, index, value)

    def _inplace(self, method, other, out_of_place):
        """``x op= y``: in place outside the graph; a recorded non-leaf is rebound (Python's fallback)."""
        if self._ctx is not None and state.grad_enabled:
            return out_of_place(self, other)
        return method(self, other)

    def __iadd__(self, other):
        return self._inplace(TensorOps.add_, other, TensorOps.__add__)

    def __isub__(self, other):
        return self._inplace(TensorOps.sub_, other, TensorOps.__sub__)

    def __imul__(self, other):
        return self._inplace(TensorOps.mul_, other, TensorOps.__mul__)

    def __itruediv__(self, other):
        return self._inplace(TensorOps.div_, other, TensorOps.__truediv__)

    # ------------------------------------------------------------------ the NumPy boundary

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and state.grad_enabled:
            raise TypeError(
                f"np.asarray() on a tensor that requires grad (shape {self.shape}) would drop it from the graph; use "
                "the tinygrad_edu function instead (tg.stack for a list of tensors, tg.exp, tg.concatenate, ...), "
                "or .detach().numpy() for the values")
        return self._data if dtype is None else self._data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        function = _UFUNCS.get(ufunc) or (globals()[ufunc.__name__] if ufunc.__name__ in __all__ else None)
        if method == "__call__" and not kwargs and function is not None:
            return function(*inputs)
        if not _needs_graph(inputs):
            return getattr(ufunc, method)(*_to_numpy(inputs), **_to_numpy(kwargs))
        if method != "__call__":
            raise _refused(f"np.{ufunc.__name__}.{method}", None)
        name = ufunc.__name__  # here with keywords (out=, dtype=, ...) that the tinygrad_edu function lacks
        raise _refused(f"np.{name}", name in __all__ and f"tg.{name}(...) without {'=, '.join(kwargs)}=")

    def __array_function__(self, func, types, args, kwargs):
        function = globals().get(func.__name__) if func.__name__ in __all__ else None
        if function is not None:
            try:
                return function(*args, **kwargs)
            except TypeError as e:  # NumPy's argument names where ours differ
                raise TypeError(f"np.{func.__name__} on a Tensor calls tg.{func.__name__}: {e}") from None
        if func.__name__ in _NO_GRADIENT or not _needs_graph((args, kwargs)):
            return func(*_to_numpy(args), **_to_numpy(kwargs))
        raise _refused(f"np.{func.__name__}", None)


# ---------------------------------------------------------------------------- helpers


def _refused(call, counterpart):
    """The error for a NumPy call that would turn a tensor that requires grad into a plain array."""
    fix = f"call {counterpart}" if counterpart else "tinygrad_edu has no counterpart: compose it from Tensor operations"
    return TypeError(f"{call} on a tensor that requires grad would drop it from the graph; {fix}, or use "
                     ".detach().numpy() to leave the graph on purpose")


def _as_floats(x, y):
    """``x / y`` of two integer (or bool) operands computes in the default float dtype, as in PyTorch."""
    if _kind(x) == "f" or _kind(y) == "f":
        return x, y
    target = _float_of(np.dtype(np.int64))
    return tuple(v if isinstance(v, _SCALARS) else _cast(v, target) for v in (x, y))


def _kind(value):
    return value.dtype.kind if hasattr(value, "dtype") else "f" if type(value) is float else "i"


def _in_place(data, ufunc, other):
    ufunc(data, other, out=data, casting="same_kind")


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _value(other):
    return other._data if _is_tensor(other) else other


def _shape_arg(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _movement_shape(numpy_fn, shape, axis, op):
    """The shape ``numpy_fn`` (np.squeeze, np.expand_dims) gives, or a ShapeError naming op, shape and axis."""
    try:
        return numpy_fn(np.empty(shape, dtype=bool), axis).shape
    except ValueError as e:  # NumPy's AxisError is a ValueError too
        raise ShapeError(f"{op}: {e} (tensor of shape {shape}, axis {axis!r})") from None


def _reduced_count(shape, axis, op):
    return math.prod(shape[a] for a in ops.normalize_axes(axis, len(shape), op))


def _needs_graph(values) -> bool:
    """True when some tensor inside ``values`` requires grad and grad mode is on (a result would drop it)."""
    if not state.grad_enabled:
        return False
    if _is_tensor(values):
        return values.requires_grad
    if isinstance(values, dict):
        values = values.values()
    return isinstance(values, (list, tuple, type({}.values()))) and builtins.any(map(_needs_graph, values))


def _to_numpy(values):
    """``values`` with every tensor inside replaced by its array (for NumPy functions outside the graph)."""
    if _is_tensor(values):
        return values._data
    if isinstance(values, dict):
        return {k: _to_numpy(v) for k, v in values.items()}
    return type(values)(map(_to_numpy, values)) if isinstance(values, (list, tuple)) else values


def as_tensor(x, like=None):
    """``x`` as a Tensor: itself, a list holding tensors stacked, or an array-like wrapped: in the dtype of
    ``like`` when that is a float tensor, else lists and numbers of numbers take the default float dtype."""
    if _is_tensor(x):
        return x
    array = as_operand(x)
    if _is_tensor(array):
        return array
    if like is not None and like.dtype.kind == "f":
        return _wrap(array.astype(like.dtype, copy=False))
    if array.dtype.kind in "iu" and not isinstance(x, np.ndarray):
        array = array.astype(_float_of(array.dtype))
    return _wrap(array)


# ---------------------------------------------------------------------------- module functions


def concatenate(tensors, axis=0):
    """Join tensors along an existing ``axis``; their shapes must agree on every other axis.

    Examples:
        >>> import tinygrad_edu as tg
        >>> tg.concatenate([tg.zeros(2, 1), tg.ones(2, 2)], axis=1).shape
        (2, 3)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    first = next((t for t in tensors if _is_tensor(t)), None)
    tensors = [as_tensor(t, first) for t in tensors]
    if axis is None:  # NumPy's meaning: join them flattened
        tensors, axis = [t.reshape(-1) for t in tensors], 0
    if builtins.any(t.ndim == 0 for t in tensors):
        raise ValueError("concatenate: 0-d tensors cannot be concatenated; use stack")
    (axis,) = ops.normalize_axes((axis,), tensors[0].ndim, "concatenate")
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new ``axis``: n tensors of shape S give (n, *S) for axis 0."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    first = next((t for t in tensors if _is_tensor(t)), None)
    tensors = [as_tensor(t, first) for t in tensors]  # a nested list holding tensors is stacked in turn
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def where(condition, x=None, y=None):
    """``x`` where ``condition`` holds, else ``y`` (differentiable in both); with ``condition`` alone, the
    indices where it holds, as ``np.where`` (a tuple of integer tensors)."""
    cond = condition._data if _is_tensor(condition) else np.asarray(condition)
    if x is None and y is None:
        return tuple(_wrap(i) for i in np.nonzero(cond))
    cond = cond.astype(bool, copy=False)
    if not (_holds_tensor(x) or _holds_tensor(y)):
        return _wrap(np.asarray(np.where(cond, x, y)))
    x, y = promote(x, y)
    return ops.Where.apply(cond, x, y)


def maximum(x, y):
    """Elementwise max; where x == y the gradient is shared equally."""
    return ops.Maximum.apply(*promote(*_one_tensor(x, y)))


def minimum(x, y):
    """Elementwise min; where x == y the gradient is shared equally."""
    return ops.Minimum.apply(*promote(*_one_tensor(x, y)))


def _one_tensor(x, y):
    """``(x, y)`` with a list holding tensors stacked, and ``x`` made a Tensor when neither is one."""
    x, y = (as_tensor(v) if isinstance(v, (list, tuple)) and _holds_tensor(v) else v for v in (x, y))
    return (x, y) if _is_tensor(x) or _is_tensor(y) else (as_tensor(x), y)


def dot(x, y):
    """``np.dot`` for 0-, 1- and 2-D operands (a product, an inner product, a matrix product)."""
    x, y = _one_tensor(x, y)
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        return x * y
    if builtins.max(np.ndim(x), np.ndim(y)) > 2:
        raise ShapeError(f"dot: operands of shapes {np.shape(x)} and {np.shape(y)}; for N-D use tg.matmul or tg.einsum")
    return as_tensor(x, y if _is_tensor(y) else None) @ y


def add(x, y):
    """``x + y`` for Tensors or array-likes (also what ``np.add`` on a Tensor calls)."""
    return ops.Add.apply(*promote(*_one_tensor(x, y)))


def subtract(x, y):
    """``x - y`` for Tensors or array-likes."""
    return ops.Sub.apply(*promote(*_one_tensor(x, y)))


def multiply(x, y):
    """``x * y`` for Tensors or array-likes."""
    return ops.Mul.apply(*promote(*_one_tensor(x, y)))


def divide(x, y):
    """``x / y`` for Tensors or array-likes (integers divide in the default float dtype)."""
    return ops.Div.apply(*_as_floats(*promote(*_one_tensor(x, y))))


def power(x, y):
    """``x ** y`` for Tensors or array-likes."""
    return ops.Pow.apply(*promote(*_one_tensor(x, y)))


def negative(x):
    """``-x`` for a Tensor or an array-like."""
    return -as_tensor(x)


def _outside_graph(ufunc):
    """A NumPy ufunc with no gradient (a comparison, a predicate): run on the arrays, a Tensor out."""
    return lambda *inputs: _wrap(np.asarray(ufunc(*_to_numpy(inputs))))


# NumPy ufuncs found by their own attributes; the others dispatch by name to the functions here
_UFUNCS = {u: _outside_graph(u) for u in (
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal, np.isfinite, np.isnan, np.isinf,
    np.signbit, np.logical_and, np.logical_or, np.logical_not, np.logical_xor)}
_UFUNCS.update({np.absolute: lambda x: as_tensor(x).abs(), np.positive: as_tensor})
# NumPy functions whose results have no gradient (shapes, dtypes, text, comparisons, indices): harmless on any tensor
_NO_GRADIENT = frozenset({"shape", "ndim", "size", "result_type", "may_share_memory", "shares_memory", "iscomplexobj",
                          "isrealobj", "array2string", "array_repr", "array_str", "broadcast_shapes", "array_equal",
                          "array_equiv", "allclose", "isclose", "argsort", "argwhere", "nonzero", "count_nonzero"})


def _alias(method):
    def function(x, *args, **kwargs):
        return getattr(as_tensor(x), method)(*args, **kwargs)

    function.__name__ = function.__qualname__ = method
    function.__doc__ = f"``tg.{method}(x, ...)`` is ``x.{method}(...)``, for a Tensor or an array-like ``x``."
    return function


_NOT_ALIASED = {"float", "double", "T", "tensor_type", "matmul"}
ALIASES = tuple(sorted(name for name in vars(TensorOps) if not name.startswith("_") and not name.endswith("_")
                       and name not in _NOT_ALIASED
                       and name not in globals()))
"""The Tensor methods that are also ``tg.`` functions (derived from ``TensorOps``)."""
globals().update({name: _alias(name) for name in ALIASES})


def matmul(x, y):
    """``x @ y`` for Tensors or array-likes."""
    return as_tensor(x, y if _is_tensor(y) else None) @ y


FUNCTIONS = ("concatenate", "stack", "where", "maximum", "minimum", "dot", "matmul", "add", "subtract", "multiply",
             "divide", "power", "negative")
"""The module functions written out above."""

__all__ = list(FUNCTIONS + ALIASES)
