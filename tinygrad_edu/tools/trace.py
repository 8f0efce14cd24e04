"""Step through backpropagation: ``tg.trace_backward`` and ``tg.render_trace``.

``trace_backward(loss)`` is ``loss.backward()`` with a notebook: the engine's own
sweep runs (the same ``.grad`` results), and after each step its ``tracer``
callback records

* the op whose output's gradient was just used (steps come in the engine's order,
  reverse topological: the loss's op first),
* the upstream gradient ``g`` that op received,
* the local rule it applied, the gradient half of the op's math docstring
  (``dx = g * out``),
* what it passed back to each input, already summed to that input's shape (what the
  engine adds to the input's gradient).

``print(trace)`` shows a numbered table; ``trace.frame(k)`` draws the graph at step
``k`` with the op of that step and the gradients received so far highlighted, and
``render_trace(trace, folder)`` writes every frame as a numbered file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import threading

from ..engine import events
from ..engine.autograd import run_backward
from ..engine.tensor import Tensor, seed_gradient
from .viz import (
    SMALL_SIZE,
    Decoration,
    GraphView,
    _escape,
    arg_names,
    backward_rule,
    describe_array,
    draw_graph,
    gradient_name,
    module_label,
    module_names,
    shape_text,
    tensor_names,
    walk,
    write_picture,
)


class PassedGradient:
    """What one step passed back to one input.

    position, arg  the input's position and argument name (``x``, ``y``)
    target         the input: a Tensor, or the constant the op was given
    grad           the gradient it received from this step, in its shape (ndarray), or
                   None when it takes no gradient (a constant, or data that does not require grad)
    """

    __slots__ = ("position", "arg", "target", "grad")

    def __init__(self, position, arg, target, grad):
        self.position, self.arg, self.target, self.grad = position, arg, target, grad


class TraceStep:
    """One step of the backward sweep: ``ctx`` (an op) received ``upstream`` and applied ``rule``.

    index     1 for the first step (the op that produced the loss)
    output    the tensor that op produced; ``upstream`` is its complete gradient
    passed    one PassedGradient per input of the op
    """

    __slots__ = ("index", "ctx", "output", "upstream", "passed")

    def __init__(self, index, ctx, output, upstream, passed):
        self.index, self.ctx, self.output, self.upstream, self.passed = index, ctx, output, upstream, passed

    @property
    def op(self) -> str:
        """The op's name, e.g. ``MatMul``."""
        return self.ctx.name

    @property
    def rule(self) -> str:
        """The local gradient rule applied, e.g. ``dx = g * out``."""
        return backward_rule(self.ctx)

    @property
    def math(self) -> str:
        """The op's whole math line, forward and backward: ``out = exp(x);  dx = g * out``."""
        return self.ctx.rule

    def __repr__(self):
        return f"<TraceStep {self.index}: {self.op}, g {shape_text(self.upstream.shape)}, {self.rule}>"


def _record(index, tensor, ctx, g, passed_grads) -> TraceStep:
    names = arg_names(ctx, len(ctx.inputs))
    passed = tuple(PassedGradient(i, names[i], inp, None if grad is None else np.array(grad, copy=True))
                   for i, (inp, grad) in enumerate(zip(ctx.inputs, passed_grads)))
    return TraceStep(index, ctx, tensor, np.array(g, copy=True), passed)


class _Recorder(events.Observer):
    """Watches the engine's ``node_swept`` event in one thread: each step's upstream gradient and what it
    passed on, already summed to each input's shape (copies: the engine may add into them later)."""

    def __init__(self):
        self.steps, self.thread = [], threading.get_ident()

    def node_swept(self, node, out, g, grads):
        if threading.get_ident() == self.thread:
            self.steps.append(_record(len(self.steps) + 1, out, node, g, grads))


