"""Pictures of the graph: ``tg.draw_graph`` and ``tg.render_graph``.

A picture has the two kinds of node a textbook computation graph has:

* **tensors** (boxes): the name when there is one (a parameter's dotted name such as
  ``0.weight``, or ``Tensor(name=...)``), the shape and dtype. Parameters, other leaves
  that require grad, data that needs no gradient, intermediates and outputs each have
  their own style, and leaves say whether they require grad.
* **ops** (ellipses): the op's name and attributes (``Sum  axis=1``); hovering over one
  in an SVG shows its math (``out = exp(x);  dx = g * out``).

Edges follow the data: each input into the op that used it, and the op into its
output. An input edge carries the argument's name (``x``, ``y``) when the op has
several, so it can be matched with the rule; it is dashed when no gradient flows back
along it. Each ``nn.Module`` call becomes a compactly labelled cluster
(``0: Linear(4, 16)``, the module's ``short_repr``; hovering shows its full repr),
nested like the modules. A tensor used twice is drawn once.

Building a picture takes two steps, so other tools can decorate the same graph:
``GraphView`` walks the graph once (nodes, edges, clusters, names), and
``GraphView.digraph(decoration)`` writes the Graphviz source, asking a ``Decoration``
for extra label lines, fill colours, highlights and a legend. ``tg.trace_backward``
draws its frames this way. Graphviz is imported only when a picture is made, so
``import tinygrad_edu`` stays light.
"""
from __future__ import annotations

import html
import inspect
from collections import Counter
from pathlib import Path

import numpy as np

from ..compile import CompiledFunction
from ..engine.tensor import Tensor
from ..nn.module import Module, Parameter
from . import health
from .atomic import write_atomic

FONT = "Helvetica"

# Tensor roles: (fill, border colour, border style). The legend reads its words from here.
KIND_STYLES = {
    "parameter": ("#dbeafe", "#1d4ed8", "filled,bold"),
    "input": ("#dcfce7", "#15803d", "filled,rounded,bold"),
    "data": ("#f3f4f6", "#6b7280", "filled,dashed"),
    "intermediate": ("#ffffff", "#374151", "filled"),
    "output": ("#fef3c7", "#b45309", "filled,bold"),
}
KIND_WORDS = {
    "parameter": "parameter (leaf, trained)",
    "input": "leaf that requires grad",
    "data": "data (no gradient)",
    "intermediate": "intermediate result (requires grad)",
    "output": "output",
}
OP_FILL, OP_BORDER = "#ede9fe", "#6d28d9"

# Gradient health, with the thresholds of the gradient-flow report (tools/health.py).
# NaN and Inf are a saturated red: a broken gradient, not merely a large one.
HEALTH_FILLS = {"ok": "#bbf7d0", "vanishing": "#fde68a", "exploding": "#fca5a5", "nan": "#ef4444",
                "inf": "#ef4444", None: "#e5e7eb"}
HEALTH_WORDS = {
    "ok": "gradient ok",
    "vanishing": f"vanishing gradient: mean |g| < {health.VANISHING_MEAN_ABS:g}",
    "exploding": f"exploding gradient: max |g| > {health.EXPLODING_MAX_ABS:g}",
    "nan": "gradient holds NaN",
    "inf": "gradient holds Inf",
    None: "no gradient stored",
}
ALWAYS_IN_LEGEND = ("ok", "vanishing", "exploding", None)  # NaN and Inf only when a node has them

SMALL_SIZE = 8  # tensors with at most this many elements show their values


# ----------------------------------------------------------------------------- formatting


def _number(value) -> str:
    return f"{value:.4g}"


def describe_array(array, small=SMALL_SIZE) -> str:
    """Values for an array of at most ``small`` elements (``[0.5, -1]``), else its shape and L2 norm."""
    array = np.asarray(array)
    if array.size <= small:
        if array.ndim == 0:
            return _number(array.item()) if array.dtype.kind in "fc" else str(array.item())
        return np.array2string(array, precision=4, separator=", ", max_line_width=10_000).replace("\n", "")
    norm = float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))
    return f"{shape_text(array.shape)} norm {_number(norm)}"


