"""Stepping through backpropagation: the recorded steps, their order and gradients, the
printed table, and the picture frames."""
import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine.autograd import topological_order
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.tools.trace import CURRENT_FILL, DONE_FILL, RECEIVED_FILL


class Linear(Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = Parameter(tg.randn(n_in, n_out, dtype=np.float64) * (1 / np.sqrt(n_in)))
        self.bias = Parameter(tg.randn(n_out, dtype=np.float64) * 0.1)

    def forward(self, x):
        return x @ self.weight + self.bias


class TwoLayerMLP(Module):
    def __init__(self):
        super().__init__()
        self.hidden = Linear(4, 5)
        self.out = Linear(5, 3)

    def forward(self, x):
        return self.out(self.hidden(x).tanh())


def mlp_loss(model=None):
    """Cross-entropy of a two-layer MLP on a fixed batch of 6 samples (float64)."""
    model = model or TwoLayerMLP()
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((6, 4)), name="x")
    labels = np.array([0, 2, 1, 1, 0, 2])
    logits = model(x)
    return model, -(logits.log_softmax(axis=1)[np.arange(6), labels]).mean()


def test_one_step_per_op_in_reverse_topological_order():
    _, loss = mlp_loss()
    expected = [t._ctx for t in reversed(topological_order([loss])) if t._ctx is not None]
    trace = tg.trace_backward(loss)
    assert [step.ctx for step in trace] == expected
    assert len(trace) == len(expected) == 10  # 2 x (MatMul, Add), Tanh, LogSoftmax, Index, Sum, Mul, Neg
    assert [step.index for step in trace] == list(range(1, 11))
    assert trace[0].output is loss and trace[0].op == "Neg"


def test_recorded_gradients_equal_the_final_grads():
    model, loss = mlp_loss()
    intermediates = [t for t in topological_order([loss]) if t._ctx is not None]
    for t in intermediates:
        t.retain_grad()
    trace = tg.trace_backward(loss)
    for step in trace:
        np.testing.assert_array_equal(step.upstream, step.output.grad.data)
        for passed in step.passed:
            if passed.grad is not None:
                assert passed.grad.shape == passed.target.shape and passed.grad.dtype == passed.target.dtype
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace.gradient(p), p.grad.data, rtol=1e-12, atol=0, err_msg=name)
    for t in intermediates:
        np.testing.assert_array_equal(trace.gradient(t), t.grad.data)


def test_trace_backward_fills_grads_exactly_like_backward():
    tg.manual_seed(3)
    model_a, loss_a = mlp_loss()
    tg.manual_seed(3)
    model_b, loss_b = mlp_loss()
    loss_a.backward()
    tg.trace_backward(loss_b)
    for (name, a), (_, b) in zip(model_a.named_parameters(), model_b.named_parameters()):
        np.testing.assert_array_equal(a.grad.data, b.grad.data, err_msg=name)
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss_b.backward()  # the graph was freed, as after backward()


def test_each_step_records_its_rule_and_what_it_passed_back():
    x = tg.Tensor([0.5, 1.0], requires_grad=True, dtype=np.float64, name="x")
    y = (x.exp() * x).sum()
    trace = tg.trace_backward(y)
    assert [step.op for step in trace] == ["Sum", "Mul", "Exp"]
    exp_step = trace[2]
    assert exp_step.rule == "dx = g * out" and exp_step.math == "out = exp(x);  dx = g * out"
    mul = trace[1]
    assert [p.arg for p in mul.passed] == ["x", "y"] and mul.passed[1].target is x
    np.testing.assert_allclose(mul.passed[1].grad, np.exp([0.5, 1.0]))  # dy = g * x with x = exp(x)
    np.testing.assert_allclose(trace.gradient(x), np.exp([0.5, 1.0]) * (1 + np.array([0.5, 1.0])))
    np.testing.assert_allclose(trace.gradient(x), x.grad.data)  # x got two contributions, summed


