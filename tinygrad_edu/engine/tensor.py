"""The Tensor: an ndarray plus the graph link that produced it.

Every differentiable method below either calls one primitive from ``ops.py``
(``Function.apply``) or is composed, in a line or two, from other methods.
``backward()`` hands the graph to ``autograd.run_backward``.

Dtypes: a floating ndarray keeps its dtype; Python lists and numbers take the
default dtype (float32 unless ``set_default_dtype`` says otherwise). Operands
that are not Tensors (numbers, ndarrays) are cast to the tensor's floating dtype,
so float32 stays float32; two Tensors of different dtypes follow NumPy's
promotion, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from . import function, ops
from . import random as _random
from .autograd import run_backward
from .function import ShapeError, state

_default_dtype = np.dtype(np.float32)

# Looked up once: ``Tensor._make`` runs for every op result, and global lookups add up.
_new_object = object.__new__
_ndarray = np.ndarray


def set_default_dtype(dtype) -> None:
    """Dtype for tensors built from Python lists and numbers: float32 (default) or float64."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors built from Python lists and numbers (float32 unless changed)."""
    return _default_dtype


def _shape_arg(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Operators (``+ - * / ** @``, unary ``-``, indexing) and the methods below build the
    graph whenever grad mode is on and some input has ``requires_grad=True``;
    comparisons (``== < >=`` ...) return bool tensors outside the graph.

    Args:
        data: a number, a (nested) list, an ndarray or a Tensor; always copied.
            Lists and numbers take the default dtype; ndarrays keep theirs.
        requires_grad: record operations on this tensor so ``backward`` reaches it
            (floating dtypes only).
        dtype: convert the data to this dtype.
        name: a label shown in the repr and in graph pictures.

    Attributes:
        data: the values, an ndarray (``shape``, ``dtype``, ``ndim`` and ``size`` are its own).
        grad: the accumulated gradient, a Tensor of the same shape and dtype, or None.
        requires_grad: whether backward computes a gradient for this tensor.
        grad_fn: the ``Function`` node that produced this tensor; None for a leaf.
        is_leaf: True when no recorded op produced this tensor (``grad_fn is None``).
        name: the label given at creation, or None.

    Examples:
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        Tensor([2., 4.], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_version", "_hooks", "_retains_grad", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, (np.ndarray, np.generic)):
            array = np.array(data, dtype=dtype, copy=True)
        else:
            try:
                array = np.array(data, dtype=dtype)
            except (ValueError, TypeError) as e:  # ragged nested lists, values that are not numbers
                kind = TypeError if isinstance(e, TypeError) else ValueError
                raise kind(f"Tensor: cannot make an array from {type(data).__name__} data: {e}") from None
            if dtype is None and array.dtype.kind in "iuf":
                array = array.astype(_default_dtype)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: unsupported data of dtype {array.dtype} (use numbers or booleans)")
        self.data = array
        self.grad = None
        self.requires_grad = False
        self._ctx = None
        self.name = name
        self._version = 0
        self._hooks = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data):
        """Wrap an ndarray without copying (internal: every op result is built this way)."""
        t = _new_object(cls)
        t.data = data if type(data) is _ndarray else np.asarray(data)  # NumPy returns scalars for 0-d results
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t.name = None
        t._version = 0
        t._hooks = None
        t._retains_grad = False
        return t

    def _operand(self, other):
        """A non-Tensor operand, cast to this tensor's floating dtype (Python numbers stay weak)."""
        if isinstance(other, Tensor) or type(other) in (int, float, bool):
            return other
        other = np.asarray(other)
        if other.dtype.kind not in "fiub":
            raise TypeError(f"unsupported operand of dtype {other.dtype} with a Tensor")
        if self.data.dtype.kind == "f" and other.dtype != self.data.dtype:
            other = other.astype(self.data.dtype)
        return other

    # ------------------------------------------------------------------ attributes

    shape = property(lambda self: self.data.shape, doc="The shape of ``data``, a tuple of ints")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype of ``data``")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions")
    size = property(lambda self: self.data.size, doc="The number of elements")
    is_leaf = property(lambda self: self._ctx is None, doc="True when no recorded op produced this tensor")
    grad_fn = property(lambda self: self._ctx, doc="The Function that produced this tensor, or None")

    @property
    def T(self) -> Tensor:
        """All axes reversed (NumPy's ``.T``)."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The single element as a Python number (the tensor must have exactly one element)."""
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can become a Python number, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """The data as (nested) Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory)."""
        return Tensor._make(self.data)

    def requires_grad_(self, requires_grad=True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place and return the tensor (floating dtypes only)."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad=True needs floating data, got dtype {self.data.dtype}; integer and "
                "bool tensors (labels, masks, indices) cannot have gradients"
            )
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = self._ctx is not None

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        key = object()
        self._hooks[key] = hook
        return _HookHandle(self._hooks, key)

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: the upstream gradient, same shape as self; may be omitted when
                self has one element (it is then 1).
            retain_graph: keep the graph's saved arrays so backward can run through it
                again (default: the value of ``create_graph``; otherwise they are freed).
            create_graph: record the backward pass itself, so the gradients are
                differentiable (higher-order derivatives).

        Examples:
            >>> x = Tensor([3.0], requires_grad=True)
            >>> (x * x).sum().backward()
            >>> x.grad
            Tensor([6.], dtype=float32)
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"backward: this tensor (shape {self.shape}) does not require grad and has no graph; "
                "create the inputs with requires_grad=True"
            )
        grad = _seed_gradient(self, gradient, create_graph, "backward")
        run_backward([self], [grad], retain_graph=create_graph if retain_graph is None else retain_graph,
                     create_graph=create_graph)

    # ------------------------------------------------------------------ in place (no graph)
    # A live graph keeps the arrays its backward reads read-only (function._lock), and views
    # made by reshape/transpose/indexing are read-only for good. These methods then copy
    # instead of writing, and bump _version so backward refuses a graph whose input changed.

    def _check_inplace(self, op):
        if state.grad_enabled and self.requires_grad:
            raise RuntimeError(
                f"{op}: cannot change a tensor that requires grad in place while grad mode is on "
                f"(shape {self.shape}); do it inside `with tg.no_grad():`"
            )

    def _write(self, values):
        """Store ``values`` into this tensor in place, or into a fresh array if a graph holds ours."""
        if self.data.flags.writeable:
            self.data[...] = values
        else:  # a live graph saved the current array: leave it intact for that graph
            self.data = np.array(np.broadcast_to(values, self.shape), dtype=self.dtype)
        self._version += 1
        return self

    def copy_(self, src) -> Tensor:
        """Overwrite the data with ``src`` (broadcast to this shape), in place; use under ``no_grad``."""
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.broadcast_to(src, self.shape)
        except ValueError:
            raise ShapeError(f"copy_: cannot copy shape {np.shape(src)} into a tensor of shape {self.shape}") from None
        return self._write(src)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        self._check_inplace("zero_")
        return self._write(0)

    def fill_(self, value) -> Tensor:
        """Set every element to ``value``, in place."""
        self._check_inplace("fill_")
        return self._write(value)

    def add_(self, other, alpha=1.0) -> Tensor:
        """``self += alpha * other`` without recording (used by optimizers under no_grad)."""
        self._check_inplace("add_")
        return self._add_scaled(other, alpha)

    def sub_(self, other, alpha=1.0) -> Tensor:
        """``self -= alpha * other`` without recording: the plain SGD step ``w.sub_(w.grad, alpha=lr)``."""
        self._check_inplace("sub_")
        return self._add_scaled(other, -alpha)

    def _add_scaled(self, other, alpha):
        """``self += alpha * other``: into this tensor's own array unless a graph holds it."""
        other = other.data if isinstance(other, Tensor) else other
        data = self.data
        if not data.flags.writeable:  # a live graph saved the current array: leave it intact for that graph
            return self._write(data + alpha * other)
        if alpha == 1.0:
            data += other
        elif alpha == -1.0:
            data -= other
        else:
            data += alpha * other
        self._version += 1
        return self

    def mul_(self, other) -> Tensor:
        """``self *= other`` without recording (weight decay, momentum)."""
        self._check_inplace("mul_")
        other = other.data if isinstance(other, Tensor) else other
        if self.data.flags.writeable:
            self.data *= other
            self._version += 1
            return self
        return self._write(self.data * other)

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        value = value.data if isinstance(value, Tensor) else value
        if not self.data.flags.writeable:
            self.data = self.data.copy()
        self.data[_index_arg(index)] = value
        self._version += 1

    # ------------------------------------------------------------------ Python protocol

    __hash__ = object.__hash__  # hashable by identity although == is elementwise

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = [f"dtype={self.dtype}"]
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extra)})"

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only an integer tensor with one element can be used as an index")
        return int(self.data)

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return ops.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(self._operand(other), self)

    def __pow__(self, other):
        return ops.Pow.apply(self, self._operand(other))

    def __rpow__(self, other):
        return ops.Pow.apply(self._operand(other), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(self._operand(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def matmul(self, other):
        """Matrix product, same as ``self @ other`` (1-D operands promoted, batch dims broadcast)."""
        return self @ other

    # comparisons and logic: bool tensors, never part of the graph
    def _compare(self, other, ufunc):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(ufunc(self.data, other))

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
        return Tensor._make(np.logical_not(self.data))

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
        """Elementwise |x|; the gradient at 0 is taken as 0."""
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
        """Elementwise max(x, 0); the gradient at 0 is taken as 0."""
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
        """Elementwise sign: a constant (its derivative is zero almost everywhere)."""
        return Tensor._make(np.sign(self.data))

    def astype(self, dtype):
        """A copy in ``dtype``; differentiable between floating dtypes."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            return Tensor._make(self.data.astype(dtype))
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
            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=0)
            Tensor([4., 6.], dtype=float32)
        """
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis``, composed as ``sum * (1 / count)``."""
        count = _reduced_count(self.shape, axis, "mean")
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count if count else float("nan"))

    def var(self, axis=None, ddof=0, keepdims=False):
        """Variance, sum((x - mean)^2) / (n - ddof); ddof=0 is the biased (population) variance."""
        count = _reduced_count(self.shape, axis, "var")
        centered = self - self.mean(axis=axis, keepdims=True)
        divisor = count - ddof
        return (centered * centered).sum(axis=axis, keepdims=keepdims) * (1.0 / divisor if divisor > 0 else float("nan"))

    def std(self, axis=None, ddof=0, keepdims=False):
        """Standard deviation, ``sqrt(var)``; not differentiable where the variance is 0."""
        return self.var(axis=axis, ddof=ddof, keepdims=keepdims).sqrt()

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``; tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``, composed as ``-max(-x)``."""
        return -((-self).max(axis=axis, keepdims=keepdims))

    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x), axis)), shifted by the (constant) max so it never overflows."""
        shift = np.max(self.data, axis=axis, keepdims=True) if self.data.size else np.zeros(())
        shift = np.where(np.isfinite(shift), shift, 0).astype(self.dtype, copy=False)
        total = (self - shift).exp().sum(axis=axis, keepdims=True).log() + shift
        return total if keepdims else total.reshape(np.sum(self.data, axis=axis).shape)

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so it never overflows."""
        _check_axis(axis, self.ndim, "softmax")
        return ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        """x - logsumexp(x) along ``axis``: finite where ``softmax(x).log()`` would give -inf.

        Examples:
            >>> Tensor([0.0, 200.0]).log_softmax()
            Tensor([-200.,    0.], dtype=float32)
        """
        _check_axis(axis, self.ndim, "log_softmax")
        return ops.LogSoftmax.apply(self, axis=axis)

    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum along ``axis`` (an integer tensor, outside the graph)."""
        return Tensor._make(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False):
        """Index of the minimum along ``axis`` (an integer tensor, outside the graph)."""
        return Tensor._make(np.argmin(self.data, axis=axis, keepdims=keepdims))

    # ------------------------------------------------------------------ movement

    def reshape(self, *shape):
        """The same elements in a new shape: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one size may be -1."""
        return ops.Reshape.apply(self, shape=_shape_arg(shape))

    def transpose(self, *axes):
        """Permute axes (NumPy's convention: no axes reverses them all)."""
        axes = _shape_arg(axes)
        return ops.Transpose.apply(self, axes=axes or None)

    def swapaxes(self, axis1, axis2):
        """Exchange two axes: ``(B, M, N).swapaxes(-1, -2)`` has shape (B, N, M)."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
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
        return ops.BroadcastTo.apply(self, shape=_shape_arg((shape,)) if isinstance(shape, int) else tuple(shape))

    def __getitem__(self, index):
        """NumPy indexing (slices, ints, None, ..., integer arrays, boolean masks); repeated indices accumulate."""
        return ops.Index.apply(self, index=_index_arg(index))

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
            raise ShapeError(
                f"pad: pad_width {pad_width!r} does not fit a tensor of shape {self.shape}; give an int, "
                "a (before, after) pair, or one pair per axis"
            ) from None
        if widths.size and (widths.dtype.kind not in "iu" or widths.min() < 0):
            raise ValueError(f"pad: pad_width must hold non-negative integers, got {pad_width!r}")
        return ops.Pad.apply(self, pad_width=tuple((int(a), int(b)) for a, b in widths), value=value)


class _HookHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


def _index_arg(index):
    """Tensors and lists inside an index become ndarrays (so they index like NumPy's)."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _movement_shape(numpy_fn, shape, axis, op):
    """The shape ``numpy_fn`` (np.squeeze, np.expand_dims) gives, or a ShapeError naming op, shape and axis."""
    try:
        return numpy_fn(np.empty(shape, dtype=bool), axis).shape
    except ValueError as e:  # NumPy's AxisError is a ValueError too
        raise ShapeError(f"{op}: {e} (tensor of shape {shape}, axis {axis!r})") from None


def _reduced_count(shape, axis, op):
    axes = ops._normalize_axes(axis, len(shape), op)
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def _check_axis(axis, ndim, op):
    if not isinstance(axis, (int, np.integer)) or not -max(ndim, 1) <= axis < max(ndim, 1) or ndim == 0:
        raise ShapeError(f"{op}: axis {axis!r} is out of range for a tensor with {ndim} dimension(s)")


def _seed_gradient(output, gradient, create_graph, op):
    """The upstream gradient that starts a backward sweep at ``output``."""
    if gradient is None:
        data = output.data
        if data.size != 1:
            raise RuntimeError(
                f"{op}: the output has shape {output.shape}, not a single number; pass gradient= "
                "(the upstream gradient, same shape) or reduce it first, e.g. loss.sum()"
            )
        grad = np.empty(data.shape, dtype=data.dtype)
        grad[...] = 1  # four times cheaper than np.ones for one element
    else:
        grad = gradient if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=output.dtype)
        if grad.shape != output.shape:
            raise ShapeError(f"{op}: gradient has shape {grad.shape} but the output has shape {output.shape}")
        if not create_graph and isinstance(grad, Tensor):
            grad = grad.data
    if create_graph and not isinstance(grad, Tensor):
        grad = Tensor._make(grad)
    return grad


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
        >>> x = Tensor([2.0], requires_grad=True)
        >>> (dy,) = grad((x ** 3).sum(), x, create_graph=True)
        >>> dy
        Tensor([12.], dtype=float32, grad_fn=<Mul>)
        >>> grad(dy.sum(), x)
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
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {t.shape}) does not require grad and has no graph")
    seeds = [_seed_gradient(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)]
    capture = dict.fromkeys(inputs)
    run_backward(outputs, seeds, retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph, capture=capture)
    result = []
    for i, t in enumerate(inputs):
        g = capture[t]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g)
    return tuple(result)