def shape_text(shape) -> str:
    """``(2, 3)`` for a shape, ``scalar`` for ()."""
    return "scalar" if shape == () else str(tuple(shape))


def _slice_text(s: slice) -> str:
    text = ("" if s.start is None else str(s.start)) + ":" + ("" if s.stop is None else str(s.stop))
    return text + (f":{s.step}" if s.step is not None else "")


def _index_text(index) -> str:
    """``x[index]`` written the way a learner would type it: ``[:, 0:2]``, ``[array(32,)]``."""
    parts = index if isinstance(index, tuple) else (index,)
    words = []
    for part in parts:
        if isinstance(part, slice):
            words.append(_slice_text(part))
        elif part is Ellipsis:
            words.append("...")
        elif isinstance(part, np.ndarray) and part.size <= 6:
            words.append(repr(part.tolist()))
        elif isinstance(part, np.ndarray):
            words.append(f"{'mask' if part.dtype == bool else 'array'}{part.shape}")
        else:
            words.append(repr(part))
    return "[" + ", ".join(words) + "]"


def _attr_text(key, value) -> str:
    if key == "index":
        return _index_text(value)
    if isinstance(value, np.dtype) or isinstance(value, type):
        return f"{key}={np.dtype(value).name}"
    if isinstance(value, float):
        return f"{key}={_number(value)}"
    return f"{key}={value}"


def op_attributes(ctx) -> list:
    """The op's attributes worth showing: ``axis=1``, ``alpha=0.01`` (unset and False ones left out)."""
    return [_attr_text(k, v) for k, v in getattr(ctx, "attrs", {}).items() if v is not None and v is not False]


def backward_rule(ctx) -> str:
    """The gradient half of the op's math docstring: ``dx = g * out`` from ``out = exp(x);  dx = g * out``."""
    rule = ctx.rule
    return rule.split(";", 1)[1].strip() if ";" in rule else rule


_FORWARD_PARAMS = {}  # op class -> the positional parameters of its forward after self


def arg_names(ctx, count: int) -> list:
    """Names of an op's inputs, read from its forward signature: ``['x', 'y']``, ``['xs[0]', ...]``."""
    cls = type(ctx)
    if cls not in _FORWARD_PARAMS:
        _FORWARD_PARAMS[cls] = [p for p in list(inspect.signature(cls.forward).parameters.values())[1:]
                                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.VAR_POSITIONAL)]
    params = _FORWARD_PARAMS[cls]
    rest = params[-1] if params and params[-1].kind is inspect.Parameter.VAR_POSITIONAL else None
    fixed = len(params) - (rest is not None)
    names = []
    for i in range(count):
        if i < fixed:
            names.append(params[i].name)
        elif rest is not None:
            names.append(f"{rest.name}[{i - fixed}]")
        else:
            names.append(f"input{i}")
    return names


def gradient_name(arg: str) -> str:
    """What the rule calls the gradient for argument ``arg``: ``dx`` for ``x``, ``dxs[1]`` for ``xs[1]``.

    Tables and the explorer write ``dx -> w`` (the gradient of argument ``x`` goes to the
    tensor ``w``), so an argument's label never reads like a tensor's name."""
    return f"d{arg}"


def constant_text(value) -> str:
    """A constant input as a picture shows it: its values when small, else ``array (2, 3) float32``."""
    array = np.asarray(value)
    if array.size <= 4:
        return describe_array(array)
    return f"{'mask' if array.dtype == bool else 'array'} {shape_text(array.shape)} {array.dtype}"


def _html(lines, bold=True) -> str:
    """An HTML-like Graphviz label from already-escaped lines: a (bold) head line, smaller lines below."""
    if not lines:
        return "<>"
    head, *rest = lines
    body = [f"<b>{head}</b>" if bold else head] + [f'<font point-size="9">{line}</font>' for line in rest]
    return "<" + "<br/>".join(body) + ">"


def _escape(text) -> str:
    return html.escape(str(text), quote=False)


# ----------------------------------------------------------------------------- naming