def test_the_table_is_numbered_and_shows_shapes_rules_and_small_values():
    x = tg.Tensor([0.5, 1.0], requires_grad=True, dtype=np.float64, name="x")
    w = tg.Tensor(np.ones((2, 12)), requires_grad=True, name="w")
    y = ((x.exp() * 2.0) @ w).sum()
    trace = tg.trace_backward(y)
    table = str(trace)
    assert repr(trace) == table
    lines = table.splitlines()
    assert lines[0].startswith("backward trace of the output (scalar): 4 steps")
    assert re.split(r"\s{2,}", lines[1]) == ["#", "op", "upstream g", "rule", "passes back"]
    numbered = [line.split()[0] for line in lines[2:] if line[:1].isdigit()]
    assert numbered == ["1", "2", "3", "4"]
    assert "Exp" in table and "dx = g * out" in table and "dx = g @ y.T" in table
    passes = [re.split(r"\s{2,}", line)[-1] for line in lines[2:]]
    # the gradient is named as in the rule (dx for argument x), then the tensor it goes to
    assert passes[-1].startswith("dx -> x: (2,) [")  # Exp passes a small gradient to x: its values
    assert f"dy -> w: (2, 12) norm {np.linalg.norm(2 * np.exp([[0.5] * 12, [1.0] * 12])):.4g}" in passes
    assert "dy: nothing (constant)" in passes  # the 2.0 of the Mul
    assert any(p.startswith("dx -> #3 Mul output") for p in passes)  # MatMul's x is the output of step 3's op
    assert not any(re.match(r"x -> ", p) for p in passes)  # an argument label never reads like a tensor name


def test_frames_highlight_the_current_op_and_the_gradients_so_far(tmp_path):
    x = tg.Tensor([0.5, 1.0], requires_grad=True, name="x")
    y = (x.exp() * x).sum()
    trace = tg.trace_backward(y)
    first, last = trace.frame(1).source, trace.frame(3).source
    assert "backward step 1 of 3: Sum" in first and "backward step 3 of 3: Exp" in last
    for source, done in ((first, 0), (last, 2)):
        assert source.count(f'fillcolor="{CURRENT_FILL}"') == 1
        assert source.count(f'fillcolor="{DONE_FILL}"') == done
        assert f'bgcolor="{CURRENT_FILL}"' in source  # explained in the legend
    assert first.count(f'fillcolor="{RECEIVED_FILL}"') == 2  # the loss, and what Sum passed to
    assert last.count(f'fillcolor="{RECEIVED_FILL}"') == 4  # every tensor by the end
    assert "dx = [" in last and "dir=back" in last  # Exp's gradient, drawn flowing back
    with pytest.raises(IndexError, match="steps 1 to 3"):
        trace.frame(0)
    paths = tg.render_trace(trace, tmp_path / "frames")
    assert [p.name for p in paths] == ["step_01.png", "step_02.png", "step_03.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_trace_needs_a_loss_with_a_graph_and_can_retain_it():
    with pytest.raises(RuntimeError, match="requires grad"):
        tg.trace_backward(tg.Tensor([1.0]))
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    tg.trace_backward(y, retain_graph=True)
    tg.trace_backward(y)
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])  # two passes accumulate, as with backward
    v = x * 3
    trace = tg.trace_backward(v, gradient=np.array([1.0, -1.0]))
    np.testing.assert_allclose(trace[0].upstream, [1.0, -1.0])


def test_the_table_names_the_module_each_step_ran_in():
    tg.manual_seed(0)
    model = tg.nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    x = tg.Tensor(np.ones((2, 4), dtype=np.float32), name="x")
    loss = tg.nn.functional.cross_entropy(model.logits(x), np.array([0, 2]))
    trace = tg.trace_backward(loss, params=model)
    lines = str(trace).splitlines()
    assert re.split(r"\s{2,}", lines[1]) == ["#", "op", "module", "upstream g", "rule", "passes back"]
    by_op = {}
    for step in trace:
        by_op.setdefault(trace.module_of(step), []).append(step.op)
    assert by_op["layers.1: Linear(16, 8)"] == ["Add", "MatMul"]
    assert by_op["activations.0: ReLU"] == ["Relu"]
    cells = [re.split(r"\s{2,}", line) for line in lines]
    row = next(i for i, c in enumerate(cells) if c[1:3] == ["MatMul", "layers.1: Linear(16, 8)"])
    assert re.match(r"dx -> #\d+ Relu output: \(2, 16\) norm", cells[row][-1])
    assert cells[row + 1][-1].startswith("dy -> layers.1.weight: (16, 8) norm")
    assert "dx -> x: nothing (needs no grad)" in str(trace)  # the data: an input that takes no gradient
    outside = tg.trace_backward((tg.Tensor([1.0], requires_grad=True) * 2).sum())
    assert outside.module_of(outside[0]) is None and "module" not in str(outside).splitlines()[1]
