"""``tg.compile``: capture a step once, replay it many times (a small tracing JIT).

Eager tinygrad_edu pays Python for every op of every step: a Tensor per result, a
node per op, a sort of the graph, checks. The array work itself is the same each
step. So ``step = tg.compile(fn)`` runs ``fn`` eagerly on its first call while
watching the engine's events (``engine/events.py``), and writes down, as a flat
*program*, everything that touched an array:

* each op's forward: its class, attributes and operands (an earlier result, an
  argument of ``fn``, a parameter read live, a constant);
* each backward sweep: every node's ``backward`` in the order the engine ran them,
  the gradient sums, and the leaves' ``.grad`` accumulation;
* each *host call*: a function marked ``events.replayed`` (an optimizer's ``step``
  and ``zero_grad``, a scheduler's ``step``, a dropout mask's draw, batch norm's
  running statistics) that the program calls again as it is.

Later calls with matching *guards* replay that program: the same NumPy work on the
new arguments, without Tensors, nodes or graph. Random draws, optimizer state,
running statistics and ``.grad`` change exactly as in eager mode, because the
calls that change them run again. The guards are the arguments' shapes and dtypes
(and the values of other arguments), grad mode, and the training flags of the
modules the step used; when one differs, ``fn`` is captured again and both
programs are kept. ``print(step)`` lists the programs.

The limits are those of every tracing JIT (TinyJit, CUDA graphs): Python control
flow that depends on tensor values is baked into the program, and Python side
effects (appending to a list, ``print``) happen only in the capturing call. Work
the program cannot see, and so could not repeat, is refused when it is captured:
an op reading an array that ``fn`` computed with plain NumPy, or a tensor made
inside ``fn`` from such data; an in-place change of a tensor outside a host call;
a float returned instead of a tensor.
"""
from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from operator import itemgetter
from typing import Callable, Dict, List

import numpy as np

from .engine import events
from .engine.autograd import _accumulating, accumulate_grad, sum_to_shape
from .engine.function import is_grad_enabled, state
from .engine.tensor import Tensor


class CompileError(RuntimeError):
    """``fn`` does something a captured program could not repeat faithfully; the message says what and how to fix it."""


# ----------------------------------------------------------------------------- what an instruction reads


@dataclass
class Slot:
    """A place in the program's value list: an argument, an op's result, a node, a gradient."""

    index: int
    shape: tuple = ()
    dtype: object = None
    label: str = ""

    def __str__(self):
        return self.label or f"%{self.index}"


@dataclass
class Instruction:
    """One step of a program: ``run(values)``, what it reads and writes (for freeing), and its listing line."""

    run: Callable
    reads: tuple
    writes: tuple
    text: str
    kind: str  # "forward", "backward", "sum", "grad" (into .grad) or "call" (a host call)
    clear: tuple = ()  # slots whose last reader this is: emptied right after it runs


