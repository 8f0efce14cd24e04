"""Export a model's recorded graph to ONNX, the format other runtimes and tools read.

``export(model, example_input, path)`` runs the model on the example in evaluation
mode with recording on, walks the graph from the output back to the input, and writes
one ONNX node (or a few) for every primitive it meets, using ``CONVERTERS``: a table
from the primitive's class name (``node.name``) to a small function. Adding an op to
the export is adding a row. What becomes what:

* the model's parameters become **named initializers**, under their ``named_parameters``
  names (``layers.0.weight``); buffers keep their ``named_buffers`` names;
* everything computed from neither the input nor a parameter (batch norm's
  ``1 / sqrt(running_var + eps)`` in evaluation, a Python number) was never recorded:
  it is a **constant**, folded into an initializer with the value it had;
* each primitive maps one to one where ONNX has the same operator (``MatMul``, ``Relu``,
  ``Softmax``, ``ReduceSum``, ...) and to a short sequence where it does not: indexing
  is ``Slice``, ``Gather`` and ``Unsqueeze``; ``Im2Col`` (every kernel-sized window of an
  image, the heart of ``Conv2d`` and the pools) is a ``Reshape`` and one ``Gather`` with
  a constant table of pixel positions.

The file is the graph tinygrad_edu recorded, op for op, not a re-creation of the
layers: a convolution arrives as the ``Pad``, ``Gather``, ``MatMul`` and reshapes it was
computed with, not as one ``Conv`` node. That keeps every converter a few lines that
can be checked against the primitive's own forward, and it works the same for a layer,
a functional call or a model that composes ops in its own way. The price is speed in
the runtime: the ``Gather`` copies every window, as ``Im2Col`` does, where a ``Conv``
node would run the runtime's own convolution.

**The batch axis.** With ``dynamic_batch=True`` axis 0 of every input is named ``batch``
and may take any size. The model runs twice, on the example and on one more row, so
the export can see which sizes change with the batch: a reshape's target becomes
``-1`` there (or ``0``, copy the input's size, when two sizes change), and anything
that would freeze the example's batch size into the file (a constant of the batch's
shape, a mean over the batch axis) raises ``ExportError`` naming the op. Without it,
the second run uses the example's rows in another order; both runs check that no
constant depends on the input's values (an input that left the graph through
``.data`` or NumPy would otherwise be frozen into the file).

``draw_onnx(path)`` draws an exported file with Graphviz, in the style of
``tg.draw_graph``, so the two pictures can be put side by side.

The ``onnx`` package (and ``onnxruntime``, to run the file) come with the ``onnx``
extra: ``pip install "tinygrad_edu[onnx]"``. Without it, ``export`` raises an
ImportError that says so.
"""
from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .engine.function import enable_grad
from .engine.tensor import Tensor
from .nn.module import Module, Parameter
from .tools.atomic import write_atomic

__all__ = ["export", "draw_onnx", "have_onnx", "ExportError", "CONVERTERS", "OPSET"]

OPSET = 18
"""The ONNX operator set the export writes (18: every reduction takes its axes as an input)."""
IR_VERSION = 8  # the oldest file format that opset 18 allows, so older runtimes read it too
BATCH = "batch"  # the name of the dynamic batch dimension
INLINE_SIZE = 8  # draw_onnx writes constants of at most this many numbers inside the op that reads them
INSTALL = 'ONNX export needs the onnx package: pip install "tinygrad_edu[onnx]"'
_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


class ExportError(ValueError):
    """The model cannot be written as ONNX as asked; the message names the op, where it was recorded, and the fix."""


def have_onnx() -> bool:
    """True when the onnx package can be imported (``export`` and ``draw_onnx`` need it)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(INSTALL) from None
    return onnx


# ----------------------------------------------------------------------------- recording the model


@dataclass
class _Run:
    """One run of the model: its input and output tensors and every recorded op's output, inputs first."""

    inputs: list
    outputs: list
    order: list


def _owner(model):
    """The Module behind ``model``: itself, the module of a bound method (``mlp.logits``), or None."""
    if isinstance(model, Module):
        return model
    owner = getattr(model, "__self__", None)
    return owner if isinstance(owner, Module) else None


@contextmanager
def _recording(owner):
    """Evaluation mode, grad mode on, and every parameter requiring grad, so the whole forward is
    recorded; the modules' modes and the parameters' flags are put back afterwards."""
    modes = [(m, m.training) for m in owner.modules()] if owner is not None else []
    flags = [(p, p.requires_grad) for _, p in owner.named_parameters()] if owner is not None else []
    try:
        if owner is not None:
            owner.eval()
        for p, _ in flags:
            if p.dtype.kind == "f":
                p.requires_grad_(True)
        with enable_grad():
            yield
    finally:
        for m, training in modes:
            object.__setattr__(m, "training", training)  # each module's own flag, as it was
        for p, flag in flags:
            p.requires_grad_(flag)