# ---------------------------------------------------------------------------- creation


def tensor(data, requires_grad=False, dtype=None, name=None) -> Tensor:
    """Same as ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array: np.ndarray, requires_grad=False) -> Tensor:
    """A Tensor sharing ``array``'s memory (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    t = Tensor._make(array)
    return t.requires_grad_(requires_grad) if requires_grad else t


def dtype_or_default(dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype, or the default dtype (``get_default_dtype()``) when it is None."""
    return _default_dtype if dtype is None else np.dtype(dtype)


def _new(array, requires_grad):
    t = Tensor._make(array)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``, in the default dtype unless ``dtype``."""
    return _new(np.zeros(_shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return _new(np.ones(_shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``shape`` (an int or a tuple) filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _new(np.full(shape, fill_value, dtype=dtype_or_default(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (a Tensor or an array)."""
    return _new(np.zeros(np.shape(t), dtype=dtype or np.asarray(t).dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Ones with the shape and dtype of ``t`` (a Tensor or an array)."""
    return _new(np.ones(np.shape(t), dtype=dtype or np.asarray(t).dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Like ``np.arange``; integer arguments give an integer tensor unless ``dtype`` says otherwise."""
    integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
    if dtype is None and not integral:
        dtype = _default_dtype
    args = (start, stop, step) if stop is not None else (0, start, step)
    return _new(np.arange(*args, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n)."""
    return _new(np.eye(n, m, dtype=dtype_or_default(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the package's seeded generator (``tg.manual_seed``)."""
    return _new(_random.draw("standard_normal", _shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the package's seeded generator."""
    return _new(_random.draw("random", _shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


function.Tensor = Tensor  # the engine reaches back to the class (function.py cannot import it)

__all__ = [
    "Tensor", "tensor", "from_numpy", "grad", "set_default_dtype", "get_default_dtype",
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand",
]
