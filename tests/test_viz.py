"""Graph pictures: nodes, edges and labels read back from the DOT source, module clusters,
gradient colouring, summaries of big graphs, and real files written by Graphviz's ``dot``."""
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.tools import health
from tinygrad_edu.tools.viz import HEALTH_FILLS, KIND_STYLES, walk

# ----------------------------------------------------------------------------- reading DOT back

NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")
SUBGRAPH = re.compile(r"^\s*subgraph (cluster_\w+) \{$")
DEFAULTS = {"graph", "node", "edge"}


class Dot:
    """Nodes {id: attribute text}, edges [(src, dst, attribute text)], and clusters
    {name: (label, parent, node ids)} parsed from a Digraph's source."""

    def __init__(self, digraph):
        self.source = digraph.source
        self.nodes, self.edges, self.clusters, self.home = {}, [], {}, {}
        stack = [None]
        for line in self.source.splitlines():
            if m := SUBGRAPH.match(line):
                self.clusters[m.group(1)] = {"label": None, "parent": stack[-1], "nodes": []}
                stack.append(m.group(1))
            elif line.strip() == "}":
                stack.pop()
            elif m := EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), m.group(3) or ""))
            elif (m := NODE.match(line)) and m.group(1) not in DEFAULTS:
                self.nodes[m.group(1)] = m.group(2)
                self.home[m.group(1)] = stack[-1]
                if stack[-1]:
                    self.clusters[stack[-1]]["nodes"].append(m.group(1))
            elif stack[-1] and (m := re.search(r'\blabel=(?:"([^"]*)"|([^\s"]+))', line)):
                self.clusters[stack[-1]]["label"] = m.group(1) or m.group(2)

    def ids(self, prefix):
        return [n for n in self.nodes if re.fullmatch(prefix + r"\d+", n)]

    def find(self, text):
        """The one node whose attributes contain ``text``."""
        found = [n for n, attrs in self.nodes.items() if text in attrs]
        assert len(found) == 1, f"{text!r} is in nodes {found}"
        return found[0]

    def cluster(self, label):
        found = [name for name, c in self.clusters.items() if c["label"] == label]
        assert len(found) == 1, f"cluster {label!r}: {found} among {[c['label'] for c in self.clusters.values()]}"
        return found[0]

    def fill(self, node):
        return re.search(r'fillcolor="([^"]+)"', self.nodes[node]).group(1)


def leaf(values, name=None):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


# ----------------------------------------------------------------------------- small modules for the tests