def _named_tensors(params):
    """(name, tensor) pairs from a Module, a dict {name: tensor}, or an iterable of pairs."""
    if params is None:
        return []
    if isinstance(params, Module):
        return list(params.named_parameters()) + list(params.named_buffers())
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    for pair in pairs:
        is_pair = isinstance(pair, tuple) and len(pair) == 2
        if not (is_pair and isinstance(pair[0], str) and isinstance(pair[1], Tensor)):
            raise TypeError(
                f"params: expected a Module, a dict {{name: Tensor}} or (name, Tensor) pairs, got an item {pair!r}"
            )
    return pairs


def _as_outputs(outputs) -> list:
    tensors = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if not tensors:
        raise ValueError("draw_graph: give at least one output tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: output {i} is a {type(t).__name__}, not a Tensor")
    return tensors


def walk(outputs) -> list:
    """Every tensor reachable from ``outputs`` through recorded ops, nearest first (breadth-first)."""
    order = []
    seen = set()
    for t in outputs:
        if id(t) not in seen:
            seen.add(id(t))
            order.append(t)
    i = 0
    while i < len(order):
        ctx = order[i]._ctx
        i += 1
        if ctx is None:
            continue
        for inp in ctx.inputs:
            if isinstance(inp, Tensor) and id(inp) not in seen:
                seen.add(id(inp))
                order.append(inp)
    return order


def tensor_names(tensors, params=None) -> dict:
    """id(tensor) -> display name, in this order of precedence: ``params`` (a Module, a dict
    or (name, tensor) pairs), ``Tensor(name=...)``, then the dotted names inside the
    outermost module of every module call that recorded one of the ops; a tensor that is
    a named tensor's ``.grad`` (after ``backward(create_graph=True)``) is called ``name.grad``.
    """
    names = {}
    roots = {}
    for t in tensors:
        scope = t._ctx.scope if t._ctx is not None else None
        if scope:
            roots.setdefault(id(scope[0].module), scope[0].module)
    for root in roots.values():
        for name, t in list(root.named_parameters()) + list(root.named_buffers()):
            names[id(t)] = name
    for t in tensors:
        if t.name:
            names[id(t)] = t.name
    for name, t in _named_tensors(params):
        names[id(t)] = name
    for t in tensors:
        if id(t) in names and t.grad is not None and t.grad._ctx is not None:
            names.setdefault(id(t.grad), f"{names[id(t)]}.grad")
    return names


def module_names(tensors, params=None) -> dict:
    """id(module) -> its dotted name inside its outermost module (``params`` first, when a Module),
    for every module whose call recorded an op that produced one of ``tensors``."""
    table = {}
    roots = [params] if isinstance(params, Module) else []
    for t in tensors:
        scope = t._ctx.scope if t._ctx is not None else None
        if scope:
            roots.append(scope[0].module)
    done = set()
    for root in roots:
        if id(root) in done:
            continue
        done.add(id(root))
        for name, module in root.named_modules():
            table.setdefault(id(module), name)
    return table


def module_label(module, names: dict) -> str:
    """``layers.1: Linear(16, 8)``: the module's dotted name (from ``module_names``) and its repr line."""
    text = module.short_repr()
    name = names.get(id(module), "")
    return f"{name}: {text}" if name else text


# ----------------------------------------------------------------------------- the graph as nodes


class TensorNode:
    """A tensor in a picture: its node id, the tensor, its role (``kind``), its name and its module cluster."""

    __slots__ = ("node_id", "tensor", "kind", "name", "cluster")

    def __init__(self, node_id, tensor, kind, name):
        self.node_id, self.tensor, self.kind, self.name = node_id, tensor, kind, name
        self.cluster = None

    def lines(self) -> list:
        """Escaped label lines: name (if any), shape and dtype, and for leaves whether they require grad.

        The head line is the name, drawn bold; an unnamed tensor's head is its shape."""
        t = self.tensor
        lines = [_escape(self.name)] if self.name else []
        lines.append(f"{_escape(shape_text(t.shape))} {t.dtype}")
        if t._ctx is None:
            lines.append("requires_grad" if t.requires_grad else "no grad")
        return lines


class OpNode:
    """An op in a picture: its node id, the recorded op (``ctx``), the id of its output and its module cluster."""

    __slots__ = ("node_id", "ctx", "output", "cluster")

    def __init__(self, node_id, ctx, output):
        self.node_id, self.ctx, self.output = node_id, ctx, output
        self.cluster = None

    def lines(self) -> list:
        """Escaped label lines: the op's name, then its attributes (``axis=1``)."""
        return [_escape(self.ctx.name)] + [_escape(a) for a in op_attributes(self.ctx)]


