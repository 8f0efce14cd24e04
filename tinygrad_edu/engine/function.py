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
    anomaly_backward_of = None  # in anomaly mode, the node whose backward is being recorded (create_graph)


state = _ThreadState()
"""This thread's switches: ``state.grad_enabled``, ``state.scope``, ``state.anomaly``."""


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
    if type(value) is np.ndarray:  # the plain backward's case, first
        return value
    data = getattr(value, "data", value)
    return data if isinstance(data, np.ndarray) else np.asarray(data)


class ShapeError(ValueError):
    """An op was given operands whose shapes (or axes) do not fit; the message names both."""


# Arrays a live graph saved are read-only, so writing into them (``y.data[:] = 0``)
# fails at once instead of silently corrupting a gradient. Several graphs may hold
# the same array (a weight used by two losses), so each array counts its holders
# and becomes writeable again only when the last one lets go: after a backward
# without retain_graph, or when an unused graph is dropped.
_holders = {}  # id(array) -> number of graph nodes holding it (each node keeps the array alive)
_holders_lock = threading.RLock()  # reentrant: a dropped node may let go inside _lock


class _Held(list):
    """The arrays one node holds read-only; dropped unreleased (a graph that never ran
    backward), it lets go of them. Only nodes that hold something pay for this."""

    __slots__ = ()

    def __del__(self):
        if self:
            try:
                _unlock(self)
            except Exception:  # interpreter shutdown: the module may already be torn down
                pass


def _lock(arrays):
    """Make the arrays a recorded op saved read-only; returns what it holds, for ``_unlock``.

    ``Tensor``'s in-place methods (used by the optimizers) copy instead of writing
    into a held array and bump the tensor's version, which backward checks. The base
    of a view is held too: writing through it would change the view.
    """
    held = _Held()
    with _holders_lock:
        for array in arrays:
            while type(array) is np.ndarray:  # the array, then the base it is a view of, if any
                key = id(array)
                if key in _holders:
                    _holders[key] += 1
                    held.append(array)
                elif array.flags.writeable:
                    array.setflags(False)  # positional: ~50 ns cheaper than write=False
                    _holders[key] = 1
                    held.append(array)
                # else read-only by its owner (a broadcast view, a user's choice): never ours to unlock
                array = array.base
    return held


def _unlock(held):
    """Let go of arrays ``_lock`` returned (and empty ``held``); each becomes writeable when its last holder is gone."""
    with _holders_lock:
        # Bases before views (NumPy makes a view writeable only if its base already is):
        # _lock put each base after its view, so going backwards frees the base first.
        for array in reversed(held):
            key = id(array)
            if _holders[key] > 1:
                _holders[key] -= 1
                continue
            del _holders[key]
            try:
                array.setflags(True)
            except ValueError:  # its base is still held by another graph (or read-only by its owner)
                pass
        held.clear()