class Linear(Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = Parameter(tg.randn(n_in, n_out) * (1 / np.sqrt(n_in)))
        self.bias = Parameter(tg.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias

    def extra_repr(self):
        return f"{self.n_in}, {self.n_out}"


class Block(Module):
    """Linear then ReLU: a module with a module inside."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = Linear(n_in, n_out)

    def forward(self, x):
        return self.linear(x).relu()


class Net(Module):
    def __init__(self):
        super().__init__()
        self.layers = [Block(4, 16), Linear(16, 3)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# ----------------------------------------------------------------------------- nodes, edges, labels


def test_known_graph_has_one_node_per_tensor_and_op_and_edges_that_follow_the_data():
    x, w = leaf([1.0, 2.0, 3.0], "x"), leaf([0.5, -1.0, 2.0], "w")
    y = (x * w).sum()
    dot = Dot(tg.draw_graph(y, legend=False))
    assert len(dot.ids("t")) == 4 and len(dot.ids("op")) == 2 and len(dot.nodes) == 6
    assert len(dot.edges) == 5
    mul, total = dot.find("<b>Mul</b>"), dot.find("<b>Sum</b>")
    tx, tw = dot.find("<b>x</b>"), dot.find("<b>w</b>")
    product = [dst for src, dst, _ in dot.edges if src == mul]
    assert len(product) == 1 and (product[0], total, "") in dot.edges
    assert (tx, mul, "label=x") in dot.edges and (tw, mul, "label=y") in dot.edges
    assert "(3,) float64" in dot.nodes[tx] and "requires_grad" in dot.nodes[tx]
    assert "scalar float64" in dot.nodes[[d for s, d, _ in dot.edges if s == total][0]]
    assert 'tooltip="out = x * y;  dx = g * y;  dy = g * x"' in dot.nodes[mul]


def test_op_attributes_are_shown():
    x = leaf(np.ones((2, 3)))
    y = x.leaky_relu(alpha=0.2).max(axis=0, keepdims=True)[:, 0:2].sum(axis=1)
    dot = Dot(tg.draw_graph(y))
    assert "alpha=0.2" in dot.nodes[dot.find("<b>LeakyRelu</b>")]
    assert "axis=0" in dot.nodes[dot.find("<b>Max</b>")]
    assert "keepdims=True" in dot.nodes[dot.find("<b>Max</b>")]
    assert "axis=1" in dot.nodes[dot.find("<b>Sum</b>")] and "keepdims" not in dot.nodes[dot.find("<b>Sum</b>")]
    assert "[:, 0:2]" in dot.nodes[dot.find("<b>Index</b>")]


def test_shared_subgraph_is_drawn_once():
    x = leaf([1.0, 2.0], "x")
    a = x.exp()
    y = (a * a + a).sum()
    dot = Dot(tg.draw_graph(y, legend=False))
    assert len(dot.ids("op")) == 4  # Exp, Mul, Add, Sum: Exp only once
    assert len(dot.ids("t")) == 5
    exp_out = [d for s, d, _ in dot.edges if s == dot.find("<b>Exp</b>")][0]
    assert sum(1 for s, _, _ in dot.edges if s == exp_out) == 3  # into Mul twice (x and y) and into Add


def test_roles_are_styled_apart_and_constants_and_data_are_marked():
    w = Parameter(np.ones(3))
    x = leaf([1.0, 2.0, 3.0], "x")
    data = tg.Tensor(np.array([4.0, 5.0, 6.0]), name="data")
    y = ((x * 2.0 + data) * w).sum()
    dot = Dot(tg.draw_graph(y, params={"w": w}))
    for name, kind in [("<b>w</b>", "parameter"), ("<b>x</b>", "input"), ("<b>data</b>", "data")]:
        fill, border, style = KIND_STYLES[kind]
        assert f'fillcolor="{fill}"' in dot.nodes[dot.find(name)]
        assert f'color="{border}"' in dot.nodes[dot.find(name)]
    assert "no grad" in dot.nodes[dot.find("<b>data</b>")]
    output = [n for n in dot.ids("t") if f'fillcolor="{KIND_STYLES["output"][0]}"' in dot.nodes[n]]
    assert len(output) == 1
    constant = dot.ids("c")
    assert len(constant) == 1 and "label=<2>" in dot.nodes[constant[0]] and "plaintext" in dot.nodes[constant[0]]
    no_grad_edges = [(s, d) for s, d, attrs in dot.edges if "dashed" in attrs]
    assert sorted(s for s, _ in no_grad_edges) == sorted([constant[0], dot.find("<b>data</b>")])
    assert "legend" in dot.nodes and "parameter (leaf, trained)" in dot.nodes["legend"]


def test_names_come_from_params_tensor_names_and_called_modules():
    net = Net()
    x = tg.Tensor(np.ones((2, 4), np.float32), name="x")
    out = net(x).sum()
    dot = Dot(tg.draw_graph(out))
    for name, _ in net.named_parameters():
        assert "parameter" in _kind_of(dot, name)
    dot = Dot(tg.draw_graph(out, params=[("first_weight", net.layers[0].linear.weight)]))
    dot.find("<b>first_weight</b>")
    with pytest.raises(TypeError, match="params"):
        tg.draw_graph(out, params=["not a pair"])


def _kind_of(dot, name):
    attrs = dot.nodes[dot.find(f"<b>{name}</b>")]
    return [k for k, (fill, border, _) in KIND_STYLES.items() if f'color="{border}"' in attrs][0]


def test_several_outputs_and_a_bare_leaf():
    x = leaf([1.0, 2.0], "x")
    a, b = x.exp(), x.sin()
    dot = Dot(tg.draw_graph([a, b], legend=False))
    assert len(dot.ids("op")) == 2 and len(dot.ids("t")) == 3
    fill = KIND_STYLES["output"][0]
    assert sum(f'fillcolor="{fill}"' in dot.nodes[n] for n in dot.ids("t")) == 2
    single = Dot(tg.draw_graph(x, legend=False))
    assert list(single.nodes) == ["t0"] and not single.edges
    with pytest.raises(TypeError, match="output 1"):
        tg.draw_graph([a, 3.0])
    with pytest.raises(ValueError, match="rankdir"):
        tg.draw_graph(a, rankdir="UP")
    assert "rankdir=LR" in tg.draw_graph(a, rankdir="LR").source


# ----------------------------------------------------------------------------- module clusters


def test_module_calls_are_nested_labelled_clusters():
    net = Net()
    x = tg.Tensor(np.ones((2, 4), np.float32), name="x")
    dot = Dot(tg.draw_graph(net(x).sum()))
    outer = dot.cluster("Net")
    block = dot.cluster("layers.0: Block")
    inner = dot.cluster("layers.0.linear: Linear(4, 16)")
    last = dot.cluster("layers.1: Linear(16, 3)")
    assert dot.clusters[outer]["parent"] is None
    assert dot.clusters[block]["parent"] == outer and dot.clusters[last]["parent"] == outer
    assert dot.clusters[inner]["parent"] == block
    assert dot.home[dot.find("<b>layers.0.linear.weight</b>")] == inner  # a layer's own weight sits inside it
    assert dot.home[dot.find("<b>Relu</b>")] == block
    assert dot.home[dot.find("<b>x</b>")] is None  # the input belongs to no module
    assert dot.home[dot.find("<b>Sum</b>")] is None  # called outside the model


def test_library_modules_are_labelled_compactly_with_the_full_repr_as_tooltip():
    model = tg.nn.Sequential(tg.nn.Linear(4, 16), tg.nn.BatchNorm1d(16), tg.nn.LeakyReLU(0.1), tg.nn.Linear(16, 3))
    source = tg.draw_graph(model(tg.ones(2, 4)).sum()).source
    labels = re.findall(r"\blabel=\"?([^\"\n]*?)\"? labeljust", source)
    assert sorted(labels) == sorted(["Sequential", "0: Linear(4, 16)", "1: BatchNorm1d(16)", "2: LeakyReLU",
                                     "3: Linear(16, 3)"])
    assert "tooltip=\"Linear(in_features=4, out_features=16, bias=True, init='he')\"" in source
    assert "tooltip=\"BatchNorm1d(16, eps=1e-05, momentum=0.1)\"" in source
    assert tg.nn.LayerNorm((2, 3)).short_repr() == "LayerNorm((2, 3))"
    assert tg.nn.Embedding(10, 4).short_repr() == "Embedding(10, 4)"


def test_a_module_called_twice_gets_two_clusters_and_grouping_can_be_off():
    layer = Linear(3, 3)
    x = tg.Tensor(np.ones((1, 3), np.float32))
    y = layer(layer(x)).sum()
    dot = Dot(tg.draw_graph(y))
    assert [c["label"] for c in dot.clusters.values()] == ["Linear(3, 3)", "Linear(3, 3)"]
    assert dot.home[dot.find("<b>weight</b>")] is None  # used by both calls: owned by neither
    assert not Dot(tg.draw_graph(y, group_modules=False)).clusters


# ----------------------------------------------------------------------------- gradients and data


def test_show_grads_colours_nodes_by_gradient_health_after_backward():
    ok, small, big = leaf([1.0, 2.0], "ok"), leaf([1.0, 2.0], "small"), leaf([1.0, 2.0], "big")
    hidden = ok * 3.0
    hidden.retain_grad()
    unkept = small * 1e-9
    y = (hidden + unkept + big * 1e4).sum()
    y.backward()
    dot = Dot(tg.draw_graph(y, show_grads=True))
    assert health.classify(small.grad.data) == "vanishing" and health.classify(big.grad.data) == "exploding"
    assert dot.fill(dot.find("<b>ok</b>")) == HEALTH_FILLS["ok"]
    assert dot.fill(dot.find("<b>small</b>")) == HEALTH_FILLS["vanishing"]
    assert dot.fill(dot.find("<b>big</b>")) == HEALTH_FILLS["exploding"]
    norm = np.linalg.norm(big.grad.data)
    assert f"‖grad‖ = {norm:.4g} (exploding)" in dot.nodes[dot.find("<b>big</b>")]
    retained = [n for n in dot.ids("t") if "‖grad‖ = 1.414" in dot.nodes[n] and "<b>" not in dot.nodes[n]]
    assert len(retained) == 1 and dot.fill(retained[0]) == HEALTH_FILLS["ok"]  # retain_grad kept it
    not_kept = [n for n in dot.ids("t") if "grad not kept" in dot.nodes[n]]
    assert not_kept and all(dot.fill(n) == HEALTH_FILLS[None] for n in not_kept)
    legend = dot.nodes["legend"]
    assert f"mean |g| &lt; {health.VANISHING_MEAN_ABS:g}" in legend
    assert f"max |g| &gt; {health.EXPLODING_MAX_ABS:g}" in legend


def test_show_grads_paints_nan_and_inf_gradients_red():
    fine, broken, huge = leaf([1.0, 4.0], "fine"), leaf([-1.0, 4.0], "broken"), leaf([0.0, 1.0], "huge")
    with np.errstate(invalid="ignore", divide="ignore"):
        y = (fine * 2.0 + broken.sqrt() + huge.sqrt()).sum()
        y.backward()  # d sqrt(x) is nan at -1 and inf at 0
    assert "NaN" not in Dot(tg.draw_graph(fine, show_grads=True)).nodes["legend"]  # only colours present
    dot = Dot(tg.draw_graph(y, show_grads=True))
    assert dot.fill(dot.find("<b>fine</b>")) == HEALTH_FILLS["ok"]
    assert dot.fill(dot.find("<b>broken</b>")) == HEALTH_FILLS["nan"] == "#ef4444"
    assert dot.fill(dot.find("<b>huge</b>")) == HEALTH_FILLS["inf"] == "#ef4444"
    assert "(nan)" in dot.nodes[dot.find("<b>broken</b>")] and "(inf)" in dot.nodes[dot.find("<b>huge</b>")]
    assert "gradient holds NaN" in dot.nodes["legend"] and "gradient holds Inf" in dot.nodes["legend"]


def test_show_grads_before_backward_and_show_data():
    x = leaf([1.0, -2.0, 4.0], "x")
    y = (x * x).sum()
    dot = Dot(tg.draw_graph(y, show_grads=True, show_data=True))
    assert "grad: None" in dot.nodes[dot.find("<b>x</b>")]
    assert "min -2  max 4  mean 1" in dot.nodes[dot.find("<b>x</b>")]
    assert "min 21  max 21  mean 21" in dot.source
    with pytest.raises(TypeError, match="show_grads"):
        tg.draw_graph(y, show_grads="yes")


def test_a_trace_shows_the_gradient_of_every_tensor():
    x = leaf([1.0, 2.0], "x")
    hidden = x.exp()
    y = (hidden * 2.0).sum()
    trace = tg.trace_backward(y)
    dot = Dot(tg.draw_graph(y, show_grads=trace))
    x_norm = np.linalg.norm(2 * np.exp([1.0, 2.0]))
    assert f"‖grad‖ = {x_norm:.4g}" in dot.nodes[dot.find("<b>x</b>")]
    exp_out = [d for s, d, _ in dot.edges if s == dot.find("<b>Exp</b>")][0]
    assert f"‖grad‖ = {np.linalg.norm([2.0, 2.0]):.4g}" in dot.nodes[exp_out]  # an intermediate, no retain_grad
    assert "grad not kept" not in dot.source


def test_create_graph_draws_the_backward_pass_as_a_graph():
    x = leaf([1.0, 2.0], "x")
    y = (x**3).sum()
    y.backward(create_graph=True)
    dot = Dot(tg.draw_graph(x.grad))
    grad_node = dot.find("<b>x.grad</b>")
    assert f'fillcolor="{KIND_STYLES["output"][0]}"' in dot.nodes[grad_node]
    # dx = g * 3 * x**2: a Pow of x (exponent 2) and the Mul that scales it
    assert len(dot.ids("op")) == 2
    assert "label=<2>" in dot.source and dot.find("<b>x</b>")
    gradient_ops = {s for s, d, _ in dot.edges if d == grad_node}
    assert dot.nodes[gradient_ops.pop()].startswith("label=<<b>Mul</b>")


# ----------------------------------------------------------------------------- big graphs


def _chain(n_ops):
    """A graph of exactly ``n_ops`` ops: each step uses the previous result and x again."""
    x = leaf(np.linspace(0.1, 0.9, 4), "x")
    y = x
    for i in range(n_ops // 2):
        y = (y * x).tanh() if i % 2 else (y + x).sin()
    return y


def test_a_graph_over_max_nodes_is_summarised():
    y = _chain(400)
    every = Dot(tg.draw_graph(y, legend=False))
    total = len(every.nodes)
    dot = Dot(tg.draw_graph(y, max_nodes=40, legend=False))
    drawn = [n for n in dot.nodes if n != "summary"]
    assert len(drawn) <= 40 and "summary" in dot.nodes
    left_out = int(re.search(r"\.\.\. ([\d,]+) more nodes", dot.nodes["summary"]).group(1).replace(",", ""))
    assert len(drawn) + left_out == total
    assert "ops left out:" in dot.nodes["summary"] and "Tanh" in dot.nodes["summary"]
    output = [n for n in dot.ids("t") if f'fillcolor="{KIND_STYLES["output"][0]}"' in dot.nodes[n]]
    assert len(output) == 1  # the part nearest the output is the part drawn
    assert any(src == "summary" for src, _, _ in dot.edges)
    assert "summary" not in Dot(tg.draw_graph(y, max_nodes=total, legend=False)).nodes
    with pytest.raises(ValueError, match="max_nodes"):
        tg.draw_graph(y, max_nodes=0)


def test_summary_keeps_module_clusters_of_the_part_drawn():
    net = Net()
    x = tg.Tensor(np.ones((2, 4), np.float32), name="x")
    dot = Dot(tg.draw_graph(net(x).sum(), max_nodes=7, legend=False))
    assert len(dot.nodes) == 8 and "summary" in dot.nodes  # Sum, Add, MatMul, their outputs, the bias
    assert [c["label"] for c in dot.clusters.values()] == ["Net", "layers.1: Linear(16, 3)"]
    assert dot.home[dot.find("<b>layers.1.bias</b>")] == dot.cluster("layers.1: Linear(16, 3)")


def test_inputs_of_a_many_input_op_are_numbered():
    a, b, c = leaf([1.0], "a"), leaf([2.0], "b"), leaf([3.0], "c")
    dot = Dot(tg.draw_graph(tg.concatenate([a, b, c]), legend=False))
    assert sorted(attrs for _, _, attrs in dot.edges if attrs) == [f'label="xs[{i}]"' for i in range(3)]


def test_a_2000_op_graph_draws_in_under_5_seconds():
    y = _chain(2000)
    assert sum(t._ctx is not None for t in walk([y])) == 2000
    start = time.perf_counter()
    source = tg.draw_graph(y, show_grads=True, show_data=True).source
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"drawing 2,000 ops took {elapsed:.2f} s"
    assert source.count("<b>Tanh</b>") == 500


# ----------------------------------------------------------------------------- files through dot


def _mlp_loss():
    net = Net()
    x = tg.Tensor(np.ones((2, 4), np.float32), name="x")
    return net(x).sum()


def test_render_svg_with_dot_has_one_svg_node_per_graph_node(tmp_path):
    loss = _mlp_loss()
    loss.backward()
    digraph = tg.draw_graph(loss, show_grads=True)
    path = tg.render_graph(loss, tmp_path / "graph.svg", show_grads=True)
    assert path == tmp_path / "graph.svg"
    root = ET.parse(path).getroot()
    svg_nodes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert len(svg_nodes) == len(Dot(digraph).nodes) == 18  # 11 tensors + 6 ops + the legend
    clusters = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "cluster"]
    assert len(clusters) == 4


def test_render_png_and_pdf_and_the_format_rules(tmp_path):
    y = (leaf([1.0, 2.0], "x").exp()).sum()
    assert tg.render_graph(y, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tg.render_graph(y, tmp_path / "g", format="pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "g.pdf").exists()
    assert tg.render_graph(tg.draw_graph(y), tmp_path / "again.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="format"):
        tg.render_graph(y, tmp_path / "g.gif", format="gif")
    with pytest.raises(ValueError, match="ends in .png"):
        tg.render_graph(y, tmp_path / "g.png", format="svg")


def test_without_dot_render_says_how_to_install_graphviz_and_source_still_works(tmp_path, monkeypatch):
    y = (leaf([1.0, 2.0], "x").exp()).sum()
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as info:
        tg.render_graph(y, tmp_path / "g.svg")
    assert "brew install graphviz" in str(info.value) and "conda install graphviz" in str(info.value)
    assert not (tmp_path / "g.svg").exists()
    assert "<b>Exp</b>" in tg.draw_graph(y).source


def test_step_graph_draws_forward_loss_and_the_gradients_sent_back():
    from tinygrad_edu.tools.trace import mlp_step_graph, step_graph

    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.Tanh(), tg.nn.Linear(4, 2))
    x = tg.Tensor(np.ones((5, 3), dtype=np.float32), name="x")
    dot = Dot(step_graph(model, x, np.array([0, 1, 1, 0, 1]), params=model))
    assert "loss" in dot.nodes[dot.find("<b>loss</b>")]
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert "‖grad‖" in dot.nodes[dot.find(f"<b>{name}</b>")]
    assert model[0].weight.grad is not None  # a real backward pass: zero_grad() before training on
    plain = Dot(mlp_step_graph([4, 16, 8, 3], ["relu", "relu", "softmax"]))
    assert "‖grad‖" not in plain.source and "layers.0.weight" in plain.source
    assert "‖grad‖" in mlp_step_graph([2, 3, 2], ["tanh", "softmax"], show_grads=True).source