def _record(model, arrays) -> _Run:
    inputs = [Tensor(a) for a in arrays]
    for t in inputs:
        if t.dtype.kind == "f":
            t.requires_grad_(True)
    with _recording(_owner(model)):
        result = model(*inputs)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    if not outputs or not all(isinstance(t, Tensor) for t in outputs):
        raise ExportError(f"export: the model must return a Tensor or a tuple of Tensors, got {type(result).__name__}")
    return _Run(inputs, outputs, _in_order(outputs))


def _in_order(outputs) -> list:
    """Every tensor made by a recorded op that ``outputs`` depend on, each after the tensors it reads."""
    order, seen = [], set()
    stack = [(t, False) for t in reversed(outputs)]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)
            continue
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        stack.append((t, True))
        stack.extend((x, False) for x in reversed(t.grad_fn.inputs) if isinstance(x, Tensor) and id(x) not in seen)
    return order


def _as_arrays(example_input) -> list:
    """The example as a list of arrays: one input, or a tuple/list of Tensors and arrays for several."""
    several = isinstance(example_input, (tuple, list)) and example_input and all(
        isinstance(x, (Tensor, np.ndarray)) for x in example_input)
    items = list(example_input) if several else [example_input]
    return [x.data if isinstance(x, Tensor) else Tensor(x).data for x in items]


def _second_example(arrays, dynamic_batch):
    """The second run's input: one more row (dynamic batch), or the same rows in another order."""
    second = []
    for a in arrays:
        if a.ndim == 0:
            if dynamic_batch:
                raise ExportError("export: dynamic_batch=True needs inputs with a batch axis (axis 0); got a 0-d "
                                  "input; pass dynamic_batch=False")
            second.append(a)
            continue
        rolled = np.roll(a, 1, axis=0)
        second.append(np.concatenate([rolled, a[:1]]) if dynamic_batch else rolled)
    return second


# ----------------------------------------------------------------------------- naming and locating


def _roots(owner, order) -> list:
    """``owner`` and the outermost module of every module call that recorded an op, each once."""
    roots = {} if owner is None else {id(owner): owner}
    for t in order:
        scope = t.grad_fn.scope
        if scope:
            roots.setdefault(id(scope[0].module), scope[0].module)
    return list(roots.values())


def _module_names(roots) -> dict:
    """id(module) -> dotted name inside its root ("" for a root itself)."""
    return {id(module): name for root in reversed(roots) for name, module in root.named_modules()}


def _tensor_names(roots, order) -> dict:
    """id(tensor) -> initializer name: parameters and buffers by their dotted names, then ``Tensor(name=...)``."""
    names = {}
    for root in roots:
        for name, t in itertools.chain(root.named_parameters(), root.named_buffers()):
            names.setdefault(id(t), name)
    for t in order:
        for x in t.grad_fn.inputs:
            if isinstance(x, Tensor) and x.name:
                names.setdefault(id(x), x.name)
    return names


def _where(node, module_names) -> str:
    """Where an op was recorded, for messages: ``MLP > layers.0 (Linear)``."""
    if not node.scope:
        return "recorded outside any module"
    parts = []
    for call in node.scope:
        name = module_names.get(id(call.module), "")
        kind = type(call.module).__name__
        parts.append(f"{name} ({kind})" if name else kind)
    return "recorded in " + " > ".join(parts)


def _prefix(node, module_names) -> str:
    """The ONNX node-name prefix of an op: its innermost module's dotted name and a slash (``layers.0/``)."""
    if not node.scope:
        return ""
    module = node.scope[-1].module
    return (module_names.get(id(module)) or type(module).__name__) + "/"


# ----------------------------------------------------------------------------- comparing the two runs


def _fingerprint(value, graph_arrays):
    """A comparable summary of a constant or an attribute; an input's array stands for that input."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray):
        if id(value) in graph_arrays:
            return ("input", graph_arrays[id(value)])
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_fingerprint(v, graph_arrays) for v in value)
    if isinstance(value, slice):
        return ("slice",) + tuple(_fingerprint(v, graph_arrays) for v in (value.start, value.stop, value.step))
    if isinstance(value, Mapping):
        return ("dict",) + tuple((k, _fingerprint(v, graph_arrays)) for k, v in value.items())
    if isinstance(value, (float, np.floating)):
        return ("float", float(value).hex())
    return (type(value).__name__, repr(value))


DYNAMIC_ATTRS = {"Reshape": ("shape",), "BroadcastTo": ("shape",)}
"""Attributes a converter rebuilds from the output's shape (so they may change with the batch size)."""


# ----------------------------------------------------------------------------- values and the builder


