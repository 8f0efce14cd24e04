"""The gradient-flow report: per-parameter statistics flagged with the shared (tutorial) thresholds."""
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tools import health


def test_report_statistics_match_numpy():
    tg.manual_seed(0)
    model = nn.MLP([4, 6, 3], dtype=np.float64)
    x, y = np.random.default_rng(0).standard_normal((5, 4)), np.array([0, 1, 2, 0, 1])
    F.cross_entropy(model.logits(x), y).backward()
    report = tg.utils.gradient_report(model)
    assert [row.name for row in report] == [name for name, _ in model.named_parameters()]
    for row, (_, p) in zip(report, model.named_parameters()):
        g = p.grad.data
        assert row.shape == p.shape
        assert row.mean_abs == pytest.approx(np.mean(np.abs(g)))
        assert row.max_abs == pytest.approx(np.max(np.abs(g)))
        assert row.std == pytest.approx(np.std(g))
        assert row.status == "ok" and not row.vanishing and not row.exploding
    assert report.flagged == []


def test_report_flags_vanishing_and_exploding_with_the_shared_thresholds():
    tiny, huge, fine, silent = (tg.Tensor(np.zeros(3), requires_grad=True) for _ in range(4))
    tiny.grad = tg.Tensor(np.full(3, health.VANISHING_MEAN_ABS / 2))
    huge.grad = tg.Tensor(np.array([0.0, 0.0, health.EXPLODING_MAX_ABS * 2]))
    fine.grad = tg.Tensor(np.array([0.1, -0.2, 0.3]))
    report = tg.utils.gradient_report({"tiny": tiny, "huge": huge, "fine": fine, "silent": silent})
    assert [row.status for row in report] == ["vanishing", "exploding", "ok", "no grad"]
    assert [row.name for row in report.flagged] == ["tiny", "huge"]
    assert report[0].vanishing and report[1].exploding
    assert np.isnan(report[3].mean_abs)
    # the same verdict as the shared classifier used by the graph pictures
    assert all(row.status == health.classify(t.grad.data) for row, t in zip(report[:3], (tiny, huge, fine)))


def test_report_prints_as_a_table():
    w = tg.Tensor(np.zeros((2, 2)), requires_grad=True)
    w.grad = tg.Tensor(np.full((2, 2), 1e-9))
    text = str(tg.utils.gradient_report([("layer.weight", w)]))
    lines = text.splitlines()
    assert lines[0] == "Gradient flow (vanishing: mean |grad| < 1e-07; exploding: max |grad| > 1000)"
    assert lines[1].split() == ["parameter", "shape", "mean", "|grad|", "max", "|grad|", "std", "status"]
    assert lines[3].split() == ["layer.weight", "(2,", "2)", "1.000e-09", "1.000e-09", "0.000e+00", "VANISHING!"]
    assert repr(tg.utils.gradient_report([w])) == "GradientReport(1 parameters, 1 flagged)"
    assert tg.utils.gradient_report([w])[0].name == "param0"


def test_nan_and_inf_gradients_have_their_own_status_and_are_flagged():
    broken = {name: tg.Tensor(np.zeros(3), requires_grad=True) for name in ("nan", "inf", "both", "tiny_inf")}
    broken["nan"].grad = tg.Tensor(np.array([0.1, np.nan, 0.2]))  # the mean is NaN: no threshold fires
    broken["inf"].grad = tg.Tensor(np.array([0.1, -np.inf, 0.2]))
    broken["both"].grad = tg.Tensor(np.array([np.inf, np.nan, 0.0]))
    broken["tiny_inf"].grad = tg.Tensor(np.array([0.0, 0.0, np.inf]))
    report = tg.utils.gradient_report(broken)
    assert [row.status for row in report] == ["nan", "inf", "nan", "inf"]
    assert report.flagged == list(report)
    assert [line.split()[-1] for line in str(report).splitlines()[3:]] == ["NAN!", "INF!", "NAN!", "INF!"]