def trace_backward(loss, gradient=None, params=None, retain_graph=False) -> Trace:
    """Run ``loss.backward(gradient, retain_graph)`` and record every step; returns a ``Trace``.

    Leaf gradients accumulate into ``.grad`` exactly as with ``backward()``. ``params``
    names tensors in the table and the frames, as for ``tg.draw_graph``.
    """
    if not isinstance(loss, Tensor) or not loss.requires_grad:
        raise RuntimeError(
            "trace_backward: the loss must be a Tensor that requires grad (build it from tensors "
            "created with requires_grad=True)"
        )
    seed = seed_gradient(loss, gradient, False, "trace_backward")
    recorder = events.attach(_Recorder())
    try:
        run_backward([loss], [seed], retain_graph=retain_graph)
    finally:
        events.detach(recorder)
    steps = recorder.steps
    return Trace(loss, np.array(seed, copy=True), steps, params)


class Trace:
    """The recorded steps of one backward pass; a list of ``TraceStep`` (``trace[0]`` is step 1)."""

    def __init__(self, loss, seed, steps, params=None):
        self.loss, self.seed, self.steps, self.params = loss, seed, list(steps), params
        tensors = walk([loss])
        self.names = tensor_names(tensors, params)
        self._module_names = module_names(tensors, params)
        self._step_of = {id(step.output): step for step in self.steps}
        self._totals = None  # id(tensor) -> whole gradient, filled on first use
        self._view = None  # the graph's GraphView, built for the first frame

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    # ------------------------------------------------------------------ gradients

    def received(self, upto=None) -> dict:
        """id(tensor) -> the gradient it has received after step ``upto`` (default: all steps)."""
        totals = {id(self.loss): self.seed}
        for totals in self.running_totals(len(self.steps) if upto is None else upto):
            pass
        return totals

    def running_totals(self, last=None):
        """After each of steps 1..last (default: every step) in turn: a fresh dict id(tensor) -> the
        gradient received so far. Before step 1 only the loss has one, the seed."""
        totals = {id(self.loss): self.seed}
        for step in self.steps[: len(self.steps) if last is None else last]:
            totals = dict(totals)
            for p in step.passed:
                if p.grad is not None:
                    key = id(p.target)
                    totals[key] = p.grad if key not in totals else totals[key] + p.grad
            yield totals

    def gradient(self, tensor):
        """The whole gradient ``tensor`` received in this backward pass (ndarray), or None.

        For an op's output it is the upstream gradient of that op's step; for a leaf, the
        sum of everything passed to it, which is what ``backward`` added to its ``.grad``.
        """
        step = self._step_of.get(id(tensor))
        if step is not None:
            return step.upstream
        if self._totals is None:
            self._totals = self.received()
        return self._totals.get(id(tensor))

    # ------------------------------------------------------------------ the table

    def describe(self, target) -> str:
        """How the table names a tensor: its name, or which step's op produced it."""
        if not isinstance(target, Tensor):
            return "constant"
        name = self.names.get(id(target))
        if name:
            return name
        step = self._step_of.get(id(target))
        if step is not None:
            return f"#{step.index} {step.op} output"
        if target._ctx is not None:
            return f"{target._ctx.name} output"
        return "leaf" if target.requires_grad else "data"

    def module_of(self, step):
        """The innermost module call a step's op (or any op of this graph) ran in, as
        ``layers.1: Linear(16, 8)``; None outside modules."""
        scope = getattr(step, "ctx", step).scope
        return module_label(scope[-1].module, self._module_names) if scope else None

    def passes_text(self, passed: PassedGradient) -> str:
        """One input's line of the table: ``dy -> w: (2, 3) norm 1.5``, ``dx: nothing (constant)``.

        The gradient is named as in the rule (``dy`` for argument ``y``), then the tensor it goes to."""
        name = gradient_name(passed.arg)
        if not isinstance(passed.target, Tensor):
            return f"{name}: nothing (constant)"
        target = self.describe(passed.target)
        if passed.grad is None:
            return f"{name} -> {target}: nothing (needs no grad)"
        return f"{name} -> {target}: {_gradient_text(passed.grad)}"

    def table(self) -> str:
        """The steps as a numbered table: op, module (when any op ran in one), upstream g, rule,
        and what went to each input."""
        modules = [self.module_of(step) or "" for step in self.steps]
        with_modules = any(modules)
        header = ("#", "op") + (("module",) if with_modules else ()) + ("upstream g", "rule", "passes back")
        rows = []
        for step, module in zip(self.steps, modules):
            passes = [self.passes_text(p) for p in step.passed]
            # the upstream column stays narrow: its values were shown where the earlier step passed them
            cells = (str(step.index), step.op) + ((module,) if with_modules else ())
            rows.append((cells + (_gradient_text(step.upstream, small=4), step.rule), passes))
        columns = len(header) - 1
        widths = [max([len(header[c])] + [len(cells[c]) for cells, _ in rows]) for c in range(columns)]

        def line(cells, last):
            return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)) + "  " + last

        title = (
            f"backward trace of {self.names.get(id(self.loss)) or 'the output'} ({shape_text(self.loss.shape)}): "
            f"{len(self.steps)} step{'s' if len(self.steps) != 1 else ''}, from the loss back to the leaves"
        )
        out = [title, line(header[:columns], header[columns]).rstrip()]
        for cells, passes in rows:
            out.append(line(cells, passes[0] if passes else "").rstrip())
            for extra in passes[1:]:
                out.append(line(("",) * columns, extra).rstrip())
        return "\n".join(out)

    __str__ = table

    def __repr__(self):
        return self.table()

    # ------------------------------------------------------------------ frames

    def frame(self, k: int, rankdir="TB"):
        """A ``graphviz.Digraph`` of the graph at step ``k`` (1 to len(trace))."""
        if not 1 <= k <= len(self.steps):
            raise IndexError(f"trace.frame: step {k} does not exist; this trace has steps 1 to {len(self.steps)}")
        return self._frame(k, self.received(k), rankdir)

    def _frame(self, k, received, rankdir):
        if self._view is None:
            self._view = GraphView(self.loss, params=self.params)
        return self._view.digraph(_FrameDecoration(self, self.steps[k - 1], received), rankdir=rankdir)