@dataclass
class Value:
    """A value of the ONNX graph as a converter sees it.

    name      the ONNX value name to use as an input
    shape     its shape in the example's run
    dtype     its NumPy dtype
    dynamic   the axes whose size changes with the batch size (empty without ``dynamic_batch``)
    other     its shape in the second run (the batch size plus one, when dynamic)
    """

    name: str
    shape: tuple
    dtype: np.dtype
    dynamic: tuple = ()
    other: tuple = ()


class Builder:
    """Collects the ONNX nodes and initializers; converters call ``op`` and ``constant``."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes, self.initializers = [], []
        self._taken = set()
        self._constants = {}  # (dtype, shape, bytes) -> name, for small unnamed constants
        self.prefix = ""  # the current op's module path, for node names
        self.doc = ""  # the current op's math and place, on every node it becomes
        self.place = ""  # the current op and where it was recorded, for error messages
        self.graph_inputs = {}  # id(input array) -> Value: an index array that is a graph input

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``, ... if it is already taken."""
        candidate, k = name, 0
        while candidate in self._taken:
            k += 1
            candidate = f"{name}_{k}"
        self._taken.add(candidate)
        return candidate

    def constant(self, array, name=None) -> str:
        """An initializer holding ``array``; returns its name. Small unnamed constants are shared."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes()) if name is None and array.size <= 64 else None
        if key is not None and key in self._constants:
            return self._constants[key]
        name = self.unique(name or "const")
        # np.array, not np.ascontiguousarray: that one turns a 0-d array into shape (1,)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.array(array, order="C"), name))
        if key is not None:
            self._constants[key] = name
        return name

    def op(self, op_type: str, inputs, **attributes) -> str:
        """Add one ONNX node; returns the name of its (single) output."""
        name = self.unique(f"{self.prefix}{op_type}")
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [name], name=name, doc_string=self.doc,
                                                     **attributes))
        return name

    def name_outputs(self, values, names):
        """Give each output value its name: rename the node that made it, or add an Identity
        (for an output that is an input, an initializer, or the same value as an earlier output)."""
        produced = {node.output[0]: node for node in self.nodes}
        for value, name in zip(values, names):
            if name in self._taken:
                raise ValueError(f"export: the output name {name!r} already names another value of the graph")
            self._taken.add(name)
            node = produced.pop(value.name, None)
            if node is None:
                self.nodes.append(self.onnx.helper.make_node("Identity", [value.name], [name], name=name))
                continue
            node.output[0] = name
            for other in self.nodes:
                for i, inp in enumerate(other.input):
                    if inp == value.name:
                        other.input[i] = name


# ----------------------------------------------------------------------------- the converters


@functools.lru_cache(maxsize=None)
def _defaults(op_class) -> dict:
    signature = inspect.signature(op_class.forward)
    return {k: p.default for k, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}


def attribute(node, key):
    """The op's keyword attribute ``key`` as recorded, or its forward's default when it was not passed."""
    return node.attrs[key] if key in node.attrs else _defaults(type(node))[key]


def _int64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _same(op_type):
    """A converter for an op that ONNX has under ``op_type``, with the same inputs and no attributes."""

    def convert(b, node, ins, out):
        return b.op(op_type, [v.name for v in ins])

    convert.__name__ = f"as_{op_type}"
    return convert


def _leaky_relu(b, node, ins, out):
    x, alpha = ins[0].name, float(attribute(node, "alpha"))
    if out.dtype == np.float32:  # ONNX's alpha attribute is a 32-bit float: exact for float32 only
        return b.op("LeakyRelu", [x], alpha=alpha)
    positive = b.op("Greater", [x, b.constant(np.zeros((), out.dtype))])
    return b.op("Where", [positive, x, b.op("Mul", [x, b.constant(np.asarray(alpha, out.dtype))])])


def _clip(b, node, ins, out):
    lo, hi = attribute(node, "lo"), attribute(node, "hi")
    bounds = [None if v is None else np.asarray(v, dtype=out.dtype) for v in (lo, hi)]
    if all(v is None or v.ndim == 0 for v in bounds):  # ONNX Clip takes scalar bounds; "" skips one
        return b.op("Clip", [ins[0].name] + ["" if v is None else b.constant(v) for v in bounds])
    value = ins[0].name
    for bound, op_type in zip(bounds, ("Max", "Min")):  # array bounds broadcast like np.clip's
        if bound is not None:
            value = b.op(op_type, [value, b.constant(bound)])
    return value


def _cast(b, node, ins, out):
    return ins[0].name  # the operand was already cast to the output's dtype (see _operands)


def _axes(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


def _step(b, node, ins, out):
    """A piecewise-constant op (``Step``): NumPy's sign, round, floor, ceil or trunc as ONNX's."""
    name, x = getattr(attribute(node, "fn"), "__name__", "?"), ins[0].name
    if name == "round" and node.attrs.get("decimals", 0) != 0:
        raise ExportError(f"export: round to {node.attrs['decimals']} decimals ({b.place}) has no ONNX form")
    if name == "trunc":  # ONNX has no Trunc: sign(x) * floor(|x|)
        return b.op("Mul", [b.op("Sign", [x]), b.op("Floor", [b.op("Abs", [x])])])
    if name not in _STEPS:
        raise ExportError(f"export: Step with np.{name} ({b.place}) has no ONNX mapping")
    return b.op(_STEPS[name], [x])


_STEPS = {"sign": "Sign", "round": "Round", "floor": "Floor", "ceil": "Ceil", "rint": "Round"}


def _reduce(op_type):
    def convert(b, node, ins, out):
        x = ins[0]
        axes = _axes(attribute(node, "axis"), len(x.shape))
        if not axes:  # NumPy's axis=() (or a 0-d input) reduces nothing; ONNX's empty axes would reduce all
            return b.op("Identity", [x.name])
        return b.op(op_type, [x.name, b.constant(_int64(axes))], keepdims=int(bool(attribute(node, "keepdims"))))

    convert.__name__ = f"as_{op_type}"
    return convert


def _softmax(op_type):
    def convert(b, node, ins, out):
        axes = _axes(attribute(node, "axis"), len(out.shape))
        if len(axes) != 1:  # ONNX normalises along one axis; ours may span several (or all)
            raise ExportError(f"export: {node.name} over axes {axes} ({b.place}) has no ONNX form; ONNX's "
                              f"{op_type} takes a single axis")
        return b.op(op_type, [ins[0].name], axis=axes[0])

    convert.__name__ = f"as_{op_type}"
    return convert


def _reshape(b, node, ins, out):
    """The target is the output's shape; a size that changes with the batch becomes 0 (copy the
    input's size at that position) where it equals the input's in both runs, and -1 (infer) otherwise."""
    x = ins[0]
    target, unknown = list(out.shape), []
    for d in out.dynamic:
        if d < len(x.shape) and d in x.dynamic and x.shape[d] == out.shape[d] and x.other[d] == out.other[d]:
            target[d] = 0
        else:
            unknown.append(d)
    if len(unknown) > 1:
        raise ExportError(f"export: Reshape to {out.shape} ({b.place}) changes {len(unknown)} sizes with the batch "
                          "size, which ONNX cannot infer; pass dynamic_batch=False")
    for d in unknown:
        target[d] = -1
    empty = 0 in out.shape
    if empty and out.dynamic:
        raise ExportError(f"export: Reshape to the empty shape {out.shape} ({b.place}) cannot keep a dynamic batch "
                          "axis; pass dynamic_batch=False")
    return b.op("Reshape", [x.name, b.constant(_int64(target))], **({"allowzero": 1} if empty else {}))


def _transpose(b, node, ins, out):
    ndim = len(out.shape)
    axes = attribute(node, "axes")
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(int(a) % ndim for a in axes)
    return b.op("Transpose", [ins[0].name], perm=list(perm))


def _broadcast_to(b, node, ins, out):
    """ONNX Expand broadcasts both ways, so a batch-sized axis of the input is asked for as 1."""
    x = ins[0]
    target = list(out.shape)
    lead = len(out.shape) - len(x.shape)
    for d in out.dynamic:
        if d < lead or d - lead not in x.dynamic:
            raise ExportError(f"export: BroadcastTo {out.shape} ({b.place}) grows an axis to the batch size; "
                              "pass dynamic_batch=False")
        target[d] = 1
    return b.op("Expand", [x.name, b.constant(_int64(target))])


def _concatenate(b, node, ins, out):
    return b.op("Concat", [v.name for v in ins], axis=int(attribute(node, "axis")) % len(out.shape))


def _pad(b, node, ins, out):
    widths = attribute(node, "pad_width")
    if not widths:
        return b.op("Identity", [ins[0].name])
    pads = [int(before) for before, _ in widths] + [int(after) for _, after in widths]
    value = np.asarray(attribute(node, "value"), dtype=out.dtype)
    return b.op("Pad", [ins[0].name, b.constant(_int64(pads)), b.constant(value)], mode="constant")


def _im2col(b, node, ins, out):
    """x (N, C, H, W) -> (N, C, H*W), then one Gather of every window's pixel positions (kh, kw, OH, OW)."""
    x = ins[0]
    if set(x.dynamic) - {0}:
        raise ExportError(f"export: Im2Col ({b.place}) on an image whose channels or size change with the batch "
                          "size; pass dynamic_batch=False")
    (kh, kw), (sh, sw) = attribute(node, "kernel_size"), attribute(node, "stride")
    _, _, _, _, out_h, out_w = out.shape
    height, width = x.shape[2], x.shape[3]
    rows = np.arange(kh)[:, None, None, None] + sh * np.arange(out_h)[None, None, :, None]
    cols = np.arange(kw)[None, :, None, None] + sw * np.arange(out_w)[None, None, None, :]
    flat = b.op("Reshape", [x.name, b.constant(_int64([0, 0, height * width]))])
    return b.op("Gather", [flat, b.constant(_int64(rows * width + cols))], axis=2)