class Edge:
    """src -> dst; ``label`` names the argument; ``grad`` is False when no gradient flows back along it."""

    __slots__ = ("src", "dst", "label", "grad", "op", "position")

    def __init__(self, src, dst, label=None, grad=True, op=None, position=None):
        self.src, self.dst, self.label, self.grad = src, dst, label, grad
        self.op, self.position = op, position  # for input edges: the OpNode and the input's position


class Cluster:
    """One nn.Module call: a labelled box holding its ops (and the parameters it owns)."""

    __slots__ = ("key", "label", "parent", "children", "module")

    def __init__(self, key, label, parent, module):
        self.key, self.label, self.parent, self.module = key, label, parent, module
        self.children = []


class Decoration:
    """What a picture adds to the bare graph; the default adds nothing. Override what you need."""

    title = None
    recolours_tensors = False  # True when tensor_fill replaces the role colours

    def tensor_lines(self, node: TensorNode) -> list:
        """Extra (escaped) label lines for a tensor."""
        return []

    def tensor_fill(self, node: TensorNode):
        """A fill colour replacing the tensor's role colour, or None."""
        return None

    def tensor_attrs(self, node: TensorNode) -> dict:
        """Extra Graphviz attributes for a tensor node (a border colour, a pen width)."""
        return {}

    def op_attrs(self, node: OpNode) -> dict:
        """Extra Graphviz attributes for an op node."""
        return {}

    def edge_attrs(self, edge: Edge) -> dict:
        """Extra Graphviz attributes for an edge (a label, a colour, ``dir=back``)."""
        return {}

    def legend_rows(self) -> list:
        """(fill colour, words) rows added to the legend."""
        return []


