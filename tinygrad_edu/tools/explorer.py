"""The backprop explorer: ``tg.explore`` and ``tg.render_explorer``, one web page to click through.

``explore(loss)`` runs ``tg.trace_backward(loss)`` (so the leaves' ``.grad`` fill up as
with ``backward()``) and builds a page from what the trace recorded:

* the graph as ``tg.draw_graph`` draws it (module clusters, names, shapes), turned into
  inline SVG by Graphviz's ``dot``;
* every backward step: the op, the module it ran in, its rule, the upstream gradient
  ``g``, what it passed to each input, and each tensor's gradient so far (a tensor used
  twice receives two contributions, and the page counts them on the picture);
* every forward step, in an order where each op comes after the ops that made its
  inputs, with the values that went in and came out;
* each tensor's value summary (shape, dtype, mean, std, min, max, and every value
  when it has at most ``VALUES_SHOWN`` elements), shown when the pointer rests on it.

Next / Previous (or the arrow keys) step through; ``#backward-3`` or ``#forward-2`` at
the end of the page's address opens it at that step. Everything is inline in one HTML
file (SVG, CSS from ``explorer_page/explorer.css``, JavaScript from
``explorer_page/explorer.js``, the data as a JavaScript object), and the page's
Content-Security-Policy forbids every request, so it works from disk, offline and in
a notebook. Big graphs are drawn as ``draw_graph(max_nodes=...)`` draws them: the ops
left out still have their steps, and the page points at the summary node instead.
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import numpy as np

from ..engine.tensor import Tensor
from .atomic import write_atomic
from .trace import CURRENT_BORDER, CURRENT_FILL, DONE_FILL, RECEIVED_FILL, RECEIVING_BORDER, Trace, trace_backward
from .viz import (
    INSTALL_GRAPHVIZ,
    GradientsAndData,
    GraphView,
    _number,
    arg_names,
    backward_rule,
    constant_text,
    gradient_name,
    op_attributes,
    shape_text,
    walk,
)

VALUES_SHOWN = 64  # arrays with at most this many elements show every value (and carry them exactly)
PAGE = Path(__file__).with_name("explorer_page")

# The page's colours: the frames' (trace.py) for the backward pass, a green for values computed.
COLOURS = {
    "current-fill": CURRENT_FILL, "current-border": CURRENT_BORDER, "done-fill": DONE_FILL,
    "received-fill": RECEIVED_FILL, "receiving-border": RECEIVING_BORDER, "computed-fill": "#bbf7d0",
}


# ----------------------------------------------------------------------------- values as the page shows them


def array_summary(array) -> dict:
    """What the page shows of an array: shape, dtype, size, mean, std, min, max and L2 norm (as
    text), and for at most ``VALUES_SHOWN`` elements ``values`` (NumPy's printout) and ``exact``
    (every element as a float, so a reader of the page gets the very numbers)."""
    array = np.asarray(array)
    summary = {"shape": shape_text(array.shape), "dtype": str(array.dtype), "size": int(array.size)}
    as_float = array.astype(np.float64)
    if array.size:
        summary.update(mean=_number(as_float.mean()), std=_number(as_float.std()), min=_number(as_float.min()),
                       max=_number(as_float.max()), norm=_number(np.sqrt(np.sum(np.square(as_float)))))
    if array.size <= VALUES_SHOWN:
        summary["values"] = values_text(array)
        summary["exact"] = as_float.ravel().tolist()
    return summary


def values_text(array) -> str:
    """Every element to 4 significant digits, in NumPy's brackets, in columns of one width."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return np.array2string(array, separator=", ", max_line_width=160, threshold=VALUES_SHOWN + 1)
    if array.ndim == 0:
        return _number(array.item())
    width = max((len(_number(v)) for v in array.ravel()), default=1)
    return np.array2string(array, separator=", ", max_line_width=160, threshold=VALUES_SHOWN + 1,
                           formatter={"float_kind": lambda v: _number(v).rjust(width)})


# ----------------------------------------------------------------------------- what the page is told


def forward_order(outputs) -> list:
    """The tensors that ops produced behind ``outputs``, each after the producers of its inputs."""
    order, seen = [], set()
    for root in outputs:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, 0)]
        while stack:  # depth first, iteratively: a deep graph must not overflow Python's stack
            tensor, next_input = stack[-1]
            node = tensor.grad_fn
            inputs = [] if node is None else [x for x in node.inputs if isinstance(x, Tensor)]
            if next_input < len(inputs):
                stack[-1] = (tensor, next_input + 1)
                child = inputs[next_input]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                if node is not None:
                    order.append(tensor)
    return order


def _forward_math(node) -> str:
    """The forward half of an op's math line: ``out = exp(x)`` from ``out = exp(x);  dx = g * out``."""
    return node.rule.split(";", 1)[0].strip()


