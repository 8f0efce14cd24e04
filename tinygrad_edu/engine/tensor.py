"""The Tensor: an ndarray plus the link to the graph node that produced it.

Its operations (``+``, ``exp``, ``sum``, ``reshape``, ...) come from ``composed.TensorOps``:
each calls one primitive of ``ops.py`` or is composed, in a line or two, from other
operations (the in-place updates optimizers use are there too). This file holds what
makes a Tensor a node of the graph: its data, its gradient and ``backward()``.

Dtypes follow PyTorch (``docs/concepts/dtypes.md``): lists and Python numbers take
the default dtype (float32 unless ``set_default_dtype`` says otherwise); ndarrays keep
theirs; a float tensor with an integer one computes in the float's dtype.
"""
from __future__ import annotations

import numpy as np

from . import composed
from .autograd import run_backward
from .function import ShapeError, dtype_or_default, get_default_dtype, set_default_dtype

_new_object = object.__new__



def as_array(data, dtype=None, what="Tensor") -> np.ndarray:
    """``data`` (a number, nested list, ndarray or Tensor) as a new ndarray; lists and numbers take the default dtype.

    (Integer lists too, so ``Tensor([1, 2])`` can require grad; integer tensors come from ndarrays or ``dtype=``.)"""
    if isinstance(data, Tensor):
        data = data._data
    try:
        array = np.array(data, dtype=dtype)
    except (ValueError, TypeError) as e:  # ragged nested lists, values that are not numbers
        raise type(e)(f"{what}: cannot make an array from {type(data).__name__} data: {e}") from None
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)) and array.dtype.kind in "iuf":
        array = array.astype(get_default_dtype())
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what}: unsupported data of dtype {array.dtype} (use numbers or booleans)")
    return array