class GraphView:
    """The drawable structure of the graph behind ``outputs``, built once.

    tensors, ops, constants  the nodes: {id(tensor): TensorNode}, [OpNode], [(node_id, text, OpNode)]
    edges                    data edges, inputs into ops and ops into outputs
    clusters                 module calls by key, when ``group_modules``
    omitted, omitted_nodes   a Counter of the op names left out because of ``max_nodes``, and
                             how many nodes were left out in all
    cut                      (node_id, edge label) of drawn nodes fed by nodes left out
    """

    def __init__(self, outputs, params=None, group_modules=True, max_nodes=None):
        if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
            raise ValueError(f"draw_graph: max_nodes must be a positive integer or None, got {max_nodes!r}")
        self.outputs = _as_outputs(outputs)
        order = walk(self.outputs)
        self.names = tensor_names(order, params)
        self._param_ids = {id(t) for _, t in _named_tensors(params) if t.requires_grad}
        self.tensors, self.ops, self.constants, self.edges = {}, [], [], []
        self.clusters = {}
        self.omitted = Counter()
        self.omitted_nodes = 0
        self.cut = []
        self._module_names = module_names(order, params)
        self._select(order, max_nodes)
        if group_modules:
            self._place_in_clusters()

    # -- which nodes are drawn

    def _select(self, order, max_nodes):
        """Add tensors and their ops nearest the outputs first, until ``max_nodes`` are drawn."""
        output_ids = {id(t) for t in self.outputs}
        budget = float("inf") if max_nodes is None else max_nodes
        used = 0
        full = False
        for t in order:
            ctx = t._ctx
            constants = 0 if ctx is None else sum(not isinstance(x, Tensor) for x in ctx.inputs)
            if not full and used + 1 <= budget:
                used += 1
                node = TensorNode(f"t{len(self.tensors)}", t, self._kind(t, output_ids), self.names.get(id(t)))
                self.tensors[id(t)] = node
            else:
                full = True
                self.omitted_nodes += 1
            if ctx is None:
                continue
            if not full and used + 1 + constants <= budget:
                used += 1 + constants
                self.ops.append(OpNode(f"op{len(self.ops)}", ctx, id(t)))
            else:
                full = True
                self.omitted[ctx.name] += 1
                self.omitted_nodes += 1 + constants
        self._wire()

    def _kind(self, t, output_ids):
        if id(t) in output_ids:
            return "output"
        if t._ctx is not None:
            return "intermediate"
        if isinstance(t, Parameter) or id(t) in self._param_ids:
            return "parameter"
        return "input" if t.requires_grad else "data"

    def _wire(self):
        """Edges for the drawn ops; an edge whose other end was not drawn comes from the summary node."""
        drawn_outputs = set()
        for op in self.ops:
            ctx = op.ctx
            drawn_outputs.add(op.output)
            labels = arg_names(ctx, len(ctx.inputs)) if len(ctx.inputs) > 1 else [None] * len(ctx.inputs)
            for i, (inp, need) in enumerate(zip(ctx.inputs, ctx.needs_input_grad)):
                if isinstance(inp, Tensor):
                    node = self.tensors.get(id(inp))
                    if node is None:
                        self.cut.append((op.node_id, labels[i]))
                        continue
                    src = node.node_id
                else:
                    src = f"c{len(self.constants)}"
                    self.constants.append((src, constant_text(inp), op))
                self.edges.append(Edge(src, op.node_id, labels[i], bool(need), op, i))
            self.edges.append(Edge(op.node_id, self.tensors[op.output].node_id))
        for key, node in self.tensors.items():
            if node.tensor._ctx is not None and key not in drawn_outputs:
                self.cut.append((node.node_id, None))

    # -- module clusters

    def _cluster_for(self, scope) -> Cluster:
        parent = None
        for call in scope:
            cluster = self.clusters.get(call.call_id)
            if cluster is None:
                module = call.module
                cluster = Cluster(call.call_id, module_label(module, self._module_names), parent, module)
                self.clusters[call.call_id] = cluster
                if parent is not None:
                    parent.children.append(cluster)
            parent = cluster
        return parent

    def _place_in_clusters(self):
        """Ops and their outputs go in their innermost module call; a leaf goes in the innermost
        call that uses it *and* owns it (a layer's own weight), otherwise outside every cluster."""
        consumers = {}
        for op in self.ops:
            scope = op.ctx.scope or ()
            if scope:
                op.cluster = self._cluster_for(scope)
                self.tensors[op.output].cluster = op.cluster
            for inp in op.ctx.inputs:
                if isinstance(inp, Tensor) and inp._ctx is None and id(inp) in self.tensors:
                    consumers.setdefault(id(inp), []).append(scope)
        owned = {}
        for key, scopes in consumers.items():
            common = scopes[0]
            for scope in scopes[1:]:
                n = 0
                while n < min(len(common), len(scope)) and common[n] is scope[n]:
                    n += 1
                common = common[:n]
            for call in reversed(common):
                module = call.module
                if id(module) not in owned:
                    owned[id(module)] = {id(p) for _, p in module.named_parameters()} | {
                        id(b) for _, b in module.named_buffers()
                    }
                if key in owned[id(module)]:
                    self.tensors[key].cluster = self.clusters[call.call_id]
                    break

    # -- Graphviz source

    def digraph(self, decoration: Decoration = None, rankdir="TB", legend=True):
        """A ``graphviz.Digraph`` of this view, decorated by ``decoration``."""
        import graphviz

        if rankdir not in ("TB", "LR", "BT", "RL"):
            raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
        decoration = decoration or Decoration()
        graph_attr = {"rankdir": rankdir, "fontname": FONT, "nodesep": "0.3", "ranksep": "0.4"}
        if decoration.title:
            graph_attr.update(label=_html([_escape(line) for line in decoration.title.splitlines()]), labelloc="t")
        dot = graphviz.Digraph(
            "graph",
            graph_attr=graph_attr,
            node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.08,0.04"},
            edge_attr={"fontname": FONT, "fontsize": "9", "color": "#4b5563", "arrowsize": "0.7"},
        )
        placed = {None: []}
        for cluster in self.clusters.values():
            placed[cluster.key] = []
        for node in self.tensors.values():
            placed[node.cluster.key if node.cluster else None].append(self._tensor_statement(node, decoration))
        for op in self.ops:
            placed[op.cluster.key if op.cluster else None].append(self._op_statement(op, decoration))
        for node_id, text, op in self.constants:
            statement = (node_id, _html([_escape(text)], bold=False),
                         {"shape": "plaintext", "fontcolor": "#6b7280", "fontsize": "10"})
            placed[op.cluster.key if op.cluster else None].append(statement)
        self._emit(dot, placed[None])
        for cluster in self.clusters.values():
            if cluster.parent is None:
                self._emit_cluster(dot, cluster, placed)
        for edge in self.edges:
            attrs = {} if edge.grad else {"style": "dashed", "color": "#9ca3af"}
            if edge.label:
                attrs["label"] = edge.label
            attrs.update(decoration.edge_attrs(edge))
            dot.edge(edge.src, edge.dst, **attrs)
        if self.omitted_nodes:
            self._summary(dot)
        if legend:
            self._legend(dot, decoration)
        return dot

    @staticmethod
    def _emit(graph, statements):
        for node_id, label, attrs in statements:
            graph.node(node_id, label, **attrs)

    def _emit_cluster(self, graph, cluster, placed):
        with graph.subgraph(name=f"cluster_{cluster.key}") as sub:
            sub.attr(label=_escape(cluster.label), tooltip=repr(cluster.module), style="rounded,dashed",
                     color="#6b7280", fontcolor="#374151", fontsize="10", labeljust="l")
            self._emit(sub, placed[cluster.key])
            for child in cluster.children:
                self._emit_cluster(sub, child, placed)

    def _tensor_statement(self, node, decoration):
        fill, border, style = KIND_STYLES[node.kind]
        fill = decoration.tensor_fill(node) or fill
        attrs = {"shape": "box", "style": style, "fillcolor": fill, "color": border}
        attrs.update(decoration.tensor_attrs(node))
        return node.node_id, _html(node.lines() + decoration.tensor_lines(node), bold=bool(node.name)), attrs

    def _op_statement(self, op, decoration):
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_FILL, "color": OP_BORDER,
                 "tooltip": op.ctx.rule}
        attrs.update(decoration.op_attrs(op))
        return op.node_id, _html(op.lines()), attrs

    def _summary(self, dot):
        common = ", ".join(f"{count} {name}" for name, count in self.omitted.most_common(4))
        lines = [f"... {self.omitted_nodes:,} more nodes not drawn", f"ops left out: {common}" if common else "",
                 "raise max_nodes to see them"]
        dot.node("summary", _html([_escape(line) for line in lines if line]), shape="note", style="filled",
                 fillcolor="#fff7ed", color="#c2410c")
        for node_id, label in self.cut:
            dot.edge("summary", node_id, style="dotted", **({"label": label} if label else {}))

    def _legend(self, dot, decoration):
        kinds = [k for k in KIND_STYLES if any(n.kind == k for n in self.tensors.values())]
        # Role swatches show fill and border; when the decoration fills tensors by something
        # else (gradient health), the border alone still tells the role.
        recoloured = decoration.recolours_tensors
        rows = [("#ffffff" if recoloured else KIND_STYLES[k][0], KIND_STYLES[k][1],
                 ("border: " if recoloured else "") + KIND_WORDS[k]) for k in kinds]
        if self.ops:
            rows.append((OP_FILL, OP_BORDER, "op (hover: its math)"))
        rows += [(colour, "#374151", words) for colour, words in decoration.legend_rows()]
        cells = "".join(
            f'<tr><td bgcolor="{fill}" color="{border}" border="2" width="18"> </td>'
            f'<td align="left">{_escape(words)}</td></tr>'
            for fill, border, words in rows
        )
        heading = '<tr><td colspan="2"><b>legend</b></td></tr>'
        table = f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">{heading}{cells}</table>>'
        dot.node("legend", table, shape="plaintext", fontsize="9")


