"""The graph node: a `Function` is one recorded NumPy operation.

Every primitive op in `ops.py` subclasses `Function` and writes two methods side
by side:

* ``forward(self, *arrays, **attrs) -> ndarray`` computes the result with NumPy.
* ``backward(self, g, out, *inputs) -> tuple`` returns one gradient (or None) per
  input: the vector-Jacobian product of the upstream gradient ``g``. It may hand
  back ``g`` itself or a view of it; the engine copies whatever a leaf's ``.grad``
  cannot own (each ``.grad`` must be its own array, as it is added to in place).

``backward`` is written once and runs in two modes. In an ordinary backward pass
``g``, ``out`` and ``inputs`` are plain ndarrays, so the sweep costs no more than
hand-written NumPy. With ``create_graph=True`` they are Tensors and grad mode is
on, so the very same lines are recorded as a new graph: that is how gradients of
gradients come for free. ``lib(g)`` returns the matching namespace (NumPy or
tinygrad_edu) for the few functions that are not operators or methods.

Grad mode, the module scope used to group graph pictures, and anomaly
detection live here too, per thread, because every op consults them.
"""
from __future__ import annotations

import threading

import numpy as np


class _ThreadState(threading.local):
    """Per-thread switches read by every op: grad mode, module scope, anomaly mode."""

    grad_enabled = True
    scope = None  # tuple of module-call records, innermost last (see nn.Module.__call__)
    anomaly = False  # set by tg.detect_anomaly()


state = _ThreadState()


class ModuleCall:
    """One active ``nn.Module`` call; ``state.scope`` holds a tuple of them, innermost last.

    ``nn.Module.__call__`` pushes one; every op recorded meanwhile keeps the tuple as
    ``ctx.scope``, which is how a graph picture groups ops into module clusters.
    """

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


class _GradMode:
    """Context manager and decorator that sets grad mode for the current thread."""

    enabled = True

    def __enter__(self):
        self._previous = state.grad_enabled
        state.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._previous
        return False

    def __call__(self, fn):
        import functools

        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Turn graph recording off: ``with tg.no_grad(): ...`` or ``@tg.no_grad()``."""

    enabled = False


class enable_grad(_GradMode):
    """Turn graph recording back on inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """``with tg.set_grad_enabled(flag): ...`` sets grad mode to ``flag``."""

    def __init__(self, mode: bool):
        self.enabled = bool(mode)


# Filled in by tensor.py when it is imported (it imports this module, not the reverse).
Tensor = None
tensor_namespace = None


def lib(value):
    """The namespace whose functions match ``value``: tinygrad_edu for Tensors, else NumPy.

    Backward rules call ``lib(g).exp(x)`` so one line serves both backward modes.
    """
    return tensor_namespace if isinstance(value, Tensor) else np


def raw(value):
    """The ndarray behind a Tensor (or the value itself): for masks and constants in backward."""
    data = getattr(value, "data", value)
    return data if isinstance(data, np.ndarray) else np.asarray(data)


class ShapeError(ValueError):
    """An op was given operands whose shapes (or axes) do not fit; the message names both."""


def _lock(arrays):
    """Make the given arrays read-only; return those that were writeable (to unlock later).

    One that is already read-only belongs to another live graph (or to its owner)
    and is left as it is. ``setflags`` is cheaper than ``flags.writeable = False``.
    """
    locked = []
    for array in arrays:
        if type(array) is np.ndarray and array.flags.writeable:
            array.setflags(write=False)
            locked.append(array)
    return locked