def _gradient_text(grad, small=SMALL_SIZE) -> str:
    """``(2, 3) norm 1.5`` for larger gradients, ``scalar 0.5`` / ``(2,) [1, 2]`` for small ones."""
    grad = np.asarray(grad)
    if grad.size <= small:
        return f"{shape_text(grad.shape)} {describe_array(grad, small)}"
    return describe_array(grad, small)


CURRENT_FILL, CURRENT_BORDER = "#fecaca", "#dc2626"
DONE_FILL = "#e5e7eb"
RECEIVED_FILL, RECEIVING_BORDER = "#fed7aa", "#ea580c"


class _FrameDecoration(Decoration):
    """One frame: the step's op in red, ops already applied in grey, gradients received so far in
    orange (with their values), and the gradients this step passes back written on its input edges."""

    recolours_tensors = True

    def __init__(self, trace, step, received):
        self.step, self.received = step, received
        self.done = {id(s.ctx) for s in trace.steps[: step.index - 1]}
        self.targets = {id(p.target) for p in step.passed if p.grad is not None}
        self.title = (
            f"backward step {step.index} of {len(trace)}: {step.op}    {step.rule}\n"
            f"upstream g = {_gradient_text(step.upstream)}"
        )

    def tensor_fill(self, node):
        return RECEIVED_FILL if id(node.tensor) in self.received else None

    def tensor_lines(self, node):
        g = self.received.get(id(node.tensor))
        return [] if g is None else [_escape(f"g = {describe_array(g)}")]

    def tensor_attrs(self, node):
        if node.tensor is self.step.output:
            return {"color": CURRENT_BORDER, "penwidth": "3"}
        if id(node.tensor) in self.targets:
            return {"color": RECEIVING_BORDER, "penwidth": "2.5"}
        return {}

    def op_attrs(self, node):
        if node.ctx is self.step.ctx:
            return {"fillcolor": CURRENT_FILL, "color": CURRENT_BORDER, "penwidth": "3"}
        if id(node.ctx) in self.done:
            return {"fillcolor": DONE_FILL}
        return {}

    def edge_attrs(self, edge):
        if edge.op is None or edge.op.ctx is not self.step.ctx:
            return {}
        passed = self.step.passed[edge.position]
        if passed.grad is None:
            return {}
        # drawn against the data, the way the gradient travels
        return {"label": f"d{passed.arg} = {describe_array(passed.grad)}", "color": CURRENT_BORDER,
                "fontcolor": CURRENT_BORDER, "penwidth": "2", "dir": "back"}

    def legend_rows(self):
        return [(CURRENT_FILL, "op of this step (red edges: what it passes back)"),
                (DONE_FILL, "op already applied"),
                (RECEIVED_FILL, "gradient received so far")]