# ----------------------------------------------------------------------------- gradients and data on the picture


class GradientsAndData(Decoration):
    """``show_grads``: each tensor's gradient norm, filled by gradient health; ``show_data``: min, max, mean."""

    def __init__(self, grad_of=None, show_data=False):
        self.grad_of = grad_of  # callable(tensor) -> ndarray or None; None: gradients not shown
        self.show_data = show_data
        self.recolours_tensors = grad_of is not None
        self._verdicts = {}  # node id -> (health verdict or None, norm): classify each gradient once

    def _verdict(self, node):
        if node.node_id not in self._verdicts:
            g = self.grad_of(node.tensor)
            if g is None:
                self._verdicts[node.node_id] = (None, None)
            else:
                norm = float(np.sqrt(np.sum(np.square(np.asarray(g), dtype=np.float64))))
                self._verdicts[node.node_id] = (health.classify(g), norm)
        return self._verdicts[node.node_id]

    def _shows_grad(self, node):
        return self.grad_of is not None and node.tensor.requires_grad

    def tensor_lines(self, node):
        lines = []
        if self._shows_grad(node):
            verdict, norm = self._verdict(node)
            if verdict is None:
                lines.append("grad not kept (see retain_grad)" if node.tensor._ctx is not None else "grad: None")
            else:
                lines.append(f"‖grad‖ = {_number(norm)}" + ("" if verdict == "ok" else f" ({verdict})"))
        if self.show_data:
            lines.append(_escape(data_summary(node.tensor.data)))
        return lines

    def tensor_fill(self, node):
        return HEALTH_FILLS[self._verdict(node)[0]] if self._shows_grad(node) else None

    def legend_rows(self):
        if self.grad_of is None:
            return []
        present = {verdict for verdict, _ in self._verdicts.values()}
        shown = ALWAYS_IN_LEGEND + tuple(k for k in ("nan", "inf") if k in present)
        return [(HEALTH_FILLS[k], HEALTH_WORDS[k]) for k in shown]