class Function:
    """One node of the graph: an op applied to some inputs, producing one output Tensor.

    Subclass it, write ``forward`` and ``backward``, and call ``YourOp.apply(...)``;
    put the math in the first docstring line. See "How to add an op" in the docs.

    Attributes:
        inputs: the operands as given: Tensors, or Python/NumPy constants.
        arrays: their arrays at forward time: what an ordinary backward reads.
        needs_input_grad: one bool per input: does that input need a gradient?
        attrs: the op's keyword attributes (axis, alpha, ...), for pictures.
        versions: each input Tensor's version when recorded (in-place checks).
        scope: the nn.Module calls active when the op ran (for pictures).
        out: the result's array, kept only when backward reads it (``saves_output``).
        locked: the arrays this node holds read-only, to let go of on ``release``.
        freed: True once a backward without retain_graph has consumed the node.
        saves_output: class flag: True for ops whose backward reads ``out``.
        reads_inputs: class flag: False for ops whose backward needs only shapes (inputs not locked).
        returns_view: class flag: True for ops whose result is a view of an input (made read-only).

    All but the class flags are set when the op is recorded (grad mode on and some
    input requires grad).

    In-place safety. A saved array that changes between forward and backward would
    silently corrupt the gradient, so two guards stand in the way:

    * the arrays backward reads (the inputs, and ``out`` for ``saves_output`` ops)
      are read-only while a graph holds them, so ``y.data[:] = 0`` fails at once;
      Tensor's in-place methods (the optimizers') copy instead of writing into one;
    * each input Tensor's version is recorded, and backward refuses to run if an
      in-place method has bumped it since (``out``'s too, for ``saves_output`` ops).

    The first guard costs time on every op, so ops whose backward reads no input
    values (``Add``: dx = g) set ``reads_inputs = False`` and lock nothing. The
    version check stays for every op: it is nearly free, and it makes the rule
    simple: an in-place method on any input of a live graph makes its backward refuse.

    Examples:
        >>> import tinygrad_edu as tg
        >>> class Square(tg.Function):
        ...     "out = x * x;  dx = 2 * g * x"
        ...     def forward(self, x):
        ...         return x * x
        ...     def backward(self, g, out, x):
        ...         return (2 * g * x,)
        >>> x = tg.Tensor([3.0], requires_grad=True)
        >>> Square.apply(x).sum().backward()
        >>> x.grad
        Tensor([6.], dtype=float32)
    """

    inputs: tuple
    needs_input_grad: tuple
    attrs: dict
    versions: tuple
    scope = None
    freed = False
    saves_output = False  # True for ops whose backward reads ``out`` (so it is locked too)
    reads_inputs = True  # False for ops whose backward needs only the inputs' shapes (nothing to lock)
    returns_view = False  # True for ops whose result may be a view of their input (made read-only)
    arrays = None
    out = None
    locked = ()
    creation = None  # (filename, line, code) of the user's line, in anomaly mode

    def forward(self, *arrays, **attrs):  # pragma: no cover - abstract
        """Compute the output ndarray from the inputs' arrays (and keyword attributes).

        Keep on ``self`` whatever backward needs besides the inputs and the output.
        """
        raise NotImplementedError

    def backward(self, g, out, *inputs):  # pragma: no cover - abstract
        """Return one gradient (or None) per input: the vector-Jacobian product of ``g``.

        ``g`` has the output's shape; a returned gradient may have the broadcast shape
        of the output, the engine sums it back to its input's shape and casts it to
        its dtype. ``g``, ``out`` and ``inputs`` are ndarrays in an ordinary backward
        and Tensors under ``create_graph=True``: use only operators, methods and
        ``lib(g).<function>`` so one body serves both.
        """
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
        if cls.returns_view:
            data = out.data
            if data.flags.writeable and np.may_share_memory(data, arrays[0]):
                # A view is read-only for good: writing it would change the input behind any
                # graph's back. In-place Tensor methods copy it first instead.
                data.setflags(write=False)
        if True in needs and state.grad_enabled:
            # Record the node: what backward will need, and the link from the result.
            ctx.inputs = inputs
            ctx.arrays = arrays
            ctx.needs_input_grad = tuple(needs)
            ctx.attrs = attrs
            ctx.scope = state.scope
            out._ctx = ctx
            out.requires_grad = True
            ctx.versions = tuple(versions)
            # Hold read-only what backward reads (see the class docstring).
            if cls.saves_output:
                ctx.out = out.data
                ctx.locked = _lock((*arrays, ctx.out) if cls.reads_inputs else (ctx.out,))
            elif cls.reads_inputs:
                ctx.locked = _lock(arrays)
        if state.anomaly:
            from ..tools.anomaly import check_forward

            check_forward(ctx, inputs, out)
        return out

    def release(self):
        """Free what backward needed (after a backward without retain_graph): unlock and drop the arrays.

        (A node dropped without a backward lets go of its arrays too: see ``_Held``.)
        """
        self.freed = True
        self.arrays = self.out = None
        if self.locked:
            _unlock(self.locked)

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
        shown = ", ".join(f"{k}={v!r}" for k, v in getattr(self, "attrs", {}).items())
        return f"<{self.name}({shown})>"