def render_trace(trace: Trace, folder, format="png", rankdir="TB") -> list:
    """Write one picture per step, ``step_01.png``, ``step_02.png``, ..., into ``folder``; returns the paths."""
    folder = Path(folder)
    width = max(2, len(str(len(trace))))
    paths = []
    for k, received in enumerate(trace.running_totals(), start=1):
        picture = trace._frame(k, received, rankdir)
        paths.append(write_picture(picture, folder / f"step_{k:0{width}d}.{format}", format))
    return paths


# ---------------------------------------------------------------------------- one training step, drawn


def step_loss(forward, x, target, loss_fn=None):
    """One training step's loss, ``loss_fn(forward(x), target)``, named ``loss``, before its backward pass.

    forward     a model (or a bound method such as ``mlp.logits``) applied to the batch ``x``
    loss_fn     default: ``nn.functional.cross_entropy``
    """
    if loss_fn is None:
        from ..nn.functional import cross_entropy as loss_fn
    loss = loss_fn(forward(x), target)
    loss.name = "loss"
    return loss


def step_graph(forward, x, target, loss_fn=None, params=None, show_grads=True):
    """The graph of one training step: ``loss_fn(forward(x), target)`` and its backward pass.

    forward, loss_fn   as for ``step_loss``
    params             names for the tensors (usually the model), as for ``draw_graph``
    show_grads         each tensor shows the gradient it received (recorded by ``tg.trace_backward``)

    The backward pass accumulates into the parameters' ``.grad`` like any other:
    call ``zero_grad()`` afterwards if the model trains on.
    """
    return traced_graph(step_loss(forward, x, target, loss_fn), params, show_grads)


def traced_graph(loss, params=None, show_grads=True):
    """Run ``loss``'s backward pass (traced) and draw its graph, with the gradients when ``show_grads``."""
    trace = trace_backward(loss, params=params)
    return draw_graph(loss, params=params, show_grads=trace if show_grads else False)


def mlp_step(layer_sizes, activations, seed=0, batch_size=8):
    """One training step's cross-entropy loss for a new MLP on a random batch: ``(loss, model)``.

    ``layer_sizes`` such as (4, 16, 8, 3) and one activation name per layer. The
    data is a seeded random batch; ``seed`` also seeds the package's generator, so
    the weights are repeatable.
    """
    from ..engine.random import generator, manual_seed
    from ..nn import MLP

    manual_seed(seed)
    model = MLP(layer_sizes, activations)
    rng = generator(seed)
    x = Tensor(rng.standard_normal((batch_size, layer_sizes[0])).astype(model.layers[0].weight.dtype), name="x")
    labels = Tensor(rng.integers(0, layer_sizes[-1], size=batch_size), name="labels")
    return step_loss(model.logits, x, labels), model


def mlp_step_graph(layer_sizes, activations, show_grads=False, seed=0, batch_size=8):
    """The graph of one training step of an MLP (``mlp_step``): forward, cross-entropy loss, backward.

    With ``show_grads`` every tensor shows the gradient it received (recorded by ``tg.trace_backward``).
    """
    loss, model = mlp_step(layer_sizes, activations, seed=seed, batch_size=batch_size)
    return traced_graph(loss, model, show_grads)