def data_summary(array) -> str:
    """``min -1  max 2  mean 0.5`` of an array (``empty`` for no elements), for ``show_data``."""
    array = np.asarray(array)
    if array.size == 0:
        return "empty"
    values = array.astype(np.float64, copy=False)
    return f"min {_number(values.min())}  max {_number(values.max())}  mean {_number(values.mean())}"


def _stored_grad(tensor):
    return None if tensor.grad is None else tensor.grad.data


# ----------------------------------------------------------------------------- the public functions


# Instruction kinds of a compiled program: (fill, border).
PROGRAM_STYLES = {
    "forward": (OP_FILL, OP_BORDER),
    "backward": ("#fee2e2", "#b91c1c"),
    "sum": ("#fee2e2", "#b91c1c"),
    "grad": ("#dbeafe", "#1d4ed8"),
    "call": ("#fef3c7", "#b45309"),
}


def draw_program(compiled, rankdir="TB"):
    """A ``graphviz.Digraph`` of the programs a ``tg.compile``-d function captured.

    One box per instruction, in program order (forward ops purple, backward steps and
    gradient sums red, ``.grad`` accumulation blue, host calls such as ``optimizer.step``
    amber); each edge is a value passed from the instruction that wrote it to one that
    reads it, labelled with its shape. Arguments are green ellipses, parameters read
    live blue ones. Each captured program (one per guard combination) is a cluster.
    """
    import graphviz

    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir, "fontname": FONT},
                           node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT, "fontsize": "8"})
    programs = [p for group in compiled.programs.values() for p in group]
    for n, program in enumerate(programs):
        with dot.subgraph(name=f"cluster_{n}") as cluster:
            cluster.attr(label=_escape(program.description), labeljust="l")
            writer = {}
            for slot, _ in program.inputs:
                name = f"p{n}s{slot}"
                cluster.node(name, _escape(str(program.slots[slot])), shape="ellipse", style="filled",
                             fillcolor=KIND_STYLES["input"][0], color=KIND_STYLES["input"][1])
                writer[slot] = name
            for slot, _ in program.live:
                name = f"p{n}s{slot}"
                cluster.node(name, _escape(str(program.slots[slot])), shape="ellipse", style="filled",
                             fillcolor=KIND_STYLES["parameter"][0], color=KIND_STYLES["parameter"][1])
                writer[slot] = name
            for i, instruction in enumerate(program.instructions):
                name = f"p{n}i{i}"
                fill, border = PROGRAM_STYLES[instruction.kind]
                cluster.node(name, _escape(instruction.text), shape="box", style="filled,rounded",
                             fillcolor=fill, color=border)
                for slot in dict.fromkeys(instruction.reads):
                    if slot in writer:
                        cluster.edge(writer[slot], name, label=shape_text(program.slots[slot].shape))
                for slot in instruction.writes:
                    writer[slot] = name
    return dot


