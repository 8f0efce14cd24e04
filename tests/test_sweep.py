"""The gradient-check sweep behind ``tinygrad-edu gradcheck``: ops, modules, and the report."""
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.tools import opspec, sweep
from tinygrad_edu.tools.gradcheck import check_gradients
from tinygrad_edu.tools.opspec import MODULE_CHECKS, REGISTRY, ModuleCheck, OpSpec, module_as_function, sample_inputs

from _doubles import WrongExp  # a Function whose gradient is deliberately wrong


class Affine(Module):
    """x @ w + b with float64 parameters."""

    def __init__(self, rng):
        super().__init__()
        self.w = Parameter(rng.standard_normal((3, 2)), dtype=np.float64)
        self.b = Parameter(rng.standard_normal(2), dtype=np.float64)

    def forward(self, x):
        return (x @ self.w + self.b).tanh()


class Stack(Module):
    def __init__(self, rng):
        super().__init__()
        self.layers = [Affine(rng)]
        self.scales = [Parameter(np.array([1.5, -0.5]), dtype=np.float64)]

    def forward(self, x):
        return self.layers[0](x) * self.scales[0]


def test_every_registered_op_passes():
    rows = sweep.sweep()
    checks = list(REGISTRY) + list(MODULE_CHECKS)
    assert [r.name for r in rows] == [c.name for c in checks]
    failed = [(r.name, r.message) for r in rows if not r.passed]
    assert not failed
    for row, check in zip(rows, checks):
        assert row.max_abs_error < 1e-5
        assert row.orders == ("1st+2nd" if check.second_order else "1st")


@pytest.mark.parametrize("spec", [s for s in REGISTRY if s.distinct and s.arity > 1], ids=lambda s: s.name)
def test_sample_inputs_are_distinct_across_inputs(spec):
    """A tie between two inputs of maximum/minimum has no derivative (this once failed the sweep)."""
    for seed in range(20):
        arrays, _ = sample_inputs(spec, np.random.default_rng(seed))
        values = np.concatenate([a.ravel() for a in arrays])
        assert len(np.unique(values)) == len(values)


def test_a_wrong_gradient_fails_and_is_explained(monkeypatch):
    broken = OpSpec("wrong_exp", lambda x: WrongExp.apply(x), np.exp, second_order=False)
    monkeypatch.setattr(opspec, "REGISTRY", (REGISTRY[0], broken))
    monkeypatch.setattr(opspec, "MODULE_CHECKS", [])
    rows = sweep.sweep()
    assert [(r.name, r.passed) for r in rows] == [("exp", True), ("wrong_exp", False)]
    assert rows[1].max_abs_error > 0.1 and "analytic" in rows[1].message
    table = sweep.format_table(rows)
    assert "FAIL" in table and "1 of 2 checks FAILED:" in table and "wrong_exp: gradcheck: input 0" in table


def test_a_crashing_check_is_a_failure_not_a_crash(monkeypatch):
    def explode(x):
        raise RuntimeError("boom")

    monkeypatch.setattr(opspec, "REGISTRY", (OpSpec("explodes", explode, np.exp), REGISTRY[0]))
    monkeypatch.setattr(opspec, "MODULE_CHECKS", [])
    rows = sweep.sweep()
    assert not rows[0].passed and rows[0].message == "RuntimeError: boom" and np.isnan(rows[0].max_abs_error)
    assert rows[1].passed  # the sweep went on


def test_only_selects_names():
    rows = sweep.sweep(only={"exp", "matmul"})
    assert [r.name for r in rows] == ["exp", "matmul"]
    assert "exp" in sweep.known_names() and "matmul" in sweep.known_names()


