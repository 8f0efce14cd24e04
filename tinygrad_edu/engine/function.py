"""The graph node: a ``Function`` is one recorded NumPy operation.

A primitive op subclasses ``Function`` and writes two methods side by side::

    class Exp(Function):
        "out = exp(x);  dx = g * out"
        def forward(self, x):
            out = np.exp(x)
            self.save(out)        # exactly what backward needs, nothing more
            return out
        def backward(self, g, out):
            return (g * out,)     # one gradient (or None) per input

``forward`` gets ndarrays and returns one. ``backward`` gets the upstream gradient
``g`` and the saved values, in ``save`` order, and returns one gradient per input.
It is written once and serves two sweeps. In an ordinary backward ``g`` and the
saved values are ndarrays. Under ``create_graph=True`` they are Tensors (a saved
input or output arrives as that very tensor) and grad mode is on, so the same lines
are recorded as a new graph: gradients of gradients for free. Backward therefore
uses operators, methods and ``lib(g).fn(...)``, which is NumPy for an ndarray and
tinygrad_edu's functions for a Tensor.

Grad mode and the module scope (which groups ops into pictures) live here too,
per thread, because every op reads them.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from . import events

# Operands that are constants, not tensors: checked once per input of every op.
CONSTANTS = (np.ndarray, float, int, np.generic)  # (bool is an int)


_default_dtype = np.dtype(np.float32)


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


def dtype_or_default(dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype, or the default dtype when it is None."""
    return _default_dtype if dtype is None else np.dtype(dtype)


class _ThreadState(threading.local):
    """Per-thread switches read by every op."""

    grad_enabled = True
    scope = None  # the nn.Module calls under way, innermost last (tuple of ModuleCall)


state = _ThreadState()
"""This thread's switches: ``state.grad_enabled`` and ``state.scope``."""


class ModuleCall:
    """One ``nn.Module`` call under way; each op recorded meanwhile keeps ``state.scope`` as ``node.scope``."""

    __slots__ = ("module", "call_id")
    _counter = iter(range(1, 2**62))

    def __init__(self, module):
        self.module = module
        self.call_id = next(ModuleCall._counter)

    def __repr__(self):
        return f"<ModuleCall {type(self.module).__name__} #{self.call_id}>"


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are recorded (per thread)."""
    return state.grad_enabled


class set_grad_enabled:
    """``with tg.set_grad_enabled(flag): ...`` (or ``@tg.set_grad_enabled(flag)``) sets grad mode in this thread."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)

    def __enter__(self):
        self._previous, state.grad_enabled = state.grad_enabled, self.enabled
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Turn graph recording off: ``with tg.no_grad(): ...`` or ``@tg.no_grad()``.

    Results computed inside do not require grad and hold no graph: use it for
    evaluation and for updating weights in place.

    Examples:
        >>> import tinygrad_edu as tg
        >>> w = tg.Tensor([1.0], requires_grad=True)
        >>> with tg.no_grad():
        ...     y = w * 2
        >>> y.requires_grad, y.grad_fn
        (False, None)
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn graph recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


def lib(value):
    """The functions matching ``value``: NumPy for an ndarray or a number, tinygrad_edu's for a Tensor (``.xp``)."""
    return np if isinstance(value, CONSTANTS) else value.xp


def raw(value):
    """The ndarray behind a Tensor, or the value itself: for masks and constants in backward."""
    return value if isinstance(value, CONSTANTS) else value.data


class ShapeError(ValueError):
    """An op was given operands whose shapes (or axes) do not fit; the message names both."""