def draw_graph(outputs, params=None, show_grads=False, show_data=False, group_modules=True, rankdir="TB",
               max_nodes=None, legend=True):
    """A ``graphviz.Digraph`` of the graph that produced ``outputs`` (one Tensor or several).

    params         names for tensors: a Module (its ``named_parameters``), a dict {name: tensor}
                   or (name, tensor) pairs; parameters of modules that were called are named
                   anyway, and ``Tensor(name=...)`` names are always used
    show_grads     True: after ``backward()``, each tensor's gradient norm, with the node filled
                   by gradient health (ok / vanishing / exploding, the thresholds of the
                   gradient-flow report; red for a gradient holding NaN or Inf). Leaves keep their ``.grad``; an intermediate only
                   with ``retain_grad()``. Or pass the ``Trace`` from ``tg.trace_backward`` to
                   show the gradient every tensor received in that backward pass.
    show_data      each tensor's min, max and mean
    group_modules  draw each nn.Module call as a labelled cluster, nested like the modules
    rankdir        'TB' (inputs at the top), 'LR', 'BT' or 'RL'
    max_nodes      draw at most this many nodes, nearest the outputs first; a summary node
                   counts the rest and the ops among them
    legend         add a legend of the node styles present (and of the gradient colours)

    A function compiled with ``tg.compile`` draws its captured programs (``draw_program``).
    A graph built by ``backward(create_graph=True)`` is a graph too: ``draw_graph(x.grad)``
    shows the ops that computed the gradient, down to the forward graph they read.
    Jupyter shows the returned Digraph inline; ``.source`` is the DOT text.
    """
    if isinstance(outputs, CompiledFunction):
        return draw_program(outputs, rankdir=rankdir)
    view = GraphView(outputs, params=params, group_modules=group_modules, max_nodes=max_nodes)
    if show_grads is True:
        grad_of = _stored_grad
    elif show_grads is False or show_grads is None:
        grad_of = None
    elif hasattr(show_grads, "gradient"):  # a Trace
        grad_of = show_grads.gradient
    else:
        raise TypeError(f"draw_graph: show_grads must be True, False or a Trace, got {type(show_grads).__name__}")
    return view.digraph(GradientsAndData(grad_of, show_data), rankdir=rankdir, legend=legend)


INSTALL_GRAPHVIZ = (
    "Graphviz's `dot` program was not found, so the picture cannot be written. Install Graphviz: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install graphviz`, or the installer from the Graphviz website (Windows; add it to PATH). "
    "The DOT text is still available without it: draw_graph(...).source"
)
FORMATS = ("svg", "png", "pdf")


def write_picture(digraph, path, format=None) -> Path:
    """Run Graphviz's ``dot`` on ``digraph`` and write ``path``; the format comes from ``format``
    or the file's suffix (default svg, added to a path without one)."""
    import graphviz

    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if format is None:
        format = suffix if suffix in FORMATS else "svg"
    if format not in FORMATS:
        raise ValueError(f"render_graph: format must be one of {', '.join(FORMATS)}, got {format!r}")
    if suffix in FORMATS and suffix != format:
        raise ValueError(f"render_graph: the path {path.name!r} ends in .{suffix} but format is {format!r}")
    if not suffix:
        path = path.with_name(f"{path.name}.{format}")
    try:
        picture = digraph.pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(INSTALL_GRAPHVIZ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, picture)
    return path


def render_graph(outputs, path, format=None, **opts) -> Path:
    """Draw the graph of ``outputs`` (options as ``draw_graph``) and write it to ``path``
    as svg, png or pdf through Graphviz's ``dot``; returns the path written.

    ``outputs`` may also be a Digraph already drawn. Without ``dot`` installed this
    raises a RuntimeError saying how to install Graphviz.
    """
    import graphviz

    digraph = outputs if isinstance(outputs, graphviz.Digraph) else draw_graph(outputs, **opts)
    return write_picture(digraph, path, format)
