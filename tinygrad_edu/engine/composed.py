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
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # PyTorch's selu


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
    """An ndarray's or Tensor's own ``astype`` (the Tensor's is differentiable between floats)."""
    return x if x.dtype == dtype else x.astype(dtype)


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

    def __mod__(self, other):
        return ops.Mod.apply(*promote(self, other))

    def __rmod__(self, other):
        return ops.Mod.apply(*promote(other, self))

    def __floordiv__(self, other):
        return _floor_divide(*promote(self, other))

    def __rfloordiv__(self, other):
        return _floor_divide(*promote(other, self))

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

    def floor(self):
        """Round down to an integer value (the dtype stays); zero gradient."""
        return ops.Step.apply(self, fn=np.floor)

    def ceil(self):
        """Round up to an integer value (the dtype stays); zero gradient."""
        return ops.Step.apply(self, fn=np.ceil)

    def trunc(self):
        """Round toward zero to an integer value (the dtype stays); zero gradient."""
        return ops.Step.apply(self, fn=np.trunc)

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

    # ------------------------------------------------------------------ more elementwise math (NumPy's names)

    def square(self):
        """Elementwise x * x."""
        return self * self

    def reciprocal(self):
        """Elementwise 1 / x (integers divide in the default float dtype, as in PyTorch)."""
        return 1 / self

    def exp2(self):
        """Elementwise 2**x."""
        return 2.0**self

    def expm1(self):
        """Elementwise e**x - 1, accurate for small x (where ``exp(x) - 1`` loses every digit)."""
        return ops.Expm1.apply(self)

    def log1p(self):
        """Elementwise log(1 + x), accurate for small x (where ``log(1 + x)`` loses every digit)."""
        return ops.Log1p.apply(self)

    def log2(self):
        """Elementwise base-2 logarithm, exact at powers of 2 as NumPy's."""
        return ops.LogBase.apply(self, base=2)

    def log10(self):
        """Elementwise base-10 logarithm, exact at powers of 10 as NumPy's."""
        return ops.LogBase.apply(self, base=10)

    def tan(self):
        """Elementwise tangent, composed as ``sin(x) / cos(x)``."""
        return self.sin() / self.cos()

    def arcsin(self):
        """Elementwise inverse sine, nan outside [-1, 1] as NumPy; the gradient at +-1 is inf, as in PyTorch."""
        return ops.Arcsin.apply(self)

    def arccos(self):
        """Elementwise inverse cosine, nan outside [-1, 1] as NumPy; the gradient at +-1 is -inf, as in PyTorch."""
        return ops.Arccos.apply(self)

    def arctan(self):
        """Elementwise inverse tangent, composed as ``arctan2(x, 1)``."""
        return self.arctan2(1.0)

    def arctan2(self, other):
        """The angle of the point (other, self) in (-pi, pi], as ``np.arctan2(self, other)`` (broadcasting);
        the gradient at the origin is 0, as in PyTorch."""
        return ops.Arctan2.apply(*_as_floats(*promote(self, other)))

    def hypot(self, other):
        """sqrt(x**2 + y**2) without overflow or underflow (broadcasting); the gradient at the origin is nan,
        as in PyTorch."""
        return ops.Hypot.apply(*_as_floats(*promote(self, other)))

    def logaddexp(self, other):
        """log(exp(x) + exp(y)) without overflow (broadcasting); at x == y each gets half the gradient."""
        return ops.LogAddExp.apply(*_as_floats(*promote(self, other)))

    def sinh(self):
        """Elementwise hyperbolic sine."""
        return ops.Sinh.apply(self)

    def cosh(self):
        """Elementwise hyperbolic cosine."""
        return ops.Cosh.apply(self)

    def arcsinh(self):
        """Elementwise inverse hyperbolic sine."""
        return ops.Arcsinh.apply(self)

    def arccosh(self):
        """Elementwise inverse hyperbolic cosine, nan below 1 as NumPy; the gradient at 1 is inf, as in PyTorch."""
        return ops.Arccosh.apply(self)

    def arctanh(self):
        """Elementwise inverse hyperbolic tangent, composed as ``(log1p(x) - log1p(-x)) / 2``; +-inf at +-1."""
        return (self.log1p() - (-self).log1p()) * 0.5

    def erf(self):
        """Elementwise error function, 2/sqrt(pi) * integral of exp(-t**2) from 0 to x (as ``math.erf``)."""
        return ops.Erf.apply(self)

    # ------------------------------------------------------------------ activations (PyTorch's slopes at the kinks)

    def softplus(self, beta=1.0):
        """Elementwise log(1 + exp(beta * x)) / beta, without overflow. Unlike PyTorch it has no ``threshold``
        above which it returns x: the exact value is as cheap."""
        if beta == 1.0:
            return ops.Softplus.apply(self)
        return ops.Softplus.apply(self * beta) * (1.0 / beta)

    def elu(self, alpha=1.0):
        """Elementwise ``x if x > 0 else alpha * (exp(x) - 1)``; the slope at 0 is alpha, as in PyTorch."""
        return self.relu() + alpha * self.clip(hi=0).expm1()

    def selu(self):
        """Elementwise ``scale * elu(x, alpha)`` with PyTorch's constants (self-normalising networks)."""
        return _SELU_SCALE * self.elu(_SELU_ALPHA)

    def gelu(self, approximate="none"):
        """Elementwise x * Phi(x), Phi the standard normal CDF: ``x / 2 * (1 + erf(x / sqrt(2)))``, or with
        ``approximate="tanh"`` PyTorch's ``x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``."""
        if approximate == "tanh":
            return 0.5 * self * (1 + (math.sqrt(2 / math.pi) * (self + 0.044715 * self * self * self)).tanh())
        if approximate != "none":
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return 0.5 * self * (1 + (self * math.sqrt(0.5)).erf())

    def silu(self):
        """Elementwise x * sigmoid(x) (also called swish)."""
        return self * self.sigmoid()

    def mish(self):
        """Elementwise x * tanh(softplus(x))."""
        return self * self.softplus().tanh()

    def logsigmoid(self):
        """Elementwise log(sigmoid(x)) = -softplus(-x), without overflow."""
        return -(-self).softplus()

    def hardtanh(self, min_val=-1.0, max_val=1.0):
        """Elementwise clip into [min_val, max_val]; unlike ``clip`` the slope at both ends is 0, as PyTorch's
        hardtanh. (The mask comes from the values, so a model using it does not export to ONNX.)"""
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} is above max_val {max_val}")
        inside = (self._data > min_val) & (self._data < max_val)
        return where(inside, self, np.clip(self._data, min_val, max_val))

    def hardsigmoid(self):
        """Elementwise ``relu6(x + 3) / 6``: 0 below -3, 1 above 3, with slope 0 at both ends as in PyTorch."""
        return (self + 3).hardtanh(0.0, 6.0) / 6

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
        """Standard deviation, ``sqrt(var)`` (nan where n - ddof <= 0). Where it is 0 (one value, or all equal)
        sqrt has no derivative; the gradient there is 0, PyTorch's choice."""
        return _power_flat_at_zero(self.var(axis=axis, ddof=ddof, keepdims=keepdims), 0.5)

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
        return _wrap(np.asarray(np.any(self._data, axis=ops.normalize_axes(axis, self.ndim, "any"),
                                       keepdims=keepdims)))

    def all(self, axis=None, keepdims=False):
        """Whether every element along ``axis`` is nonzero (a bool tensor, outside the graph)."""
        return _wrap(np.asarray(np.all(self._data, axis=ops.normalize_axes(axis, self.ndim, "all"),
                                       keepdims=keepdims)))

    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum along ``axis`` (an integer tensor, outside the graph)."""
        return _wrap(np.asarray(np.argmax(self._data, axis=axis, keepdims=keepdims)))

    def argmin(self, axis=None, keepdims=False):
        """Index of the minimum along ``axis`` (an integer tensor, outside the graph)."""
        return _wrap(np.asarray(np.argmin(self._data, axis=axis, keepdims=keepdims)))

    def prod(self, axis=None, keepdims=False):
        """Product over ``axis``; the gradient is the product of the other elements, exact where there are zeros
        (one zero: only it gets a gradient; two or more: none does), as in PyTorch."""
        return ops.Prod.apply(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        """Running sums along ``axis``; ``axis=None`` runs over the flattened tensor, as NumPy."""
        if axis is None:
            return ops.Cumsum.apply(self.reshape(-1), axis=0)
        return ops.Cumsum.apply(self, axis=_axis(axis, self.ndim, "cumsum"))

    def cumprod(self, axis=None):
        """Running products along ``axis`` (None: over the flattened tensor); exact gradients where there are
        zeros, as in PyTorch."""
        if axis is None:
            return ops.Cumprod.apply(self.reshape(-1), axis=0)
        return ops.Cumprod.apply(self, axis=_axis(axis, self.ndim, "cumprod"))

    def norm(self, ord=None, axis=None, keepdims=False):
        """``np.linalg.norm``: a vector norm over one axis, a matrix norm over two, or with ``ord=None`` the
        2-norm of all the elements (Frobenius for a matrix).

        ``ord`` for vectors: any p > 0 (``(sum |x|**p) ** (1/p)``), ``inf`` (max |x|), ``-inf`` (min |x|) or 0
        (the count of nonzeros, outside the graph). For matrices: ``"fro"``, 1 and -1 (max and min column sum
        of |x|), ``inf`` and ``-inf`` (row sums). Where a norm is 0 its slope is infinite or undefined; the
        gradient there is 0, as in PyTorch.
        """
        if axis is None:
            if ord is not None and self.ndim not in (1, 2):
                raise ShapeError(f"norm: ord={ord!r} needs a 1-D or 2-D tensor (or an axis), got shape {self.shape}")
            axes = tuple(range(self.ndim)) if ord is None or self.ndim == 1 else (0, 1)
        else:
            axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
            axes = tuple(_axis(a, self.ndim, "norm") for a in axes)
            if len(set(axes)) != len(axes) or len(axes) > 2:
                raise ShapeError(f"norm: axis must be one axis or two different ones, got {axis!r}")
        if len(axes) == 2 and not (ord is None and axis is None):
            return _matrix_norm(self, ord, axes, keepdims)
        return _vector_norm(self, 2 if ord is None else ord, axes, keepdims)

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

    def flatten(self, start_axis=0, end_axis=-1):
        """Merge the axes from ``start_axis`` to ``end_axis`` (both included) into one:
        (N, C, H, W).flatten(1) -> (N, C*H*W); (N, C, H, W).flatten(2, 3) -> (N, C, H*W); 0-d -> (1,)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _axis(start_axis, self.ndim, "flatten"), _axis(end_axis, self.ndim, "flatten")
        if start > end:
            raise ShapeError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} (shape {self.shape})")
        merged = int(np.prod(self.shape[start:end + 1]))
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def moveaxis(self, source, destination):
        """Move axes to new positions, the others keeping their order: ``(A, B, C).moveaxis(0, -1)`` is (B, C, A)."""
        source = [_axis(a, self.ndim, "moveaxis") for a in np.atleast_1d(source).tolist()]
        destination = [_axis(a, self.ndim, "moveaxis") for a in np.atleast_1d(destination).tolist()]
        if len(source) != len(destination) or len(set(source)) != len(source) or len(set(destination)) != len(source):
            raise ShapeError(f"moveaxis: source {source} and destination {destination} must be as many distinct axes")
        order = [a for a in range(self.ndim) if a not in source]
        for dest, src in sorted(zip(destination, source)):
            order.insert(dest, src)
        return self.transpose(tuple(order))

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
        A negative width crops that many elements instead (as PyTorch's ``F.pad``; ``np.pad`` refuses it).
        """
        widths = np.asarray(pad_width)
        try:
            widths = np.broadcast_to(widths, (self.ndim, 2))
        except ValueError:
            raise ShapeError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {self.shape}; give an int, "
                             "a (before, after) pair, or one pair per axis") from None
        if widths.size and widths.dtype.kind not in "iu":
            raise ValueError(f"pad: pad_width must hold integers, got {pad_width!r}")
        x = self
        if widths.size and widths.min() < 0:  # negative widths crop first
            crops = np.maximum(-widths, 0)
            too_much = [a for a, (before, after) in enumerate(crops) if before + after > self.shape[a]]
            if too_much:
                raise ShapeError(f"pad: pad_width {pad_width!r} crops more than the {self.shape[too_much[0]]} "
                                 f"elements of axis {too_much[0]} (shape {self.shape})")
            x = self[tuple(slice(int(before), -int(after) or None) for before, after in crops)]
        return ops.Pad.apply(x, pad_width=tuple((int(a), int(b)) for a, b in np.maximum(widths, 0)), value=value)

    def flip(self, axis=None):
        """Reverse the order of the elements along ``axis`` (None: every axis); a read-only view."""
        axes = ops.normalize_axes(axis, self.ndim, "flip")
        return self[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(self.ndim))]

    def roll(self, shift, axis=None):
        """Shift the elements along ``axis`` by ``shift``, those pushed off the end coming back at the start
        (``axis=None``: over the flattened tensor); ``shift`` and ``axis`` may be tuples of the same length."""
        if axis is None:
            return self.reshape(-1).roll(shift, 0).reshape(self.shape)
        try:
            pairs = np.broadcast(_integer_index(shift, "roll", "shift"), np.asarray(axis))
        except ValueError:
            raise ShapeError(f"roll: shift {shift!r} and axis {axis!r} do not pair up") from None
        out = self[...]
        for step, a in pairs:
            a = _axis(int(a), self.ndim, "roll")
            size = self.shape[a]
            cut = size - int(step) % size if size else 0
            if 0 < cut < size:
                lead = (slice(None),) * a
                out = concatenate([out[lead + (slice(cut, None),)], out[lead + (slice(0, cut),)]], axis=a)
        return out

    def repeat(self, repeats, axis=None):
        """NumPy's repeat (PyTorch's ``repeat_interleave``; PyTorch's ``Tensor.repeat`` is ``tile``): each element
        ``repeats`` times in a row along ``axis`` (None: over the flattened tensor); ``repeats`` an int, or one
        count per element along the axis."""
        if axis is None or (self.ndim == 0 and axis in (0, -1)):  # NumPy repeats a 0-d tensor as a 1-d one
            return self.reshape(-1).repeat(repeats, 0)
        axis = _axis(axis, self.ndim, "repeat")
        counts = np.asarray(_value(repeats))
        if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts.size and counts.min() < 0):
            raise ValueError(f"repeat: repeats must be a non-negative int or a 1-D array of them, got {repeats!r}")
        before, size, after = self.shape[:axis], self.shape[axis], self.shape[axis + 1:]
        if counts.size == 1:  # one count for all: broadcast along a new axis, then merge it in
            count = int(counts.flat[0])
            spread = self.expand_dims(axis + 1).broadcast_to(before + (size, count) + after)
            return spread.reshape(before + (size * count,) + after)
        if counts.size != size:
            raise ShapeError(f"repeat: {counts.size} counts for axis {axis} of size {size} (shape {self.shape})")
        return self[(slice(None),) * axis + (np.repeat(np.arange(size), counts),)]

    def tile(self, reps):
        """``np.tile``: the whole tensor repeated ``reps`` times along each axis (PyTorch's ``Tensor.repeat``);
        ``reps`` an int or a tuple, the shorter of ``reps`` and the shape padded with leading 1s."""
        reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
        if not builtins.all(isinstance(r, (int, np.integer)) and r >= 0 for r in reps):
            raise ValueError(f"tile: reps must be non-negative ints, got {reps!r}")
        ndim = builtins.max(len(reps), self.ndim)
        shape, reps = (1,) * (ndim - self.ndim) + self.shape, (1,) * (ndim - len(reps)) + reps
        interleaved = self.reshape(tuple(n for size in shape for n in (1, size)))
        spread = interleaved.broadcast_to(tuple(n for pair in zip(reps, shape) for n in pair))
        return spread.reshape(tuple(int(r) * size for r, size in zip(reps, shape)))

    def diag(self, k=0):
        """``np.diag``: a 1-D tensor as the ``k``-th diagonal of a square matrix (k > 0 above the main one), or a
        2-D tensor's ``k``-th diagonal."""
        if self.ndim == 2:
            return self.diagonal(k)
        if self.ndim != 1:
            raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {self.shape}")
        square = where(np.eye(self.shape[0], dtype=bool), self, np.zeros((), self.dtype))
        above, below = builtins.max(k, 0), builtins.max(-k, 0)
        return square.pad(((below, above), (above, below)))

    def diagonal(self, offset=0, axis1=0, axis2=1):
        """``np.diagonal``: the elements ``[i, i + offset]`` of the (axis1, axis2) planes, as a last axis."""
        a1, a2 = _axis(axis1, self.ndim, "diagonal"), _axis(axis2, self.ndim, "diagonal")
        if a1 == a2:
            raise ShapeError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2} (shape {self.shape})")
        planes = self.moveaxis((a1, a2), (-2, -1))
        rows, columns = planes.shape[-2:]
        first_row, first_column = builtins.max(-offset, 0), builtins.max(offset, 0)
        length = builtins.max(builtins.min(rows - first_row, columns - first_column), 0)
        # in the flattened plane, [r, c] is at r * columns + c: the diagonal is every (columns + 1)-th element
        flat = planes.reshape(planes.shape[:-2] + (rows * columns,))
        start = first_row * columns + first_column
        return flat[..., start:start + length * (columns + 1):columns + 1]

    def trace(self, offset=0, axis1=0, axis2=1):
        """``np.trace``: the sum of ``diagonal(offset, axis1, axis2)``."""
        self._matrix_shape("trace")
        return self.diagonal(offset, axis1, axis2).sum(axis=-1)

    def tril(self, k=0):
        """``np.tril``: zeros above the ``k``-th diagonal of the last two axes (k > 0: above the main one)."""
        return where(np.tri(*self._matrix_shape("tril"), k=k, dtype=bool), self, np.zeros((), self.dtype))

    def triu(self, k=0):
        """``np.triu``: zeros below the ``k``-th diagonal of the last two axes (k < 0: below the main one)."""
        return where(np.tri(*self._matrix_shape("triu"), k=k - 1, dtype=bool), np.zeros((), self.dtype), self)

    def _matrix_shape(self, op):
        if self.ndim < 2:
            raise ShapeError(f"{op}: expected at least 2 dimensions (..., M, N), got shape {self.shape}")
        return self.shape[-2:]

    def take(self, indices, axis=None):
        """``np.take``: the elements at ``indices`` along ``axis`` (None: of the flattened tensor); repeated
        indices accumulate their gradients."""
        indices = _integer_index(indices, "take")
        flat, axis = (self.reshape(-1), 0) if axis is None else (self, _axis(axis, self.ndim, "take"))
        _check_bounds(indices, flat.shape[axis], "take")
        return flat[(slice(None),) * axis + (indices,)]

    def take_along_axis(self, indices, axis):
        """``np.take_along_axis`` (PyTorch's ``gather``): ``out[..., i, ...] = x[..., indices[..., i, ...], ...]``
        along ``axis``; ``indices`` has as many axes as x, the others broadcasting against x's."""
        indices = _integer_index(indices, "take_along_axis")
        if axis is None:
            return self.reshape(-1).take_along_axis(indices, 0)
        axis = _axis(axis, self.ndim, "take_along_axis")
        if indices.ndim != self.ndim:
            raise ShapeError(f"take_along_axis: indices of shape {indices.shape} need {self.ndim} axes, as the "
                             f"tensor of shape {self.shape}")
        try:
            return self[_along_axis(indices, axis, self.shape)]
        except IndexError as e:
            raise ShapeError(f"take_along_axis: indices of shape {indices.shape} along axis {axis} of a tensor of "
                             f"shape {self.shape}: {e}") from None

    def index_add(self, axis, index, source):
        """PyTorch's ``index_add``, out of place: a copy of x with the slices of ``source`` added at the positions
        ``index`` along ``axis`` (repeated positions add up): ``np.add.at`` without changing x."""
        axis, index = _axis(axis, self.ndim, "index_add"), _integer_index(index, "index_add")
        source = as_tensor(source, self)
        expected = self.shape[:axis] + (index.size,) + self.shape[axis + 1:]
        if index.ndim != 1 or source.shape != expected:
            raise ShapeError(f"index_add: a 1-D index and a source of shape {expected} fit a tensor of shape "
                             f"{self.shape} along axis {axis}; got index shape {index.shape}, source shape "
                             f"{source.shape}")
        _check_bounds(index, self.shape[axis], "index_add")
        return self + ops.IndexAdd.apply(source, shape=self.shape, index=(slice(None),) * axis + (index,))

    def scatter_add(self, axis, index, src):
        """PyTorch's ``scatter_add``, out of place (the reverse of ``take_along_axis``): a copy of x with
        ``src[..., i, ...]`` added at ``x[..., index[..., i, ...], ...]`` along ``axis``; ``index`` has as many
        axes as x, and ``src`` is read where ``index`` has entries."""
        axis, index = _axis(axis, self.ndim, "scatter_add"), _integer_index(index, "scatter_add")
        src = as_tensor(src, self)
        fits = index.ndim == self.ndim == src.ndim and builtins.all(
            n <= s and (a == axis or n <= m) for a, (n, s, m) in enumerate(zip(index.shape, src.shape, self.shape)))
        if not fits:
            raise ShapeError(f"scatter_add: an index of shape {index.shape} needs a src at least as large (got "
                             f"{src.shape}) and, off axis {axis}, a tensor at least as large (got {self.shape})")
        _check_bounds(index, self.shape[axis], "scatter_add")
        part = src[tuple(slice(0, n) for n in index.shape)]
        return self + ops.IndexAdd.apply(part, shape=self.shape, index=_along_axis(index, axis, index.shape))

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
    target = get_default_dtype()
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


def _axis(axis, ndim, op):
    """One axis (negative counts from the end) as a non-negative int, or a ShapeError naming ``op``."""
    if ndim == 0:
        raise ShapeError(f"{op}: a 0-d tensor has no axis {axis!r}")
    return ops.normalize_axes((axis,), ndim, op)[0]


def _integer_index(indices, op, what="indices"):
    """``indices`` (a list, an array, an integer tensor) as an integer ndarray of our own."""
    array = np.array(index_arg(indices))
    if array.dtype.kind not in "iu":
        raise IndexError(f"{op}: {what} must be integers, got dtype {array.dtype}")
    return array


def _check_bounds(index, size, op):
    if index.size and (index.min() < -size or index.max() >= size):
        raise IndexError(f"{op}: index {int(index.max() if index.max() >= size else index.min())} is out of range "
                         f"for an axis of size {size}")


def _along_axis(indices, axis, shape):
    """The NumPy index picking ``indices`` along ``axis`` and, on every other axis a, position i of ``shape[a]``
    (as ``np.take_along_axis`` builds it)."""
    ndim = len(shape)
    return tuple(indices if a == axis else np.arange(shape[a]).reshape((-1,) + (1,) * (ndim - 1 - a))
                 for a in range(ndim))


def _power_flat_at_zero(value, power):
    """``value ** power`` (power > 0) with slope 0 where ``value`` is 0: where the true slope is infinite
    (sqrt) or undefined, PyTorch's choice for std and norms. (Two wheres, so the unused branch has no inf.)"""
    zero = _value(value) == 0
    if not np.any(zero):
        return value**power
    return where(zero, 0.0, where(zero, 1.0, value) ** power)


_VECTOR_NORMS = {  # ord -> the norm over axes; any other p > 0 is (sum |x|**p) ** (1/p)
    np.inf: lambda x, axes, keepdims: x.abs().max(axis=axes, keepdims=keepdims),
    -np.inf: lambda x, axes, keepdims: x.abs().min(axis=axes, keepdims=keepdims),
    1: lambda x, axes, keepdims: x.abs().sum(axis=axes, keepdims=keepdims),
    # x * x, not |x|**2: the slope of |x| at 0 is 0, which would make the second derivative of x**2 at 0 vanish too
    2: lambda x, axes, keepdims: _power_flat_at_zero((x * x).sum(axis=axes, keepdims=keepdims), 0.5),
}


def _vector_norm(x, ord, axes, keepdims):
    if ord in _VECTOR_NORMS:
        return _VECTOR_NORMS[ord](x, axes, keepdims)
    if isinstance(ord, str) or not ord >= 0:
        raise ValueError(f"norm: ord={ord!r} is not a vector norm here; use p > 0, 0, inf or -inf")
    if ord == 0:  # the count of nonzero elements: no gradient, as in PyTorch
        count = (x != 0).astype(x.dtype if x.dtype.kind == "f" else get_default_dtype())
        return count.sum(axis=axes, keepdims=keepdims)
    powered = _power_flat_at_zero(x.abs(), ord).sum(axis=axes, keepdims=keepdims)
    return _power_flat_at_zero(powered, 1.0 / ord)


_MATRIX_NORMS = {  # ord -> (the axis summed: 0 the rows' axis, 1 the columns'; then max or min over the other)
    1: (0, "max"), -1: (0, "min"), np.inf: (1, "max"), -np.inf: (1, "min"),
}


def _matrix_norm(x, ord, axes, keepdims):
    if ord in (None, "fro"):
        return _vector_norm(x, 2, axes, keepdims)
    if ord not in _MATRIX_NORMS:
        raise ValueError(f"norm: ord={ord!r} for matrices is not available (2, -2 and 'nuc' need singular values); "
                         "use 'fro', 1, -1, inf or -inf")
    summed, pick = _MATRIX_NORMS[ord]
    sums = x.abs().sum(axis=axes[summed], keepdims=True)
    out = getattr(sums, pick)(axis=axes[1 - summed], keepdims=True)
    return out if keepdims else out.squeeze(axes)


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
    if (x is None) != (y is None):
        raise TypeError("where: give both x and y, or neither (then it returns the indices where condition holds)")
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


def mod(x, y):
    """``x % y`` for Tensors or array-likes: the remainder with the sign of ``y``, as ``np.mod``."""
    return ops.Mod.apply(*promote(*_one_tensor(x, y)))


def remainder(x, y):
    """``x % y``: NumPy's and PyTorch's other name for ``tg.mod``."""
    return mod(x, y)


def floor_divide(x, y):
    """``x // y`` for Tensors or array-likes, as ``np.floor_divide``; zero gradient (piecewise constant)."""
    return _floor_divide(*promote(*_one_tensor(x, y)))


def _floor_divide(x, y):
    try:
        return ops.Step.apply(x, y, fn=np.floor_divide)
    except ShapeError:  # Step's message would name the primitive, not the op the user called
        raise ShapeError(f"floor_divide (//): shapes {np.shape(_value(x))} and {np.shape(_value(y))} do not "
                         "broadcast") from None


def array_split(x, indices_or_sections, axis=0):
    """``np.array_split``: a list of views of ``x`` along ``axis``, cut into n parts (the first ``len % n`` one
    longer) or at the given indices."""
    x = as_tensor(x)
    axis = _axis(axis, x.ndim, "array_split")
    size = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections <= 0:
            raise ValueError(f"array_split: the number of sections must be positive, got {indices_or_sections}")
        part, longer = divmod(size, int(indices_or_sections))
        bounds = np.cumsum([0] + [part + 1] * longer + [part] * (int(indices_or_sections) - longer)).tolist()
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [size]
    lead = (slice(None),) * axis
    return [x[lead + (slice(start, stop),)] for start, stop in zip(bounds[:-1], bounds[1:])]


def split(x, indices_or_sections, axis=0):
    """``np.split``: as ``array_split``, but n sections must divide the axis evenly. (PyTorch's
    ``Tensor.split`` takes a section's size instead: ``tg.split(x, x.shape[0] // size)``.)"""
    x = as_tensor(x)
    if isinstance(indices_or_sections, (int, np.integer)) and indices_or_sections > 0:
        size = x.shape[_axis(axis, x.ndim, "split")]
        if size % indices_or_sections:
            raise ValueError(f"split: {indices_or_sections} sections do not divide axis {axis} of size {size} evenly "
                             f"(shape {x.shape}); use tg.array_split")
    return array_split(x, indices_or_sections, axis)


def _at_least(tensors, reshape):
    """One tensor for one argument, else a tuple (as NumPy 2's ``atleast_*d``)."""
    first = next((t for t in tensors if _is_tensor(t)), None)
    out = tuple(reshape(as_tensor(t, first)) for t in tensors)
    return out[0] if len(out) == 1 else out


def atleast_1d(*tensors):
    """``np.atleast_1d``: each tensor with at least one axis (0-d becomes (1,))."""
    return _at_least(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    """``np.atleast_2d``: each tensor with at least two axes ((n,) becomes (1, n))."""
    return _at_least(tensors, lambda t: t.reshape((1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t)


def atleast_3d(*tensors):
    """``np.atleast_3d``: each tensor with at least three axes ((n,) becomes (1, n, 1), (m, n) becomes (m, n, 1))."""
    shapes = {0: lambda s: (1, 1, 1), 1: lambda s: (1,) + s + (1,), 2: lambda s: s + (1,)}
    return _at_least(tensors, lambda t: t.reshape(shapes[t.ndim](t.shape)) if t.ndim < 3 else t)


def _two_tensors(x, y):
    first = x if _is_tensor(x) else y if _is_tensor(y) else None
    return as_tensor(x, first), as_tensor(y, first)


def outer(x, y):
    """``np.outer``: ``out[i, j] = x[i] * y[j]`` over the flattened inputs."""
    x, y = _two_tensors(x, y)
    return x.reshape(-1, 1) * y.reshape(1, -1)


def inner(x, y):
    """``np.inner``: products summed over the last axis of both (a 0-d operand just multiplies)."""
    x, y = _two_tensors(x, y)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    return tensordot(x, y, axes=([-1], [-1]))


def tensordot(x, y, axes=2):
    """``np.tensordot``: products summed over pairs of axes: ``axes=n`` pairs x's last n with y's first n,
    ``axes=(x_axes, y_axes)`` names them. The result has x's other axes, then y's. One matmul."""
    x, y = _two_tensors(x, y)
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= builtins.min(x.ndim, y.ndim):
            raise ShapeError(f"tensordot: axes={axes} for operands of shapes {x.shape} and {y.shape}")
        x_axes, y_axes = list(range(x.ndim - axes, x.ndim)), list(range(axes))
    else:
        x_axes, y_axes = (np.atleast_1d(a).tolist() for a in axes)
        x_axes = [_axis(a, x.ndim, "tensordot") for a in x_axes]
        y_axes = [_axis(a, y.ndim, "tensordot") for a in y_axes]
    if [x.shape[a] for a in x_axes] != [y.shape[a] for a in y_axes] or len(set(x_axes)) != len(x_axes):
        raise ShapeError(f"tensordot: axes {x_axes} of shape {x.shape} do not match axes {y_axes} of shape {y.shape}")
    x_free = [a for a in range(x.ndim) if a not in x_axes]
    y_free = [a for a in range(y.ndim) if a not in y_axes]
    inner_size = int(np.prod([x.shape[a] for a in x_axes]))
    left = x.transpose(tuple(x_free + x_axes)).reshape(int(np.prod([x.shape[a] for a in x_free])), inner_size)
    right = y.transpose(tuple(y_axes + y_free)).reshape(inner_size, int(np.prod([y.shape[a] for a in y_free])))
    return (left @ right).reshape(tuple(x.shape[a] for a in x_free) + tuple(y.shape[a] for a in y_free))


def einsum(subscripts, *operands):
    """``np.einsum``: sums of products named by index letters. ``"ij,jk->ik"`` is a matrix product,
    ``"ij,jk"`` the same (implicit form: the output has the letters used once, in alphabetical order),
    ``"ii->i"`` a diagonal, ``"ii"`` a trace, ``"...ij,...jk->...ik"`` a batched product (``...``: the
    broadcast axes). Operands are contracted two at a time, left to right, each pair by one matmul.

    Examples:
        >>> import tinygrad_edu as tg
        >>> tg.einsum("ij,j->i", tg.ones(2, 3), tg.Tensor([1.0, 2.0, 3.0]))
        Tensor([6., 6.], dtype=float32)
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: give the subscripts as a string, e.g. tg.einsum('ij,jk->ik', a, b)")
    first = next((t for t in operands if _is_tensor(t)), None)
    tensors = [as_tensor(t, first) for t in operands]
    terms, output = _einsum_parse(subscripts.replace(" ", ""), tensors)
    pairs = [_einsum_diagonals(t, term, subscripts) for t, term in zip(tensors, terms)]
    sizes = _einsum_sizes(subscripts, pairs)
    everywhere = "".join(labels for _, labels in pairs) + output
    pairs = [_einsum_sum(t.broadcast_to(tuple(sizes[c] for c in labels)), labels,
                         {c for c in labels if everywhere.count(c) > 1}) for t, labels in pairs]
    tensor, labels = pairs[0]
    for k in range(1, len(pairs)):
        needed = set(output).union(*(later for _, later in pairs[k + 1:]))
        tensor, labels = _einsum_pair(tensor, labels, *pairs[k], needed, sizes)
    return tensor if labels == output else tensor.transpose(tuple(labels.index(c) for c in output))


def _einsum_parse(subscripts, tensors):
    """The operands' label strings and the output's, with ``...`` spelled out as one label per broadcast
    axis (characters no letter can clash with), right-aligned across operands as NumPy broadcasts."""
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(tensors):
        raise ValueError(f"einsum: '{subscripts}' names {len(terms)} operand(s), got {len(tensors)}")
    for term in terms + [output]:
        letters = term.replace("...", "", 1)
        if not builtins.all(c.isascii() and c.isalpha() for c in letters):
            raise ValueError(f"einsum: the term {term!r} of '{subscripts}' is not letters with at most one '...'")
    extra = [t.ndim - len(term.replace("...", "")) for term, t in zip(terms, tensors)]
    for term, t, n in zip(terms, tensors, extra):
        if n < 0 or (n and "..." not in term):
            raise ShapeError(f"einsum: the term {term!r} of '{subscripts}' does not fit an operand of shape {t.shape}")
    dots = "".join(chr(0x100 + i) for i in range(builtins.max(extra, default=0)))
    terms = [term.replace("...", dots[len(dots) - n:]) for term, n in zip(terms, extra)]
    joined = "".join(terms)
    if not arrow:
        return terms, dots + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in dots))
    if dots and "..." not in output:
        raise ValueError(f"einsum: the operands of '{subscripts}' have '...' axes; the output needs '...' too")
    output = output.replace("...", dots)
    if len(set(output)) != len(output) or not set(output) <= set(joined):
        raise ValueError(f"einsum: the output of '{subscripts}' repeats a letter or has one no operand has")
    return terms, output


def _einsum_diagonals(tensor, labels, subscripts):
    """A label repeated within one operand (``ii``) takes the diagonal of those axes."""
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        a = labels.index(c)
        b = labels.index(c, a + 1)
        if tensor.shape[a] != tensor.shape[b]:
            raise ShapeError(f"einsum: {c!r} repeats in a term of '{subscripts}' over axes of sizes "
                             f"{tensor.shape[a]} and {tensor.shape[b]} (operand shape {tensor.shape})")
        tensor = tensor.diagonal(0, a, b)
        labels = "".join(x for i, x in enumerate(labels) if i not in (a, b)) + c
    return tensor, labels


def _einsum_sizes(subscripts, pairs):
    """Each label's size; operands must agree on it, except that a size of 1 broadcasts (as NumPy's einsum)."""
    sizes = {}
    for tensor, labels in pairs:
        for c, n in zip(labels, tensor.shape):
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise ShapeError(f"einsum: '{subscripts}' gives {c!r} the sizes {sizes[c]} and {n} (operand shapes "
                                 f"{', '.join(str(t.shape) for t, _ in pairs)})")
            sizes[c] = n if n != 1 else sizes.get(c, 1)
    return sizes


def _einsum_sum(tensor, labels, keep):
    """Sum away the axes whose labels are not in ``keep``."""
    gone = tuple(i for i, c in enumerate(labels) if c not in keep)
    return (tensor.sum(axis=gone), "".join(c for c in labels if c in keep)) if gone else (tensor, labels)


def _einsum_pair(a, a_labels, b, b_labels, needed, sizes):
    """Contract two operands with one batched matmul: (shared kept, a's own, shared summed) @ (shared kept,
    shared summed, b's own). Every label has its full size in both (broadcast beforehand)."""
    batch = [c for c in a_labels if c in b_labels and c in needed]
    summed = [c for c in a_labels if c in b_labels and c not in needed]
    a_own = [c for c in a_labels if c not in b_labels]
    b_own = [c for c in b_labels if c not in a_labels]

    def size(labels):
        return int(np.prod([sizes[c] for c in labels]))

    left = a.transpose(tuple(a_labels.index(c) for c in batch + a_own + summed))
    right = b.transpose(tuple(b_labels.index(c) for c in batch + summed + b_own))
    left = left.reshape(size(batch), size(a_own), size(summed))
    product = left @ right.reshape(size(batch), size(summed), size(b_own))
    return product.reshape(tuple(sizes[c] for c in batch + a_own + b_own)), "".join(batch + a_own + b_own)


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
             "divide", "power", "negative", "mod", "remainder", "floor_divide", "array_split", "split", "atleast_1d",
             "atleast_2d", "atleast_3d", "outer", "inner", "tensordot", "einsum")
"""The module functions written out above."""

__all__ = list(FUNCTIONS + ALIASES)