def _described(value) -> str:
    if isinstance(value, (Slot, _TensorSlot)):
        return str(value)
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_described(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_described(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray):
        return f"const{value.shape}"
    return repr(value)


# ----------------------------------------------------------------------------- the program


class Program:
    """One captured run of ``fn``: instructions over a list of values, and how to fill and read it."""

    def __init__(self):
        self.instructions: List[Instruction] = []
        self.constants: Dict[int, object] = {}  # slot -> value preloaded at every replay
        self.inputs: List[tuple] = []  # (slot, path into (args, kwargs))
        self.live: List[tuple] = []  # (slot, tensor): a tensor read afresh at the start and after host calls
        self.grads_of: List[tuple] = []  # (slot, leaf): a leaf's .grad read after sweeps and host calls
        self.result = None  # a template of fn's result, Slots where arrays go
        self.modules: List[tuple] = []  # (module, training flag) guards
        self.size = 0
        self.slots: List[Slot] = []
        self.description = ""
        self._template: list = []

    def new_slot(self, shape=(), dtype=None, label="") -> Slot:
        """A new place in the value list, for a value of ``shape`` and ``dtype``."""
        slot = Slot(self.size, tuple(shape), dtype, label)
        self.slots.append(slot)
        self.size += 1
        return slot

    def add(self, run, reads, writes, text, kind) -> None:
        """Append an instruction: ``run(values)`` reads the slots ``reads`` and fills ``writes``."""
        self.instructions.append(Instruction(run, tuple(reads), tuple(writes), text, kind))

    def finish(self, result) -> None:
        """Free each value after its last reader; prepare the value list every replay starts from."""
        self.result = result
        kept = {s.index for s in _slots_in(result)} | set(self.constants)
        kept |= {slot for slot, _ in self.live} | {slot for slot, _ in self.grads_of}
        last_reader = {}
        for position, instruction in enumerate(self.instructions):
            for slot in instruction.reads:
                last_reader[slot] = position
        clears = {}
        for slot, position in last_reader.items():
            if slot not in kept:
                clears.setdefault(position, []).append(slot)
        for position, slots in clears.items():
            self.instructions[position].clear = tuple(slots)
        self._template = [None] * self.size
        for slot, value in self.constants.items():
            self._template[slot] = value
        self._steps = [(i.run, i.clear) for i in self.instructions]
        self.live_shapes = [(tensor, tensor.shape, tensor.dtype) for _, tensor in self.live]
        self._result_of = _builder(result)

    def guards_hold(self) -> bool:
        """The guards that arguments cannot show: training flags, and the parameters' shapes and dtypes."""
        for module, flag in self.modules:  # plain loops: this runs before every replay
            if module.training != flag:
                return False
        for tensor, shape, dtype in self.live_shapes:
            data = tensor._data
            if data.shape != shape or data.dtype != dtype:
                return False
        return True

    def replay(self, args, kwargs):
        """Run the program on a new call's arguments; returns what ``fn`` would have returned."""
        values = self._template.copy()
        for slot, path in self.inputs:
            values[slot] = _fetch((args, kwargs), path)
        for slot, tensor in self.live:
            values[slot] = tensor._data
        for run, clear in self._steps:
            run(values)
            for slot in clear:
                values[slot] = None
        return self._result_of(values)

    def refresh(self, values) -> None:
        """Read the live tensors and the leaves' gradients again (after a host call or a sweep)."""
        for slot, tensor in self.live:
            values[slot] = tensor._data
        for slot, leaf in self.grads_of:
            values[slot] = None if leaf.grad is None else leaf.grad._data

    def listing(self) -> str:
        """The program as text: its guards, then one line per instruction (what ``print(step)`` shows)."""
        lines = [self.description]
        lines += [f"  {i.text}" for i in self.instructions]
        lines.append(f"  return {_described(self.result)}")
        return "\n".join(lines)


def _fetch(root, path):
    """The array at ``path`` in (args, kwargs): a Tensor's data, or the ndarray itself."""
    for key in path:
        root = root[key]
    return root if type(root) is np.ndarray else root._data


def _slots_in(template):
    """Every Slot a template refers to (a Tensor-wrapped one too)."""
    if isinstance(template, Slot):
        yield template
    elif isinstance(template, _TensorSlot):
        yield template.slot
    elif isinstance(template, (tuple, list)):
        for item in template:
            yield from _slots_in(item)
    elif isinstance(template, dict):
        for item in template.values():
            yield from _slots_in(item)


def _builder(template):
    """values -> the object ``template`` describes: a Slot's value, a Tensor around a _TensorSlot's, the rest as is.

    Made once per instruction, so a replay does not walk the template again.
    """
    if isinstance(template, _TensorSlot):
        index = template.slot.index
        return lambda values: Tensor._make(values[index])
    if isinstance(template, Slot):
        index = template.index
        return lambda values: values[index]
    if isinstance(template, (tuple, list)) and any(True for _ in _slots_in(template)):
        parts, kind = [_builder(t) for t in template], type(template)
        return lambda values: kind(part(values) for part in parts)
    if isinstance(template, dict) and any(True for _ in _slots_in(template)):
        parts = {k: _builder(t) for k, t in template.items()}
        return lambda values: {k: part(values) for k, part in parts.items()}
    return lambda values: template


@dataclass
class _TensorSlot:
    """In a result or host-call template: a Tensor wrapping the slot's array."""

    slot: Slot

    def __str__(self):
        return str(self.slot)


def _getter(indices):
    """values -> the tuple of values at ``indices`` (itemgetter returns a bare value for one index)."""
    if len(indices) == 1:
        (i,) = indices
        return lambda values: (values[i],)
    if not indices:
        return lambda values: ()
    return itemgetter(*indices)


# ----------------------------------------------------------------------------- capturing


class _Capture(events.Observer):
    """Watches one eager call of ``fn`` and writes its program."""

    def __init__(self, args, kwargs):
        self.program = Program()
        self.thread = threading.get_ident()
        self.depth = 0  # > 0 inside a host call: its inside is not captured
        self.arrays: Dict[int, Slot] = {}  # id(array) -> its slot
        self.tensors: Dict[int, Slot] = {}  # id(tensor) -> the slot of its array
        self.nodes: Dict[int, Slot] = {}  # id(node) -> the slot holding it at replay
        self.live: Dict[int, tuple] = {}  # id(tensor) -> (slot, tensor, version, id(data))
        self.keep = []  # everything seen, alive until the capture ends (ids stay unique)
        self.sweep = None  # the backward sweep being recorded
        self.sweeps = []  # the leaves each finished sweep gave a gradient
        self.results = []  # (op result, its version): an in-place change of one is refused
        self.modules = {}
        self.roots = {}  # the outermost modules called: their parameter names label the listing
        # tensors that exist before the call: a tensor made during it from unseen data is refused
        existing = [o for o in gc.get_objects() if issubclass(type(o), Tensor)]  # type(): no attribute lookups
        self.keep.append(existing)  # alive until the capture ends, so no new tensor can reuse an id
        self.existing = set(map(id, existing))
        for path, value in _leaves_of((args, kwargs)):
            if isinstance(value, (Tensor, np.ndarray)):
                array = value._data if isinstance(value, Tensor) else value
                slot = self.program.new_slot(array.shape, array.dtype, _path_label(path))
                self.program.inputs.append((slot.index, path))
                self._register(value, slot)

    # --------------------------------------------------------------- what a value is in the program

    def _register(self, value, slot):
        self.keep.append(value)
        if isinstance(value, Tensor):
            self.tensors[id(value)] = slot
            self.keep.append(value._data)
            self.arrays[id(value._data)] = slot
        else:
            self.arrays[id(value)] = slot

    def _operand(self, value, op):
        """The Slot (or plain constant) standing for ``value`` in the program; refuses what it cannot repeat."""
        if isinstance(value, Tensor):
            slot = self.tensors.get(id(value)) or self.arrays.get(id(value._data))
            if slot is not None:
                return slot
            return self._live(value, op)
        if isinstance(value, np.ndarray):
            slot = self.arrays.get(id(value))
            if slot is not None:
                return slot
            return self._constant(value, op)
        if isinstance(value, tuple):
            return tuple(self._operand(v, op) for v in value)
        if isinstance(value, list):
            return [self._operand(v, op) for v in value]
        return value

    def _constant(self, array, op):
        """An array no op produced: kept only if it is 0-d (a number, like a Python float); else refused."""
        if array.ndim == 0:
            return array
        raise CompileError(
            f"tg.compile: {op} reads an array of shape {array.shape} ({array.dtype}) that the function computed "
            "without tinygrad_edu ops, so a replay could only reuse its values from the first call. Compute it "
            "with Tensor ops, or pass it as an argument of the compiled function (or as a Tensor made before it)")

    def _live(self, tensor, op):
        """A tensor no captured op produced: a parameter or buffer, read afresh at every replay."""
        if id(tensor) not in self.existing:
            leaf = self._grad_owner(tensor)
            if leaf is not None:
                slot = self.program.new_slot(tensor.shape, tensor.dtype, f"{self._label(leaf)}.grad")
                self.program.grads_of.append((slot.index, leaf))
                self._register(tensor, slot)
                return slot
            raise CompileError(
                f"tg.compile: {op} reads a tensor of shape {tensor.shape} made inside the compiled function from "
                "data no op computed (tg.Tensor(...), tg.zeros, tg.randn, ...), so a replay could only reuse its "
                "first values. Make it before the function, or pass it (or its data) as an argument"
                + self._cast_hint(tensor))
        entry = self.live.get(id(tensor))
        if entry is None:
            slot = self.program.new_slot(tensor.shape, tensor.dtype, self._label(tensor))
            entry = self.live[id(tensor)] = (slot, tensor, tensor._version, id(tensor._data))
            self.program.live.append((slot.index, tensor))
            self.keep.append(tensor)
        return entry[0]

    def _cast_hint(self, tensor) -> str:
        """A likelier cause, when an argument of the same shape has another dtype: it was converted."""
        for slot, path in self.program.inputs:
            shape, dtype = self.program.slots[slot].shape, self.program.slots[slot].dtype
            if shape == tensor.shape and dtype != tensor.dtype:
                return (f". It looks like argument {_path_label(path)} ({dtype}) converted to the model's "
                        f"{tensor.dtype}: pass it as {tensor.dtype}")
        return ""

    def _grad_owner(self, tensor):
        """The leaf whose ``.grad`` ``tensor`` is (a replayed sweep makes a new one), or None."""
        return next((leaf for sweep in self.sweeps for leaf in sweep if leaf.grad is tensor), None)

    def _check_untouched(self, where):
        """Tensors may change in place only inside host calls: an update elsewhere is not an op, and would not replay."""
        for key, (slot, tensor, version, data) in self.live.items():
            if tensor._version != version or id(tensor._data) != data:
                raise CompileError(
                    f"tg.compile: {self._label(tensor)} (shape {tensor.shape}) was changed in place {where}, "
                    "outside an optimizer step, so a replay would not repeat it. Update parameters with an "
                    "optimizer (tg.optim) inside the compiled function")
        for tensor, version in self.results:
            if tensor._version != version:
                raise CompileError(
                    f"tg.compile: an op's result of shape {tensor.shape} was changed in place {where} (add_, "
                    "mul_, x[...] = ..., ...), which a replay would not repeat; compute a new tensor instead "
                    "(y = x + 1, tg.where(...))")

    def _refresh_live(self):
        for key, (slot, tensor, version, data) in list(self.live.items()):
            self.live[key] = (slot, tensor, tensor._version, id(tensor._data))

    # --------------------------------------------------------------- events

    def op_applied(self, node, inputs, attrs, out):
        if self.depth or threading.get_ident() != self.thread:
            return
        self._end_sweep()
        self._check_untouched(f"before {node.name}")
        self._note_modules()
        name = node.name
        operands = [self._operand(x, name) for x in inputs]
        attr_template = {k: self._operand(v, name) for k, v in attrs.items()}
        program = self.program
        out_slot = program.new_slot(out.shape, out.dtype)
        node_slot = program.new_slot(label=f"node{out_slot.index}")
        self._register(out, out_slot)
        self.results.append((out, out._version))
        self.nodes[id(node)] = node_slot
        self.keep.append(node)
        run = _forward_instruction(type(node), operands, attr_template, out_slot.index, node_slot.index,
                                   node.needs_input_grad)
        reads = [o.index for o in operands if isinstance(o, Slot)] + [s.index for s in _slots_in(attr_template)]
        shown = ", ".join(_described(o) for o in operands)
        shown_attrs = "".join(f", {k}={_described(v)}" for k, v in attr_template.items())
        program.add(run, reads, (out_slot.index, node_slot.index),
                    f"{out_slot} = {name}({shown}{shown_attrs})  -> {out.shape} {out.dtype}", "forward")

    def sweep_started(self, nodes, create_graph, roots, root_grads, accumulate):
        if self.depth or threading.get_ident() != self.thread:
            return
        self._end_sweep()
        if create_graph:
            raise CompileError("tg.compile: backward(create_graph=True) cannot be captured; compile the step "
                               "without higher-order gradients")
        if not accumulate:
            raise CompileError("tg.compile: tg.grad (gradients returned instead of accumulated) cannot be "
                               "captured; call loss.backward() and read .grad")
        self.sweep = _Sweep(self, roots, root_grads)

    def node_swept(self, node, out, g, passed):
        if self.depth or threading.get_ident() != self.thread or self.sweep is None:
            return
        self.sweep.node(node, out, passed)

    def host_call(self, fn, args, kwargs):
        """A ``replayed`` function: recorded as one instruction, its inside not captured; returns its result."""
        if self.depth or threading.get_ident() != self.thread:
            return fn(*args, **kwargs)
        self._end_sweep()
        self._check_untouched(f"before {fn.__qualname__}")
        self._note_modules()
        arguments = [self._operand_for_call(a, fn) for a in args]
        keywords = {k: self._operand_for_call(v, fn) for k, v in kwargs.items()}
        self.depth += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        result_slot = None
        if isinstance(result, (Tensor, np.ndarray)):
            array = result._data if isinstance(result, Tensor) else result
            result_slot = self.program.new_slot(array.shape, array.dtype)
            self._register(result, result_slot)
        self.program.add(_host_instruction(self.program, fn, arguments, keywords, result_slot),
                         [s.index for s in _slots_in((arguments, keywords))],
                         (result_slot.index,) if result_slot else (),
                         f"{str(result_slot) + ' = ' if result_slot else ''}call {fn.__qualname__}"
                         f"({', '.join(_described_call(a) for a in arguments)})", "call")
        self._refresh_live()
        return result

    def _operand_for_call(self, value, fn):
        """Host-call arguments: an op result travels as a Tensor; everything else as the object itself."""
        if isinstance(value, Tensor):
            slot = self.tensors.get(id(value)) or self.arrays.get(id(value._data))
            if slot is not None:
                return _TensorSlot(slot)
            if id(value) not in self.existing and self._grad_owner(value) is None:
                self._live(value, fn.__qualname__)  # refuses a tensor made inside the call
            return value
        if isinstance(value, np.ndarray):
            return self._operand(value, fn.__qualname__)
        if isinstance(value, (tuple, list)):
            return type(value)(self._operand_for_call(v, fn) for v in value)
        return value

    def _note_modules(self):
        scope = state.scope or ()
        for call in scope:
            self.modules.setdefault(id(call.module), call.module)
        if scope and id(scope[0].module) not in self.roots:
            root = scope[0].module
            named = [*getattr(root, "named_parameters", list)(), *getattr(root, "named_buffers", list)()]
            self.roots[id(root)] = {id(t): name for name, t in named}

    def _label(self, tensor) -> str:
        """A tensor's name in the listing: its own, or its dotted name in a module the step called."""
        if tensor.name:
            return tensor.name
        for names in self.roots.values():
            if id(tensor) in names:
                return names[id(tensor)]
        return f"tensor{tensor.shape}"

    def _end_sweep(self):
        if self.sweep is not None:
            sweep, self.sweep = self.sweep, None
            sweep.finish()

    def finish(self, result):
        self._end_sweep()
        self._check_untouched("by the end of the call")
        template = self._result(result)
        modules = {}
        for module in self.modules.values():
            for inner in getattr(module, "modules", lambda: [module])():
                modules.setdefault(id(inner), inner)
        self.program.modules = [(m, m.training) for m in modules.values()]
        self.program.finish(template)
        return self.program

    def _result(self, value):
        if value is None or isinstance(value, (str, bytes)):
            return value
        if isinstance(value, Tensor):
            slot = self.tensors.get(id(value)) or self.arrays.get(id(value._data))
            if slot is None:
                raise CompileError("tg.compile: the function returned a tensor no captured op produced; "
                                   "return results of tinygrad_edu ops")
            return _TensorSlot(slot)
        if isinstance(value, np.ndarray):
            slot = self.arrays.get(id(value))
            if slot is None:
                raise CompileError("tg.compile: the function returned an array it computed with plain NumPy; "
                                   "return a Tensor computed by tinygrad_edu ops")
            return slot
        if isinstance(value, (tuple, list)):
            return type(value)(self._result(v) for v in value)
        if isinstance(value, dict):
            return {k: self._result(v) for k, v in value.items()}
        raise CompileError(
            f"tg.compile: the function returned a {type(value).__name__} ({value!r}), a value a replay cannot "
            "recompute; return the Tensor instead (for a loss: return loss, then call .item() on the result)")


def _described_call(value) -> str:
    if isinstance(value, (Slot, _TensorSlot)):
        return str(value)
    if isinstance(value, Tensor):
        return value.name or f"tensor{value.shape}"
    name = type(value).__name__
    return repr(value) if isinstance(value, (int, float, str, bool, type(None), tuple)) else name


def _leaves_of(root, path=()):
    """(path, value) for every value inside nested tuples, lists and dicts."""
    if isinstance(root, (tuple, list)):
        for i, item in enumerate(root):
            yield from _leaves_of(item, path + (i,))
    elif isinstance(root, dict):
        for key, item in root.items():
            yield from _leaves_of(item, path + (key,))
    else:
        yield path, root


def _path_label(path) -> str:
    """(0, 1) -> 'arg1' (a positional argument), (1, 'x') -> 'x' (a keyword one), then any [index]."""
    where, first, *rest = path
    return (f"arg{first}" if where == 0 else str(first)) + "".join(f"[{p!r}]" for p in rest)


def _forward_instruction(cls, operands, attrs, out, node_slot, needs_input_grad):
    """values -> runs ``cls().forward`` on the operands, as ``Function.apply`` would, without recording."""
    indices = [o.index for o in operands if isinstance(o, Slot)]
    if len(indices) == len(operands):
        fetch = _getter(indices)
    else:
        fetch = lambda values: [values[o.index] if isinstance(o, Slot) else o for o in operands]  # noqa: E731
    attributes = _builder(attrs)

    def run(values):
        node = cls()
        node.needs_input_grad = needs_input_grad  # what backward may read of the recording
        data = node.forward(*fetch(values), **attributes(values))
        if type(data) is not np.ndarray:  # as in Function.apply: a 0-d result as an array
            scalar, data = data, np.asarray(data)
            node.saved = tuple(data if s is scalar else s for s in node.saved)
        values[out] = data
        values[node_slot] = node

    return run


def _host_instruction(program, fn, args, kwargs, result_slot):
    """values -> ``fn`` called again, on this replay's values where the capture saw op results."""
    arguments, keywords = _builder(tuple(args)), _builder(kwargs)
    result = None if result_slot is None else result_slot.index

    def run(values):
        out = fn(*arguments(values), **keywords(values))
        if result is not None:
            values[result] = out._data if isinstance(out, Tensor) else out
        program.refresh(values)

    return run


class _Sweep:
    """One backward sweep being recorded: the nodes' backward calls and where each gradient goes."""

    def __init__(self, capture: _Capture, roots, root_grads):
        self.capture, self.program = capture, capture.program
        self.gradients = {}  # tensor -> the slot of its gradient so far (the engine's dict, mirrored)
        self.seeds = []
        self.seen = self.program.new_slot(label="seen")  # ids of arrays never adopted as a .grad, per replay
        for root, seed in zip(roots, root_grads):
            if id(root) not in capture.tensors:
                raise CompileError("tg.compile: backward() from a tensor computed before the compiled function "
                                   "was called; compute the loss inside it")
            slot = capture.arrays.get(id(seed))
            if slot is None:
                if not (seed.size == 1 and np.all(seed == 1)):
                    raise CompileError("tg.compile: backward(gradient=...) with an array computed inside the "
                                       "function; pass the gradient as an argument of the compiled function")
                seed = np.ones_like(seed)
                seed.setflags(write=False)
                slot = self.program.new_slot(seed.shape, seed.dtype, "1")
                self.program.constants[slot.index] = seed
            self.seeds.append(slot)
            self._add(root, slot)
        seeds, seen = [s.index for s in self.seeds], self.seen.index

        def run(values):
            values[seen] = {id(values[s]) for s in seeds}

        self.program.add(run, seeds, (seen,), f"backward from {', '.join(map(str, self.seeds))}", "grad")

    def _add(self, tensor, grad_slot):
        """Mirror of the engine's ``grads[x] = grads[x] + grad if x in grads else grad``."""
        current = self.gradients.get(tensor)
        if current is None:
            self.gradients[tensor] = grad_slot
            return
        total = self.program.new_slot(current.shape, current.dtype)
        a, b, t = current.index, grad_slot.index, total.index

        def run(values):
            values[t] = values[a] + values[b]

        self.program.add(run, (a, b), (t,), f"{total} = {current} + {grad_slot}", "sum")
        self.gradients[tensor] = total

    def node(self, node, out, passed):
        capture = self.capture
        if out._hooks:
            raise CompileError("tg.compile: a tensor in the graph has hooks (register_hook, retain_grad), "
                               "which a replay would not call")
        node_slot = capture.nodes.get(id(node))
        if node_slot is None:
            raise CompileError(f"tg.compile: backward runs through {node.name}, recorded before the compiled "
                               "function was called; build the whole graph inside it")
        g_slot = self.gradients.pop(out)
        targets = []
        for j, (x, grad) in enumerate(zip(node.inputs, passed)):
            if grad is None:
                continue
            if x._hooks:
                raise CompileError("tg.compile: a tensor in the graph has hooks (register_hook, retain_grad), "
                                   "which a replay would not call")
            slot = self.program.new_slot(x.shape, x.dtype)
            targets.append((j, slot, x.shape, x.dtype))
        run = _backward_instruction(node_slot.index, g_slot.index, self.seen.index,
                                    [(j, s.index, shape, dtype) for j, s, shape, dtype in targets], node.name)
        written = ", ".join(str(s) for _, s, _, _ in targets) or "nothing"
        self.program.add(run, (node_slot.index, g_slot.index, self.seen.index), [s.index for _, s, _, _ in targets],
                         f"{written} = {node.name}.backward({g_slot})", "backward")
        for j, slot, _, _ in targets:
            self._add(node.inputs[j], slot)

    def finish(self):
        """The leaves' gradients go into ``.grad`` (what is left of the mirrored dict, in its order)."""
        leaves = list(self.gradients.items())
        if any(leaf._hooks for leaf, _ in leaves):
            raise CompileError("tg.compile: a tensor in the graph has hooks (register_hook, retain_grad), "
                               "which a replay would not call")
        seen = self.seen.index
        pairs = [(leaf, slot.index) for leaf, slot in leaves]
        program = self.program
        self.capture.sweeps.append([leaf for leaf, _ in leaves])
        for leaf, _ in leaves:
            self.capture.keep.append(leaf)

        def run(values):
            for leaf, slot in pairs:
                with _accumulating:  # the engine's lock: a .grad shared with another thread stays whole
                    accumulate_grad(leaf, values[slot], values[seen])
            program.refresh(values)

        names = ", ".join(f"{self.capture._label(leaf)}.grad += {slot}" for leaf, slot in leaves)
        program.add(run, [s for _, s in pairs] + [seen], (), names or "(no leaf gradient)", "grad")


def _backward_instruction(node_slot, g_slot, seen_slot, targets, name):
    """values -> one node's backward, each gradient made ready as the engine's sweep does (``_pass_back``):
    a 0-d result as an array, a saved array never adopted, summed to its input's shape, cast to its dtype."""

    def run(values):
        node = values[node_slot]
        saved = node.saved
        grads = node.backward(values[g_slot], *saved)
        for j, slot, shape, dtype in targets:
            grad = grads[j]
            if isinstance(grad, np.generic):
                grad = np.asarray(grad)
            for value in saved:
                if grad is value:
                    values[seen_slot].add(id(grad))
                    break
            if grad.shape != shape:
                grad = sum_to_shape(grad, shape, name)
            if grad.dtype != dtype:
                grad = grad.astype(dtype)
            values[slot] = grad

    return run


# ----------------------------------------------------------------------------- the compiled function


def _guard_of(value):
    """What a program assumes of one argument: an array's shape and dtype, another value itself."""
    kind = type(value)
    if kind is np.ndarray:
        return value.shape, value.dtype
    if isinstance(value, Tensor):
        return Tensor, value.shape, value.dtype, value.requires_grad
    if kind is tuple or kind is list:
        return kind, tuple(_guard_of(v) for v in value)
    if kind is dict:
        return kind, tuple((k, _guard_of(v)) for k, v in value.items())
    try:
        hash(value)
    except TypeError:
        return "object", id(value)
    return kind, value


def _guard_key(args, kwargs):
    """What a program is specialised to: array shapes and dtypes, other arguments' values, grad mode."""
    return (tuple(_guard_of(a) for a in args), tuple((k, _guard_of(v)) for k, v in kwargs.items()),
            is_grad_enabled())


MAX_PROGRAMS = 32  # captures per function; past this, arguments that change every call are the likely cause


class CompiledFunction:
    """``fn`` compiled: call it as ``fn``; ``print`` it to see the captured programs."""

    def __init__(self, fn):
        self.fn = fn
        self.programs: Dict[tuple, List[Program]] = {}
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "compiled")

    def __call__(self, *args, **kwargs):
        return _call(self, *args, **kwargs)

    def _call(self, args, kwargs):
        key = _guard_key(args, kwargs)
        for program in self.programs.get(key, ()):
            if program.guards_hold():
                return program.replay(args, kwargs)
        if self.captures >= MAX_PROGRAMS:
            raise CompileError(
                f"tg.compile: {self.__name__} has been captured {self.captures} times, once per new combination of "
                "argument shapes, dtypes and values, grad mode and training flags; an argument that changes at every "
                "call (a step counter, a float) is the likely cause: make it a Tensor, or leave it out")
        capture = _Capture(args, kwargs)
        events.attach(capture)
        try:
            result = self.fn(*args, **kwargs)
            program = capture.finish(result)
        finally:
            events.detach(capture)
        program.description = _describe(self.__name__, key[2], program)
        self.programs.setdefault(key, []).append(program)
        return result

    @property
    def captures(self) -> int:
        """How many programs have been captured (one per guard combination met)."""
        return sum(len(p) for p in self.programs.values())

    def __repr__(self):
        if not self.programs:
            return f"<compiled {self.__name__}: not called yet>"
        return "\n".join(p.listing() for programs in self.programs.values() for p in programs)