def _index(b, node, ins, out):
    """Basic indexing (slices, ints, None, ...) as Slice, Gather and Unsqueeze; one integer array as Gather."""
    x = ins[0]
    index = attribute(node, "index")
    parts = index if isinstance(index, tuple) else (index,)
    is_array = [isinstance(p, np.ndarray) for p in parts]
    unsupported = [p for p in parts if isinstance(p, (bool, np.bool_)) or (isinstance(p, np.ndarray) and p.dtype.kind not in "iu")]
    is_int = [isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in parts]
    if unsupported or sum(is_array) > 1 or (any(is_array) and any(is_int)):
        raise ExportError(f"export: Index with {_describe_index(parts)} ({b.place}) has no ONNX mapping here: only "
                          "slices, ints, None, ... and a single integer array are exported")
    ndim = len(x.shape)
    used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    fill = (slice(None),) * (ndim - used)
    cut = next((i for i, p in enumerate(parts) if p is Ellipsis), len(parts))
    parts = parts[:cut] + fill + parts[cut + 1:]
    value = x.name
    slices, gathers, axis = [], [], 0
    for p in parts:
        if p is None:
            continue
        if isinstance(p, slice):
            if (p.start, p.stop, p.step) != (None, None, None):
                slices.append((axis, p))
        else:
            gathers.append((axis, p))
        axis += 1
    if slices:
        starts, ends, steps = [], [], []
        for _, s in slices:
            step = 1 if s.step is None else int(s.step)
            starts.append((0 if step > 0 else _INT64_MAX) if s.start is None else int(s.start))
            ends.append((_INT64_MAX if step > 0 else _INT64_MIN) if s.stop is None else int(s.stop))
            steps.append(step)
        axes = [a for a, _ in slices]
        value = b.op("Slice", [value] + [b.constant(_int64(v)) for v in (starts, ends, axes, steps)])
    for axis, p in reversed(gathers):  # the last axis first, so the earlier axes keep their positions
        value = b.op("Gather", [value, _gather_indices(b, p)], axis=axis)
    new_axes, position = [], 0
    for p in parts:
        if p is None:
            new_axes.append(position)
        position += 0 if isinstance(p, (int, np.integer)) else np.ndim(p) if isinstance(p, np.ndarray) else 1
    if new_axes:
        value = b.op("Unsqueeze", [value, b.constant(_int64(new_axes))])
    return value