class Function:
    """One node of the graph: an op applied to some inputs, producing one output Tensor.

    Subclass it, write ``forward`` and ``backward``, and call ``YourOp.apply(...)``;
    put the math in the first docstring line. See "How to add an op" in the docs.

    Attributes (set when the op is recorded: grad mode on and some input requires grad):
        inputs: the operands as given: Tensors, or Python/NumPy constants.
        needs_input_grad: one bool per input: does that input need a gradient?
        attrs: the op's keyword attributes (axis, alpha, ...), for pictures.
        scope: the nn.Module calls under way when the op ran (for pictures).
        saved: what ``forward`` passed to ``save``; None once a backward freed it.

    A node holds its input tensors (the graph's edges) and what it saved, nothing else.

    Examples:
        >>> import tinygrad_edu as tg
        >>> class Square(tg.Function):
        ...     "out = x * x;  dx = 2 * g * x"
        ...     def forward(self, x):
        ...         self.save(x)
        ...         return x * x
        ...     def backward(self, g, x):
        ...         return (2 * g * x,)
        >>> x = tg.Tensor([3.0], requires_grad=True)
        >>> Square.apply(x).sum().backward()
        >>> x.grad
        Tensor([6.], dtype=float32)
    """

    inputs = ()
    needs_input_grad = ()
    attrs = {}
    scope = None
    saved = ()

    def save(self, *values) -> None:
        """Keep ``values`` (ndarrays or constants) for backward, which receives them after ``g``."""
        self.saved = values

    def forward(self, *arrays, **attrs):  # pragma: no cover - abstract
        """Compute the output ndarray from the inputs' arrays (and keyword attributes)."""
        raise NotImplementedError

    def backward(self, g, *saved):  # pragma: no cover - abstract
        """Return one gradient (or None) per input: the vector-Jacobian product of ``g``.

        A gradient may have the broadcast shape of the output: the engine sums it back
        to its input's shape and casts it to its dtype.
        """
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run ``forward`` on the inputs' arrays; in grad mode, record the node on the result."""
        node, arrays, needs, tensor_type = cls(), [], [], None
        for x in inputs:
            if isinstance(x, CONSTANTS):
                arrays.append(x)
                needs.append(False)
            else:
                arrays.append(x._data)
                needs.append(x.requires_grad)
                tensor_type = type(x)
        if tensor_type is None:
            raise TypeError(f"{cls.__name__}.apply: needs at least one Tensor among its inputs")
        try:  # two operands without attributes (the operators) get a plain call: a star-call costs more
            data = node.forward(*arrays, **attrs) if attrs or len(arrays) != 2 else node.forward(arrays[0], arrays[1])
        except ShapeError:
            raise
        except ValueError as e:  # NumPy's own message, e.g. a broadcast mismatch: say which op and shapes
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(f"{cls.__name__}: {e} (operand shapes {shapes})") from None
        if type(data) is not np.ndarray:  # NumPy gives a scalar for a 0-d result
            scalar, data = data, np.asarray(data)
            if node.saved:
                node.saved = tuple(data if s is scalar else s for s in node.saved)
        out = tensor_type._make(data)
        if True in needs and state.grad_enabled:
            node.inputs, node.needs_input_grad, node.attrs, node.scope = inputs, tuple(needs), attrs, state.scope
            out._ctx, out.requires_grad = node, True
            for watch in events.op_recorded:
                watch(node, out)
        for watch in events.op_applied:
            watch(node, inputs, attrs, out)
        return out

    @classmethod
    def call(cls, *inputs, **attrs):
        """The op on Tensors (recorded, via ``apply``), or just its forward on ndarrays.

        What a backward uses to apply another op (``IndexAdd.call(g, ...)``) in either sweep.
        """
        for x in inputs:
            if not isinstance(x, CONSTANTS):
                return cls.apply(*inputs, **attrs)
        return cls().forward(*inputs, **attrs)

    def release(self) -> None:
        """Drop the saved values (after a backward without retain_graph); observers hear ``node_released``."""
        self.saved = None
        for watch in events.node_released:
            watch(self)

    @property
    def name(self) -> str:
        """The op's class name: ``Exp``, ``MatMul``, ..."""
        return type(self).__name__

    @property
    def rule(self) -> str:
        """The op's math, from the first line of its docstring: ``out = exp(x);  dx = g * out``."""
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    def __repr__(self):
        shown = ", ".join(f"{k}={v!r}" for k, v in self.attrs.items())
        return f"<{self.name}({shown})>"