@events.replayed
def _call(compiled, *args, **kwargs):
    """A compiled function called while another is being captured is one host call of the outer program."""
    return compiled._call(args, kwargs)


def _describe(name, grad_mode, program):
    """The program's first listing line: the arguments it expects, grad mode, training flags, its length."""
    shown = ", ".join(f"{program.slots[slot]}: {program.slots[slot].shape} {np.dtype(program.slots[slot].dtype).name}"
                      for slot, _ in program.inputs)
    flags = {flag for _, flag in program.modules}
    if len(flags) == 1:
        modes = [f"modules in {'training' if flags.pop() else 'eval'} mode"]
    else:
        modes = sorted({f"{type(m).__name__}.{'train' if t else 'eval'}" for m, t in program.modules})
    return (f"{name}({shown}), grad mode {'on' if grad_mode else 'off'}"
            + (f", {', '.join(modes)}" if modes else "")
            + f": {len(program.instructions)} instructions")


def compile(fn, *unexpected, **options) -> CompiledFunction:
    """Capture ``fn`` on its first call, then replay the captured program on later calls.

    ``fn`` is an ordinary function: a training step (zero_grad, forward, loss,
    backward, optimizer step, return the loss) or an inference. Its arguments may
    be Tensors or ndarrays; it returns Tensors (or ndarrays, or structures of them).
    See the module docstring for the guards and limits.

    Examples:
        >>> import numpy as np, tinygrad_edu as tg
        >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
        >>> opt = tg.optim.SGD([w], lr=0.1)
        >>> @tg.compile
        ... def step(x):
        ...     opt.zero_grad()
        ...     loss = (w * x).sum()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> [round(step(np.array([1.0, 1.0], dtype=np.float32)).item(), 2) for _ in range(3)]
        [3.0, 2.8, 2.6]
    """
    if unexpected or options or not callable(fn):
        raise TypeError(
            f"tg.compile takes one function to capture, got {type(fn).__name__}"
            + (f" and {len(unexpected) + len(options)} more argument(s)" if unexpected or options else "")
            + "; Python's own compile(source, filename, mode) is builtins.compile (a star import of "
            "tinygrad_edu hides it)")
    return CompiledFunction(fn)