def _gather_indices(b, p) -> str:
    """An index array as Gather's indices: the graph input itself when it is one (an Embedding's ids)."""
    graph_input = b.graph_inputs.get(id(p))
    if graph_input is None:
        return b.constant(_int64(p))
    if graph_input.dtype in (np.int32, np.int64):
        return graph_input.name
    return b.op("Cast", [graph_input.name], to=b.onnx.TensorProto.INT64)


def _describe_index(parts) -> str:
    return "(" + ", ".join(f"array{p.shape}:{p.dtype}" if isinstance(p, np.ndarray) else repr(p) for p in parts) + ")"


CONVERTERS = {
    # unary
    "Neg": _same("Neg"), "Exp": _same("Exp"), "Log": _same("Log"), "Sin": _same("Sin"), "Cos": _same("Cos"),
    "Tanh": _same("Tanh"), "Sigmoid": _same("Sigmoid"), "Relu": _same("Relu"), "LeakyRelu": _leaky_relu,
    "Abs": _same("Abs"), "Clip": _clip, "Cast": _cast, "Step": _step,
    # binary, broadcasting as NumPy does
    "Add": _same("Add"), "Sub": _same("Sub"), "Mul": _same("Mul"), "Div": _same("Div"), "Pow": _same("Pow"),
    "Maximum": _same("Max"), "Minimum": _same("Min"), "Where": _same("Where"), "MatMul": _same("MatMul"),
    # reductions
    "Sum": _reduce("ReduceSum"), "Max": _reduce("ReduceMax"), "Min": _reduce("ReduceMin"),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    # movement
    "Reshape": _reshape, "Transpose": _transpose, "BroadcastTo": _broadcast_to, "Index": _index,
    "Concatenate": _concatenate, "Pad": _pad, "Im2Col": _im2col,
}
"""Primitive class name -> ``convert(builder, node, inputs, out) -> ONNX value name``.

``inputs`` are ``Value``s in the op's argument order (constants already folded into
initializers, every floating operand already in the output's dtype), ``out`` the
output's ``Value`` without a name; the converter adds nodes with ``builder.op`` and
``builder.constant`` and returns the name of the value that is the op's result.
Ops only a backward pass records (``IndexAdd``, ``Col2Im``) have no row.
"""