class Function:
    """One node of the graph: an op applied to some inputs, producing one output Tensor.

    Attributes set when the op is recorded (grad mode on and some input requires grad):
      inputs            the operands as given: Tensors, or Python/NumPy constants
      arrays            their arrays at forward time: what an ordinary backward reads
      needs_input_grad  one bool per input: does that input need a gradient?
      attrs             the op's keyword attributes (axis, alpha, ...), for pictures
      versions          each input's version when recorded (in-place checks); None when
                        the op does not read its inputs (``reads_inputs = False``)
      scope             the nn.Module calls active when the op ran (for pictures)
      locked            the arrays this node made read-only, to unlock on ``release``
      freed             True once a backward without retain_graph has consumed the node

    In-place safety. A saved array that changes between forward and backward would
    silently corrupt the gradient, so two guards stand in the way:

    * the arrays backward reads are made read-only while the graph holds them, so
      ``y.data[:] = 0`` fails at once; Tensor's in-place methods (the optimizers')
      copy instead of writing into a locked array;
    * each input Tensor's version is recorded, and backward refuses to run if an
      in-place method has bumped it since.

    Ops that never read their inputs' values in backward (``Add``: dx = g) and whose
    output is a fresh array, not a view of an input, set ``reads_inputs = False``
    and skip both guards: no in-place change of their inputs can reach their
    gradient. Views (``Reshape``, ``Transpose``, ...) keep the guards, because a
    later op may save the view and the view changes whenever its base does.
    """

    inputs: tuple
    needs_input_grad: tuple
    attrs: dict
    versions = None
    scope = None
    freed = False
    saves_output = False  # True for ops whose backward reads ``out`` (so it is locked too)
    reads_inputs = True  # False: backward reads no input values and out is not a view (see above)
    arrays = None
    locked = ()
    creation = None  # (filename, line, code) of the user's line, in anomaly mode

    def forward(self, *arrays, **attrs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g, out, *inputs):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run ``forward`` on the inputs' arrays and, in grad mode, record the node.

        This runs for every op of every step, so it is kept lean: the op object is
        built by a plain class call (no ``__init__``), one loop gathers everything
        the inputs give (cheaper than one comprehension per list), and recording is
        skipped unless some input requires grad.
        """
        ctx = cls()
        arrays, needs, versions = [], [], []
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                needs.append(x.requires_grad)
                versions.append(x._version)
            else:  # a constant: a number or an ndarray
                arrays.append(x)
                needs.append(False)
                versions.append(0)
        try:
            # One or two operands without attributes (operators, exp, relu, ...) get a plain
            # call: CPython runs a star-call ``f(*args)`` ~0.15 us slower, for every op.
            if attrs or len(arrays) > 2:
                data = ctx.forward(*arrays, **attrs)
            elif len(arrays) == 2:
                data = ctx.forward(arrays[0], arrays[1])
            else:
                data = ctx.forward(arrays[0])
        except ShapeError:
            raise
        except ValueError as e:  # NumPy's own message, e.g. a broadcast mismatch: say which op and shapes
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(f"{cls.__name__}: {e} (operand shapes {shapes})") from None
        out = Tensor._make(data)
        if True in needs and state.grad_enabled:
            # Record the node: what backward will need, and the link from the result.
            ctx.inputs = inputs
            ctx.arrays = arrays
            ctx.needs_input_grad = tuple(needs)
            ctx.attrs = attrs
            ctx.scope = state.scope
            out._ctx = ctx
            out.requires_grad = True
            if cls.reads_inputs:  # guard what backward reads (see the class docstring)
                ctx.versions = tuple(versions)
                ctx.locked = _lock(arrays)
            if cls.saves_output:  # a fresh result; it stays read-only (nothing to unlock)
                out.data.setflags(write=False)
        if state.anomaly:
            from ..tools.anomaly import check_forward

            check_forward(ctx, inputs, out)
        return out

    def release(self):
        """Free what backward needed (after a backward without retain_graph): unlock and drop the arrays."""
        self.freed = True
        self.arrays = None
        if self.locked:
            for array in self.locked:
                try:
                    array.setflags(write=True)
                except ValueError:  # a view whose base another live graph still holds
                    pass
            self.locked = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def rule(self) -> str:
        """The op's math, from the first line of its docstring: ``out = exp(x);  dx = g * out``."""
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    def __repr__(self):
        shown = ", ".join(f"{k}={v!r}" for k, v in getattr(self, "attrs", {}).items())
        return f"<{self.name}({shown})>"