class Tensor(composed.TensorOps):
    """An n-dimensional array that records the operations applied to it.

    Operators (``+ - * / ** @``, unary ``-``, indexing) and the methods of ``TensorOps``
    build the graph whenever grad mode is on and some input has ``requires_grad=True``;
    comparisons (``== < >=`` ...) return bool tensors outside the graph.

    Args:
        data: a number, a (nested) list, an ndarray or a Tensor; always copied. Lists
            and numbers of numbers take the default dtype; ndarrays keep theirs.
        requires_grad: record operations on this tensor so ``backward`` reaches it
            (floating dtypes only).
        dtype: convert the data to this dtype.
        name: a label shown in the repr and in graph pictures.

    Attributes:
        data: the values, an ndarray; assigning keeps the tensor's dtype.
        grad: the accumulated gradient, a Tensor of the same shape and dtype, or None.
        requires_grad: whether backward computes a gradient for this tensor.
        grad_fn: the ``Function`` node that produced this tensor; None for a leaf.
        name: the label given at creation, or None.

    Examples:
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        Tensor([2., 4.], dtype=float32)
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "name", "_version", "_hooks", "__weakref__")
    xp = composed  # the functions ``lib(g)`` gives a backward running on Tensors

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self._data = as_array(data, dtype)
        self.grad, self.requires_grad, self._ctx, self.name, self._version, self._hooks = None, False, None, name, 0, None
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data):
        """Wrap an ndarray as a plain Tensor without copying (every op result is built this way,
        also from a subclass: ``Parameter._make`` gives a Tensor)."""
        t = _new_object(Tensor)
        t._data = data
        t.grad = t._ctx = t.name = t._hooks = None
        t.requires_grad = False
        t._version = 0
        return t

    @property
    def data(self) -> np.ndarray:
        """The values (an ndarray). Assigning converts to this tensor's dtype; it is the escape hatch
        around the graph, so nothing records it."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = composed.stored_as(value._data if isinstance(value, Tensor) else value, self._data.dtype, ".data")

    shape = property(lambda self: self._data.shape, doc="The shape of ``data``, a tuple of ints")
    dtype = property(lambda self: self._data.dtype, doc="The NumPy dtype of ``data``")
    ndim = property(lambda self: self._data.ndim, doc="The number of dimensions")
    size = property(lambda self: self._data.size, doc="The number of elements")
    is_leaf = property(lambda self: self._ctx is None, doc="True when no recorded op produced this tensor")
    grad_fn = property(lambda self: self._ctx, doc="The Function that produced this tensor, or None")

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied; outside the graph)."""
        return self._data

    def item(self):
        """The single element as a Python number (the tensor must have exactly one element)."""
        if self._data.size != 1:
            raise ValueError(f"item: only a tensor with one element can become a Python number, got shape {self.shape}")
        return self._data.item()

    def tolist(self):
        """The data as (nested) Python lists."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory)."""
        return Tensor._make(self._data)

    def requires_grad_(self, requires_grad=True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place and return the tensor (floating dtypes only)."""
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad=True needs floating data, got dtype {self.dtype}; integer and "
                            "bool tensors (labels, masks, indices) cannot have gradients")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's complete gradient in backward; a returned Tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        key = object()
        self._hooks[key] = hook
        return _HookHandle(self._hooks, key)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs): a hook that stores it."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._ctx is not None and not any(isinstance(h, _RetainGrad) for h in (self._hooks or {}).values()):
            self.register_hook(_RetainGrad(self))

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: the upstream gradient, same shape as self; may be omitted when
                self has one element (it is then 1).
            retain_graph: keep the saved values so backward can run through the graph
                again (default: the value of ``create_graph``).
            create_graph: record the backward pass itself, so the gradients are
                differentiable (higher-order derivatives).
        """
        if not self.requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {self.shape}) does not require grad and has no graph; "
                               "create the inputs with requires_grad=True")
        seed = seed_gradient(self, gradient, create_graph, "backward")
        run_backward([self], [seed], create_graph if retain_graph is None else retain_graph, create_graph)

    # ------------------------------------------------------------------ Python protocol

    __hash__ = object.__hash__  # hashable by identity although == is elementwise

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = [f"dtype={self.dtype}"]
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extra)})"

    def __format__(self, spec):
        if self._data.size == 1:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError(f"format: spec {spec!r} needs a tensor with one element, got shape {self.shape}")
        return repr(self)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        return bool(self._one_element("bool"))

    def __float__(self):
        return float(self._one_element("float"))

    def __int__(self):
        return int(self._one_element("int"))

    def __round__(self, ndigits=None):
        """``round(t)``: the one element as a rounded Python number; ``t.round()`` rounds each element."""
        return round(self._one_element("round", fix="use t.round(decimals) to round each element"), ndigits)

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"only an integer tensor with one element can be an index, got {self.dtype} of shape {self.shape}")
        return int(self._data.item())

    def _one_element(self, what, fix="reduce it first (.any(), .all(), .sum()) or index one element"):
        if self._data.size != 1:
            raise ValueError(f"{what}(): the value of a tensor with {self._data.size} elements (shape {self.shape}) "
                             f"is ambiguous; {fix}")
        return self._data.item()


class _HookHandle:
    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


class _RetainGrad:
    """The hook ``retain_grad`` registers: adds each complete gradient into the tensor's ``.grad``."""

    def __init__(self, tensor):
        import weakref

        self.tensor = weakref.ref(tensor)  # the tensor holds this hook: no reference cycle

    def __call__(self, g):
        tensor = self.tensor()
        if g.requires_grad:  # create_graph: keep it differentiable
            tensor.grad = g if tensor.grad is None else tensor.grad + g
        else:
            tensor.grad = Tensor._make(g._data.copy() if tensor.grad is None else tensor.grad._data + g._data)


def seed_gradient(output, gradient, create_graph, op):
    """The upstream gradient that starts a backward sweep at ``output``: 1 for one element, else ``gradient``."""
    if gradient is None:
        if output._data.size != 1:
            raise RuntimeError(f"{op}: the output has shape {output.shape}, not a single number; pass gradient= "
                               "(the upstream gradient, same shape) or reduce it first, e.g. loss.sum()")
        grad = np.empty(output.shape, dtype=output.dtype)
        grad.fill(1)  # several times cheaper than np.ones for one element
    else:
        grad = gradient if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=output.dtype)
        if grad.shape != output.shape:
            raise ShapeError(f"{op}: gradient has shape {grad.shape} but the output has shape {output.shape}")
        if not create_graph and isinstance(grad, Tensor):
            grad = grad._data
    return Tensor._make(grad) if create_graph and not isinstance(grad, Tensor) else grad


__all__ = ["Tensor", "set_default_dtype", "get_default_dtype"]