# ----------------------------------------------------------------------------- the export


class _Export:
    """Turns two runs of the model into ONNX nodes, one recorded op at a time."""

    def __init__(self, onnx, owner, first: _Run, second: _Run, input_names, dynamic_batch):
        self.b = Builder(onnx)
        self.dynamic_batch = dynamic_batch
        self.first, self.second = first, second
        roots = _roots(owner, first.order)
        self.module_names = _module_names(roots)
        self.names = _tensor_names(roots, first.order)
        self.values = {}  # id(tensor in the first run) -> Value
        self.arrays = [{id(t.data): k for k, t in enumerate(run.inputs)} for run in (first, second)]
        self.node = None
        for k, (a, z, name) in enumerate(zip(first.inputs, second.inputs, input_names)):
            value = Value(self.b.unique(name), a.shape, a.dtype, _changed(a.shape, z.shape), z.shape)
            self.values[id(a)] = value
            self.b.graph_inputs[id(a.data)] = value

    def place(self, node=None) -> str:
        node = node or self.node
        return f"{node.name}, {_where(node, self.module_names)}"

    def convert(self):
        if len(self.first.order) != len(self.second.order):
            raise self._changed_graph()
        for a, z in zip(self.first.order, self.second.order):
            node, twin = a.grad_fn, z.grad_fn
            self.node = node
            if node.name != twin.name or len(node.inputs) != len(twin.inputs):
                raise self._changed_graph()
            converter = CONVERTERS.get(node.name)
            if converter is None:
                raise ExportError(
                    f"export: no ONNX mapping for the op {node.name} ({_where(node, self.module_names)}); "
                    f"add a converter for it to tinygrad_edu.onnx.CONVERTERS")
            self._check_attributes(node, twin)
            out = Value("", a.shape, a.dtype, _changed(a.shape, z.shape), z.shape)
            if out.dynamic and not self.dynamic_batch:
                raise self._changed_graph()
            self.b.prefix, self.b.place = _prefix(node, self.module_names), self.place()
            self.b.doc = f"{node.rule}; {self.b.place}"
            ins = self._operands(node, twin, out)
            self.values[id(a)] = Value(converter(self.b, node, ins, out), a.shape, a.dtype, out.dynamic, out.other)
        self._check_inputs_used()

    def _changed_graph(self):
        return ExportError("export: the model recorded a different graph on the second run (at "
                           f"{self.place() if self.node else 'the output'}): its ops depend on the input's values "
                           "or batch size (Python control flow on data); export cannot capture that")

    def _check_attributes(self, node, twin):
        skip = DYNAMIC_ATTRS.get(node.name, ())
        for key in node.attrs:
            if key in skip:
                continue
            if _fingerprint(node.attrs[key], self.arrays[0]) != _fingerprint(twin.attrs.get(key), self.arrays[1]):
                raise self._frozen(f"its attribute {key}")

    def _frozen(self, what):
        if self.dynamic_batch:
            how = ("changes between a run on the example and a run on one more row: it depends on the batch size "
                   "(a mean over the batch axis, an array of the batch's shape) or on the input's values")
            fix = "compute it with tensor ops, or pass dynamic_batch=False if it depends on the batch size only"
        else:
            how = "changes when the example's rows come in another order: it depends on the input's values"
            fix = "compute it with tensor ops"
        return ExportError(f"export: {what} ({self.place()}) {how}, computed outside the recorded graph (through "
                           f".data, NumPy or a Python number), so the example's value would be frozen into the file; {fix}")

    def _operands(self, node, twin, out):
        ins = []
        for k, (x, z) in enumerate(zip(node.inputs, twin.inputs)):
            value = self.values.get(id(x)) if isinstance(x, Tensor) else None
            if value is None:
                value = self._leaf(x, z, out)
            if value.dtype.kind == "f" and out.dtype.kind == "f" and value.dtype != out.dtype:
                value = Value(self.b.op("Cast", [value.name], to=self.b.onnx.helper.np_dtype_to_tensor_dtype(out.dtype)),
                              value.shape, out.dtype, value.dynamic, value.other)
            ins.append(value)
        return ins

    def _leaf(self, x, z, out):
        """A parameter or buffer (named initializer), or a constant folded into one."""
        if isinstance(x, Tensor) and (x.requires_grad or isinstance(x, Parameter)):
            name = self.names.get(id(x)) or "param"
            value = Value(self.b.constant(x.data, name), x.shape, x.dtype)
            self.values[id(x)] = value
            return value
        if _fingerprint(x, self.arrays[0]) != _fingerprint(z, self.arrays[1]):
            raise self._frozen(f"a constant operand of shape {np.shape(_data(x))}")
        array = _data(x)
        for inp in self.first.inputs:
            if np.may_share_memory(array, inp.data):
                raise ExportError(f"export: the model's input reached {self.place()} outside the recorded graph "
                                  "(through .data or NumPy), so its values would be frozen into the file")
        number = isinstance(x, (int, float)) and not isinstance(x, bool)
        if (number or array.dtype.kind == "f") and out.dtype.kind == "f":  # as NumPy: a number takes the tensor's dtype
            array = array.astype(out.dtype)
        value = Value(self.b.constant(array, self.names.get(id(x)) if isinstance(x, Tensor) else None),
                      array.shape, array.dtype)
        if isinstance(x, Tensor):  # a buffer used twice is one initializer
            self.values[id(x)] = value
        return value

    def _check_inputs_used(self):
        used = {id(x) for t in self.first.order for x in t.grad_fn.inputs}
        used |= {id(p) for t in self.first.order for p in _arrays_in(t.grad_fn.attrs)}
        for k, t in enumerate(self.first.inputs):
            if id(t) not in used and id(t.data) not in used and all(o is not t for o in self.first.outputs):
                raise ExportError(
                    f"export: the output does not depend on input {k} through recorded ops (it was used through "
                    ".data or NumPy, or not at all), so the file would ignore it")

    def value_of(self, t) -> Value:
        if id(t) not in self.values:
            raise ExportError(f"export: an output of shape {t.shape} was not computed from the input by recorded "
                              "ops; it would be a constant")
        return self.values[id(t)]


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays_in(v)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _arrays_in(v)