def test_module_as_function_checks_inputs_and_parameters():
    rng = np.random.default_rng(0)
    module = Stack(rng)
    before = {name: p for name, p in module.named_parameters()}
    fn, arrays = module_as_function(module, rng.standard_normal((4, 3)))
    assert [a.shape for a in arrays] == [(4, 3)] + [p.shape for p in before.values()]
    assert sorted(before) == ["layers.0.b", "layers.0.w", "scales.0"]
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    result = check_gradients(fn, inputs)
    assert result.passed, result.message
    # the module gets its own parameters back after every call
    assert list(dict(module.named_parameters())) == list(before)
    assert all(before[name] is p for name, p in module.named_parameters())


def test_module_as_function_moves_the_parameters():
    rng = np.random.default_rng(1)
    module = Affine(rng)
    fn, arrays = module_as_function(module, rng.standard_normal((2, 3)))
    zero_w = [tg.Tensor(arrays[0]), tg.Tensor(np.zeros((3, 2))), tg.Tensor(np.zeros(2))]
    np.testing.assert_array_equal(fn(*zero_w).data, np.zeros((2, 2)))


def test_module_rows_run_after_the_ops(monkeypatch):
    good = ModuleCheck("Affine", lambda rng: module_as_function(Affine(rng), rng.standard_normal((4, 3))))
    bad_build = ModuleCheck("Broken", lambda rng: module_as_function(object()))
    monkeypatch.setattr(opspec, "REGISTRY", REGISTRY[:1])
    monkeypatch.setattr(opspec, "MODULE_CHECKS", [good, bad_build])
    rows = sweep.sweep()
    assert [(r.name, r.kind, r.passed) for r in rows] == [("exp", "op", True), ("Affine", "module", True),
                                                           ("Broken", "module", False)]
    assert "could not build the check: TypeError: module_as_function: expected an nn.Module" in rows[2].message


def test_module_as_function_rejects_non_modules():
    with pytest.raises(TypeError, match="expected an nn.Module"):
        module_as_function(lambda x: x, np.zeros(2))


# Containers and the loss modules (thin wrappers of the loss functions, which have rows) need no row of their own.
NOT_CHECKED = {"Module", "ModuleList", "Sequential", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
               "BCEWithLogitsLoss", "HuberLoss", "SmoothL1Loss", "KLDivLoss"}


def test_every_nn_module_and_loss_function_has_a_check():
    checked = {check.name.split(":")[0] for check in MODULE_CHECKS}
    modules = {name for name in tg.nn.__all__ if isinstance(getattr(tg.nn, name), type)
               and issubclass(getattr(tg.nn, name), Module)}
    assert modules - NOT_CHECKED - checked == set()
    losses = {"cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
              "l2_penalty", "huber_loss", "smooth_l1_loss", "kl_div"}
    assert losses <= checked
    assert {check.name for check in MODULE_CHECKS} >= {"BatchNorm1d:train", "BatchNorm1d:eval",
                                                       "cross_entropy:indices", "cross_entropy:probabilities"}
    assert {check.kind for check in MODULE_CHECKS if check.name.split(":")[0] in losses} == {"loss"}


@pytest.mark.parametrize("check", MODULE_CHECKS, ids=lambda c: c.name)
def test_module_checks_run_in_float64_and_move_the_parameters(check):
    fn, arrays = check.build(np.random.default_rng(0))
    assert all(np.asarray(a).dtype == np.float64 for a in arrays)
    assert tg.get_default_dtype() == np.float32  # building in float64 did not leak
    output = fn(*[tg.Tensor(a, requires_grad=True) for a in arrays])
    assert output.dtype == np.float64 and np.isfinite(output.data).all()


def test_the_dropout_check_drops_and_scales():
    fn, arrays = {c.name: c for c in MODULE_CHECKS}["Dropout"].build(np.random.default_rng(0))
    x = tg.Tensor(arrays[0])
    out = fn(x).data
    dropped = out == 0
    assert 0 < dropped.sum() < out.size
    np.testing.assert_allclose(out[~dropped], arrays[0][~dropped] / 0.6)
    np.testing.assert_array_equal(fn(x).data, out)  # one mask for every evaluation