class _PageData:
    """The page's data: tensors, ops, forward and backward steps, as plain lists and dicts."""

    def __init__(self, trace: Trace, view: GraphView):
        self.trace = trace
        self.tensors = walk([trace.loss])
        self.key = {id(t): i for i, t in enumerate(self.tensors)}
        produced = forward_order([trace.loss])
        self.op_key = {id(t.grad_fn): i for i, t in enumerate(produced)}
        self.drawn_ops = {id(op.ctx): op.node_id for op in view.ops}
        self.data = {
            "tensors": [self._tensor(t, view) for t in self.tensors],
            "ops": [self._op(t, view) for t in produced],
            "forward": list(range(len(produced))),
            "backward": self._backward_steps(),
            "loss": self.key[id(trace.loss)],
            "seed": array_summary(trace.seed),
        }

    def label(self, tensor) -> str:
        """A tensor's name, else what it is: ``Mul output``, ``leaf``, ``data``."""
        name = self.trace.names.get(id(tensor))
        if name:
            return name
        if tensor.grad_fn is not None:
            return f"{tensor.grad_fn.name} output"
        return "leaf" if tensor.requires_grad else "data"

    def _tensor(self, tensor, view):
        drawn = view.tensors.get(id(tensor))
        return {"label": self.label(tensor), "node": drawn.node_id if drawn else None,
                "kind": drawn.kind if drawn else None, "requires_grad": bool(tensor.requires_grad),
                "value": array_summary(tensor.data)}

    def _op(self, tensor, view):
        node = tensor.grad_fn
        inputs = []
        for arg, x in zip(arg_names(node, len(node.inputs)), node.inputs):
            if isinstance(x, Tensor):
                inputs.append({"arg": arg, "tensor": self.key[id(x)]})
            else:
                inputs.append({"arg": arg, "tensor": None, "constant": constant_text(x)})
        return {"name": node.name, "node": self.drawn_ops.get(id(node)), "attrs": " ".join(op_attributes(node)),
                "module": self.trace.module_of(node), "math": node.rule, "forward": _forward_math(node),
                "rule": backward_rule(node), "inputs": inputs, "output": self.key[id(tensor)]}

    def _backward_steps(self):
        steps = []
        for step, totals in zip(self.trace.steps, self.trace.running_totals()):
            passed = []
            for p in step.passed:
                entry = {"arg": p.arg, "grad_name": gradient_name(p.arg), "grad": None,
                         "target": self.key[id(p.target)] if isinstance(p.target, Tensor) else None}
                if p.grad is not None:
                    entry["grad"] = array_summary(p.grad)
                elif isinstance(p.target, Tensor):
                    entry["why"] = "needs no grad"
                else:
                    entry["why"] = f"constant {constant_text(p.target)}"
                passed.append(entry)
            targets = {id(p.target) for p in step.passed if p.grad is not None}
            steps.append({"op": self.op_key[id(step.ctx)], "output": self.key[id(step.output)],
                          "upstream": array_summary(step.upstream), "passed": passed,
                          "totals": [[self.key[t], array_summary(totals[t])] for t in targets]})
        return steps


# ----------------------------------------------------------------------------- the picture


class _ExplorerDecoration(GradientsAndData):
    """The bare picture, ids on the edges so the page can light them up; with ``show_grads`` each
    tensor also carries the norm of the whole gradient it receives (without the health colours,
    which would clash with the page's own)."""

    def __init__(self, grad_of=None):
        super().__init__(grad_of)
        self.recolours_tensors = False

    def tensor_fill(self, node):
        return None

    def legend_rows(self):
        return []

    def edge_attrs(self, edge):
        if edge.op is not None:
            return {"id": f"e_{edge.op.node_id}_in{edge.position}"}
        return {"id": f"e_{edge.src}_out"}


_SVG_NODE = re.compile(r'<g id="[^"]*" class="node">\s*<title>([^<]*)</title>')


def _inline_svg(svg: str) -> str:
    """Graphviz's SVG made fit to sit inside the page: no XML prologue, each node's ``<g>`` given the
    id ``n-NAME`` (its name in the DOT source), and no native tooltips (the page draws its own)."""
    svg = svg[svg.index("<svg"):]
    svg = _SVG_NODE.sub(lambda m: f'<g id="n-{m.group(1)}" class="node">', svg)
    svg = re.sub(r"<title>[^<]*</title>\s*|<!--.*?-->\s*", "", svg)
    # an op's tooltip is a link wrapped around its shapes: unwrap them
    return re.sub(r'<g id="a_[^"]*">\s*<a [^>]*>\s*|\s*</a>\s*</g>', "", svg)


def _svg_of(view, decoration, rankdir) -> str:
    import graphviz

    try:
        svg = view.digraph(decoration, rankdir=rankdir).pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise RuntimeError(INSTALL_GRAPHVIZ) from None
    return _inline_svg(svg)


# ----------------------------------------------------------------------------- the page