def _changed(shape, other) -> tuple:
    return tuple(d for d, (a, z) in enumerate(zip(shape, other)) if a != z)


def _names(given, count, default, what) -> list:
    if given is None:
        return [default] if count == 1 else [f"{default}_{k}" for k in range(count)]
    given = [given] if isinstance(given, str) else list(given)
    if len(given) != count or not all(isinstance(n, str) and n for n in given):
        raise ValueError(f"export: {what} must be {count} non-empty string(s), one per {default}, got {given!r}")
    if len(set(given)) != count:
        raise ValueError(f"export: {what} must be distinct, got {given!r}")
    return given


def _value_info(helper, name, value: Value):
    dims = [BATCH if d in value.dynamic else int(n) for d, n in enumerate(value.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), dims)


def export(model, example_input, path, input_names=None, output_names=None, dynamic_batch=True) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the path.

    model           a Module, or a function of tensors; a Module (or the Module of a bound
                    method such as ``mlp.logits``) runs in evaluation mode (dropout off, batch
                    norm on its running statistics) and is put back in its mode afterwards;
                    a plain function runs as it is (call ``.eval()`` on the modules it uses)
    example_input   one input (a Tensor or an array, batch axis first), or a tuple of them
    input_names     ONNX names of the inputs (default ``input``, or ``input_0``, ``input_1``, ...)
    output_names    ONNX names of the outputs (default ``output``, or ``output_0``, ...)
    dynamic_batch   name axis 0 ``batch`` so the file takes any batch size (see the module's
                    docstring for how the export finds the sizes that follow it)

    The file uses ONNX opset ``OPSET`` and passes ``onnx.checker`` (with shape inference).
    Parameters are initializers named as in ``named_parameters``. Raises ``ExportError``
    for an op without a converter (naming the op and the module that recorded it) and for
    anything that would be frozen wrongly into the file; ``ImportError`` without onnx.
    """
    onnx = _onnx()
    owner = _owner(model)
    arrays = _as_arrays(example_input)
    input_names = _names(input_names, len(arrays), "input", "input_names")
    first = _record(model, arrays)
    try:
        second = _record(model, _second_example(arrays, dynamic_batch))
    except ExportError:
        raise
    except Exception as error:
        how = "one more row; pass dynamic_batch=False" if dynamic_batch else "the example's rows in another order"
        raise ExportError(f"export: the model failed on its second run, on {how} "
                          f"({type(error).__name__}: {error})") from error
    output_names = _names(output_names, len(first.outputs), "output", "output_names")
    if len(first.outputs) != len(second.outputs):
        raise ExportError("export: the model returned a different number of outputs on its second run")
    job = _Export(onnx, owner, first, second, input_names, dynamic_batch)
    job.convert()
    helper = onnx.helper
    outputs = []
    for t, z in zip(first.outputs, second.outputs):
        value = job.value_of(t)
        outputs.append(Value(value.name, t.shape, t.dtype, _changed(t.shape, z.shape), z.shape))
    job.b.name_outputs(outputs, output_names)
    inputs = [job.values[id(t)] for t in first.inputs]
    graph = helper.make_graph(
        job.b.nodes, type(owner).__name__ if owner is not None else getattr(model, "__name__", "model"),
        [_value_info(helper, v.name, v) for v in inputs],
        [_value_info(helper, name, v) for name, v in zip(output_names, outputs)],
        initializer=job.b.initializers)
    from . import __version__  # read at call time: the package sets it after importing this module

    proto = helper.make_model(graph, producer_name="tinygrad_edu", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    onnx.checker.check_model(proto, full_check=True)
    write_atomic(path, proto.SerializeToString())
    return Path(path)


# ----------------------------------------------------------------------------- the picture


def draw_onnx(model, rankdir="TB"):
    """A ``graphviz.Digraph`` of an ONNX model (a path or a loaded ``ModelProto``), styled like ``tg.draw_graph``.

    Ellipses are ONNX nodes (operator and attributes); boxes are the graph's inputs,
    outputs and initializers (parameters, and constants named ``const``, with their shapes);
    edges carry the shapes ONNX's shape inference gives (``batch`` for the dynamic axis).
    Nodes are grouped in a cluster per module, read from the node names the export
    gives (``layers.0/MatMul``). Write it with ``tg.render_graph(draw_onnx(path), "onnx.svg")``.
    """
    import graphviz

    from .tools.viz import FONT, KIND_STYLES, OP_BORDER, OP_FILL

    onnx = _onnx()
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    graph = onnx.shape_inference.infer_shapes(proto).graph
    shapes = {info.name: _shape_text(info) for info in itertools.chain(graph.input, graph.value_info, graph.output)}
    initializers = {init.name: init for init in graph.initializer}
    producer = {name: f"n{i}" for i, node in enumerate(graph.node) for name in node.output}
    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir, "fontname": FONT},
                           node_attr={"fontname": FONT, "fontsize": "11"}, edge_attr={"fontname": FONT, "fontsize": "9"})

    boxes = {}  # value name -> node id (ids, not names: Graphviz reads a colon in a name as a port)

    def box(name, kind, detail):
        fill, color, style = KIND_STYLES[kind]
        boxes[name] = f"v{len(boxes)}"
        dot.node(boxes[name], f"{name}\n{detail}", shape="box", style=style, fillcolor=fill, color=color)

    for info in graph.input:
        box(info.name, "input", shapes[info.name])
    for info in graph.output:
        box(info.name, "output", shapes[info.name])
    clusters = {}  # module path -> node ids
    for i, node in enumerate(graph.node):
        inputs = list(node.input)
        slots = [p.name for p in onnx.defs.get_schema(node.op_type, OPSET).inputs]
        details = [f"{a.name}={_attribute_text(onnx, a)}" for a in node.attribute]
        for k, name in enumerate(inputs):  # small constants (shapes, axes, pads) read best inside the op
            init = initializers.get(name)
            if init is not None and name.startswith("const") and np.prod(init.dims, dtype=int) <= INLINE_SIZE:
                details.append(f"{slots[min(k, len(slots) - 1)]}={_constant_text(onnx, init)}")
                inputs[k] = ""
        dot.node(f"n{i}", node.op_type + ("\n" + "\n".join(details) if details else ""), shape="ellipse",
                 style="filled", fillcolor=OP_FILL, color=OP_BORDER)
        if "/" in node.name:
            clusters.setdefault(node.name.rsplit("/", 1)[0], []).append(f"n{i}")
        for name in filter(None, inputs):
            if name in initializers and name not in boxes:  # drawn once, however often it is used
                init = initializers[name]
                box(name, "data" if name.startswith("const") else "parameter", tuple(init.dims))
            dot.edge(producer.get(name) or boxes[name], f"n{i}", label=shapes.get(name, ""))
    for module, ids in clusters.items():
        with dot.subgraph(name=f"cluster_{module}") as cluster:
            cluster.attr(label=module, style="rounded,dashed", color="#9ca3af", fontname=FONT)
            for node_id in ids:
                cluster.node(node_id)
    for info in graph.output:
        dot.edge(producer[info.name], boxes[info.name])
    return dot


def _shape_text(info) -> str:
    dims = [d.dim_param or str(d.dim_value) for d in info.type.tensor_type.shape.dim]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _attribute_text(onnx, attribute) -> str:
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, float):
        return f"{value:g}"
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def _constant_text(onnx, initializer) -> str:
    values = onnx.numpy_helper.to_array(initializer)
    text = [f"{v:g}" if values.dtype.kind == "f" else ("max" if v == _INT64_MAX else "min" if v == _INT64_MIN else str(v))
            for v in values.ravel().tolist()]
    return text[0] if values.ndim == 0 else "[" + ", ".join(text) + "]"
