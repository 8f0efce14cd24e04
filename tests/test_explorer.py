"""The backprop explorer's page, read without a browser: self-contained, its data equal to the
trace's, every graph trace_backward accepts (create_graph graphs, summarised big graphs), and
written atomically. tests/test_explorer_browser.py clicks through it in Chromium."""
import json
import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.tools.explorer import VALUES_SHOWN, array_summary, forward_order


def page_data(html):
    """The DATA object the page's script reads."""
    literal = re.search(r"const DATA = (.*);\n</script>", html).group(1)
    return json.loads(literal)


def reused_weight_loss():
    """tanh(x @ w + b), squared and summed, plus 0.1 * sum(w * w): w used by two ops, h by one op twice."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((4, 3)), name="x")
    w = tg.Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="w")
    b = tg.Tensor(np.zeros(2), requires_grad=True, name="b")
    h = (x @ w + b).tanh()
    h.name = "h"
    loss = (h * h).sum() + (w * w).sum() * 0.1
    loss.name = "loss"
    return loss, w, b


def test_the_page_is_one_file_that_asks_for_nothing():
    loss, _, _ = reused_weight_loss()
    html = tg.explore(loss).html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "default-src 'none'" in html  # the policy forbids every request the page might make
    # nothing refers outside the page: no src or href attributes, no style sheets, no url(...) in CSS
    assert not re.search(r"\b(src|href|xlink:href)\s*=", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    # the only addresses are XML namespace names (identifiers, never fetched)
    addresses = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert addresses <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, addresses
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html  # Graphviz's prologue dropped
    assert 'id="n-t0"' in html and "<title>" in html.split("<svg")[0]  # nodes found by name; the page's title


def test_the_data_holds_what_the_trace_recorded():
    loss, w, b = reused_weight_loss()
    explorer = tg.explore(loss)
    trace, data = explorer.trace, page_data(explorer.html)
    key = {id(t): i for i, t in enumerate(explorer.tensors)}
    assert len(data["backward"]) == len(trace) and data["loss"] == key[id(loss)]
    assert data["seed"]["exact"] == [1.0]
    for k, (step, shown) in enumerate(zip(trace, data["backward"]), start=1):
        op = data["ops"][shown["op"]]
        assert op["name"] == step.op and op["rule"] == step.rule and op["math"] == step.math
        assert shown["upstream"]["exact"] == step.upstream.ravel().tolist()
        for passed, entry in zip(step.passed, shown["passed"]):
            assert entry["grad_name"] == "d" + passed.arg
            if passed.grad is None:
                assert entry["grad"] is None and entry["why"]
            else:
                assert entry["target"] == key[id(passed.target)]
                assert entry["grad"]["exact"] == passed.grad.ravel().tolist()
        received = trace.received(k)
        for target, total in shown["totals"]:
            assert total["exact"] == received[id(explorer.tensors[target])].ravel().tolist()
    # w receives three shares (one from the MatMul, two from w * w); their sum is what backward left in .grad
    contributions = [s for s in data["backward"] for p in s["passed"] if p["grad"] and p["target"] == key[id(w)]]
    assert len(contributions) == 3
    np.testing.assert_array_equal(trace.gradient(w), w.grad.data)


def test_the_forward_steps_run_each_op_after_the_ops_it_reads():
    loss, _, _ = reused_weight_loss()
    explorer = tg.explore(loss)
    data = page_data(explorer.html)
    ops = [data["ops"][j] for j in data["forward"]]
    assert len(ops) == len(explorer.trace)  # every op here takes part in the backward pass
    made = set()
    for op in ops:
        for tensor in (i["tensor"] for i in op["inputs"] if i["tensor"] is not None):
            produced = any(other["output"] == tensor for other in data["ops"])
            assert tensor in made or not produced, f"{op['name']} reads a tensor no earlier op made"
        made.add(op["output"])
        assert op["forward"] == op["math"].split(";")[0].strip()
    assert ops[-1]["output"] == data["loss"]
    deep = tg.Tensor([1.0], requires_grad=True)
    y = deep
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0
    assert len(forward_order([y])) == 3000


def test_value_summaries_show_small_arrays_whole_and_big_ones_by_statistics():
    small = array_summary(np.array([[1.0, -2.0], [0.5, 4.0]], dtype=np.float32))
    assert small["shape"] == "(2, 2)" and small["dtype"] == "float32" and small["values"] == "[[  1,  -2],\n [0.5,   4]]"
    assert (small["mean"], small["min"], small["max"]) == ("0.875", "-2", "4") and small["exact"] == [1, -2, 0.5, 4]
    big = array_summary(np.arange(VALUES_SHOWN + 1, dtype=np.float64))
    assert "values" not in big and "exact" not in big and big["std"] == f"{np.arange(65.0).std():.4g}"
    assert array_summary(np.zeros((0, 3)))["size"] == 0 and "mean" not in array_summary(np.zeros((0, 3)))
    assert array_summary(np.float64(2.5))["values"] == "2.5"


def test_the_module_and_arguments_are_named_as_in_the_table():
    tg.manual_seed(0)
    model = tg.nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    x = tg.Tensor(np.ones((2, 4), dtype=np.float32), name="x")
    loss = cross_entropy(model.logits(x), np.array([0, 2]))
    data = page_data(tg.explore(loss, params=model).html)
    modules = {op["module"] for op in data["ops"]}
    assert {"layers.1: Linear(16, 8)", "activations.0: ReLU"} <= modules
    names = {t["label"] for t in data["tensors"]}
    assert {"layers.1.weight", "layers.0.bias", "x"} <= names


def test_create_graph_graphs_and_summarised_big_graphs():
    x = tg.Tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=np.float64, name="x")
    (x ** 3).sum().backward(create_graph=True)
    slope = x.grad  # 3 x**2, recorded as a graph of the backward pass's own ops
    slope.name = "dy/dx"
    explorer = tg.explore((slope * slope).sum())
    data = page_data(explorer.html)
    assert len(data["backward"]) == len(explorer.trace) >= 4
    assert {"x", "dy/dx"} <= {t["label"] for t in data["tensors"]}
    np.testing.assert_allclose(explorer.trace.gradient(x), 36 * np.array([0.5, -1.0, 2.0]) ** 3)

    chain = tg.Tensor(np.ones(3), requires_grad=True, name="start")
    y = chain
    for _ in range(40):
        y = (y * 1.01).tanh()
    summarised = tg.explore(y.sum(), max_nodes=12)
    data = page_data(summarised.html)
    assert len(data["backward"]) == 81  # every step is there, drawn or not
    undrawn = [op for op in data["ops"] if op["node"] is None]
    assert undrawn and 'id="n-summary"' in summarised.html and "more nodes not drawn" in summarised.html


def test_explore_takes_a_trace_and_refuses_what_it_cannot_show():
    loss, _, _ = reused_weight_loss()
    trace = tg.trace_backward(loss, retain_graph=True)
    assert tg.explore(trace).trace is trace
    assert tg.explore([loss]).trace.loss is loss  # one output in a list
    with pytest.raises(TypeError, match="give gradient, retain_graph and params to tg.trace_backward"):
        tg.explore(trace, retain_graph=True)
    with pytest.raises(ValueError, match="one output to step back from"):
        tg.explore([loss, loss])
    with pytest.raises(TypeError, match="got ndarray"):
        tg.explore(np.ones(3))
    with pytest.raises(RuntimeError, match="requires grad"):
        tg.explore(tg.Tensor([1.0]))


def test_render_explorer_writes_atomically_and_notebooks_get_a_frame(tmp_path):
    loss, _, _ = reused_weight_loss()
    path = tg.render_explorer(loss, tmp_path / "pages" / "backprop")
    assert path.name == "backprop.html" and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in path.parent.iterdir()) == ["backprop.html"]  # no temporary file left
    loss, w, _ = reused_weight_loss()
    with pytest.raises(ValueError, match="must end in .html"):
        tg.render_explorer(loss, tmp_path / "page.svg")
    assert w.grad is None  # refused before the backward pass ran
    explorer = tg.explore(reused_weight_loss()[0])
    frame = explorer._repr_html_()
    assert frame.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;") and 'sandbox="allow-scripts"' in frame
    assert "<script>" not in frame  # the page is escaped into the attribute, not run in the notebook
    assert repr(explorer) == f"<Explorer: {len(explorer.trace)} backward steps of loss>"