def _script_literal(data) -> str:
    """``data`` as a JavaScript literal that cannot end the <script> element it sits in.

    JSON is JavaScript, NaN and Infinity included (json writes them bare)."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def page_html(trace: Trace, max_nodes=None, rankdir="TB", show_grads=False) -> str:
    """The explorer page of a recorded backward pass, as one self-contained HTML text."""
    view = GraphView(trace.loss, params=trace.params, max_nodes=max_nodes)
    decoration = _ExplorerDecoration(trace.gradient if show_grads else None)
    data = _PageData(trace, view).data
    loss_name = trace.names.get(id(trace.loss)) or "the output"
    title = f"Backprop explorer: {loss_name} ({shape_text(trace.loss.shape)})"
    data["title"] = title
    colours = ":root{" + "".join(f"--{name}:{value};" for name, value in COLOURS.items()) + "}\n"
    parts = {
        "/*STYLE*/": colours + (PAGE / "explorer.css").read_text(encoding="utf-8"),
        "<!--SVG-->": _svg_of(view, decoration, rankdir),
        "/*DATA*/": _script_literal(data),
        "/*SCRIPT*/": (PAGE / "explorer.js").read_text(encoding="utf-8"),
        "<!--TITLE-->": html.escape(title),
    }
    page = (PAGE / "page.html").read_text(encoding="utf-8")
    return re.sub("|".join(re.escape(marker) for marker in parts), lambda m: parts[m.group(0)], page)


class Explorer:
    """The explorer page for one traced backward pass (``tg.explore`` makes it).

    html      the page: one self-contained HTML text
    trace     the ``Trace`` it shows
    tensors   the tensors it shows, in the page's order (``data-tensor="3"`` is ``tensors[3]``)

    Jupyter shows it inline (in a sandboxed frame); ``save(path)`` writes the page.
    """

    def __init__(self, trace: Trace, html_text: str):
        self.trace, self.html = trace, html_text
        self.tensors = walk([trace.loss])

    def save(self, path) -> Path:
        """Write the page to ``path`` (``.html`` added when it has no suffix) atomically; returns the path."""
        path = _page_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(os.fspath(path), self.html.encode("utf-8"))
        return path

    def _repr_html_(self):
        # A frame of its own keeps the page's ids, styles and keys apart from the notebook's.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                f'style="width:100%;height:720px;border:1px solid #d1d5db" title="backprop explorer"></iframe>')

    def __repr__(self):
        return f"<Explorer: {len(self.trace)} backward steps of {self.trace.names.get(id(self.trace.loss)) or 'the output'}>"


def _page_path(path) -> Path:
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + ".html")
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"render_explorer: the page is HTML, so the path must end in .html, got {path.name!r}")
    return path


def _as_trace(outputs, params, gradient, retain_graph) -> Trace:
    if isinstance(outputs, Trace):
        if gradient is not None or retain_graph or params is not None:
            raise TypeError("explore: a Trace was recorded already; give gradient, retain_graph and params "
                            "to tg.trace_backward instead")
        return outputs
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise ValueError(f"explore: give one output to step back from (a loss), got {len(outputs)}; "
                             "sum several losses into one, or pass gradient= for a non-scalar output")
        outputs = outputs[0]
    if not isinstance(outputs, Tensor):
        raise TypeError(f"explore: expected a Tensor (the loss) or a Trace from tg.trace_backward, "
                        f"got {type(outputs).__name__}")
    return trace_backward(outputs, gradient=gradient, params=params, retain_graph=retain_graph)


def explore(outputs, params=None, gradient=None, retain_graph=False, max_nodes=None, rankdir="TB",
            show_grads=False) -> Explorer:
    """The backprop explorer for ``outputs``: a loss Tensor (or a one-element list), or a ``Trace``.

    A Tensor is traced with ``tg.trace_backward(outputs, gradient, params, retain_graph)``,
    which fills the leaves' ``.grad`` as ``backward()`` does. ``params`` names tensors,
    ``max_nodes`` and ``rankdir`` draw the graph as for ``draw_graph``, and ``show_grads``
    also writes on each tensor the norm of the whole gradient it receives. Any graph the
    trace accepts works, one built with ``backward(create_graph=True)`` included.

    Returns an ``Explorer``: Jupyter shows it inline, ``.save(path)`` writes the page.
    """
    trace = _as_trace(outputs, params, gradient, retain_graph)
    return Explorer(trace, page_html(trace, max_nodes=max_nodes, rankdir=rankdir, show_grads=show_grads))


def render_explorer(outputs, path, **options) -> Path:
    """Write the explorer page of ``outputs`` (options as ``explore``) to ``path``; returns the path.

    The write is atomic: ``path`` holds the old page or the whole new one, never half of it.
    Without Graphviz's ``dot`` this raises a RuntimeError saying how to install it.
    """
    path = _page_path(path)  # a wrong name fails before the backward pass runs
    return explore(outputs, **options).save(path)
