"""Optimizers and schedules against their closed forms (tinygrad_edu.reference), step by step, in float64."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu import reference as ref
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler

SHAPES = [(3, 2), (2,), ()]
lrs = st.floats(1e-4, 0.5)
rates = st.floats(0.0, 0.99)
decays = st.sampled_from([0.0, 0.01, 0.3])
seeds = st.integers(0, 2**32 - 1)


def run(optimizer_cls, kwargs, seed, steps=4):
    """Apply ``steps`` updates with drawn gradients; return (start values, gradients, end values)."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    params = [tg.Tensor(v.copy(), requires_grad=True) for v in start]
    opt = optimizer_cls(params, **kwargs)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = tg.Tensor(g)
        opt.step()
        history.append([p.data.copy() for p in params])
    return start, grads, history


def assert_close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@given(lr=lrs, momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(), wd=decays, seed=seeds)
def test_sgd_follows_its_closed_form(lr, momentum, nesterov, wd, seed):
    nesterov = nesterov and momentum > 0
    start, grads, history = run(optim.SGD, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd), seed)
    for i, p in enumerate(start):
        buf = None
        for step, step_grads in enumerate(grads):
            p, buf = ref.sgd_update(p, step_grads[i], lr, momentum, buf, nesterov, wd)
            assert_close(history[step][i], p)


def test_plain_sgd_is_the_tutorials_update():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.grad = tg.Tensor(np.array([0.5, -1.0]))
    optim.SGD([w], lr=0.1).step()
    np.testing.assert_array_equal(w.data, [1.0 - 0.1 * 0.5, 2.0 + 0.1])


@given(lr=lrs, b1=rates, b2=st.floats(0.5, 0.999), eps=st.sampled_from([1e-8, 1e-3]), wd=decays, seed=seeds)
def test_adam_follows_its_closed_form(lr, b1, b2, eps, wd, seed):
    start, grads, history = run(optim.Adam, dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), seed)
    for i, p in enumerate(start):
        m = v = np.zeros_like(p)
        for step, step_grads in enumerate(grads):
            p, m, v = ref.adam_update(p, step_grads[i], m, v, step + 1, lr, b1, b2, eps, wd)
            assert_close(history[step][i], p)


@given(lr=lrs, b1=rates, wd=decays, seed=seeds)
def test_adamw_follows_its_closed_form(lr, b1, wd, seed):
    start, grads, history = run(optim.AdamW, dict(lr=lr, betas=(b1, 0.999), weight_decay=wd), seed)
    for i, p in enumerate(start):
        m = v = np.zeros_like(p)
        for step, step_grads in enumerate(grads):
            p, m, v = ref.adamw_update(p, step_grads[i], m, v, step + 1, lr, b1, 0.999, 1e-8, wd)
            assert_close(history[step][i], p)


@given(lr=lrs, alpha=st.floats(0.5, 0.99), momentum=st.sampled_from([0.0, 0.9]), centered=st.booleans(),
       wd=decays, seed=seeds)
def test_rmsprop_follows_its_closed_form(lr, alpha, momentum, centered, wd, seed):
    kwargs = dict(lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=wd)
    start, grads, history = run(optim.RMSprop, kwargs, seed)
    for i, p in enumerate(start):
        sq, buf, avg = np.zeros_like(p), None, None
        for step, step_grads in enumerate(grads):
            p, sq, buf, avg = ref.rmsprop_update(p, step_grads[i], sq, lr, alpha, 1e-8, wd, momentum, buf, centered,
                                                 avg)
            assert_close(history[step][i], p)


def test_adam_step_counter_counts_optimizer_steps_not_parameter_updates():
    """The tutorial's AdamOptimizer bumps one shared t per parameter update; with two parameters its
    bias correction is computed for t = 1, 2, then 3, 4, ... and the updates come out different."""
    start, grads, history = run(optim.Adam, dict(lr=0.1), seed=0, steps=3)
    ours, tutorial = [], []
    for i, p0 in enumerate(start[:2]):
        p, m, v = p0, np.zeros_like(p0), np.zeros_like(p0)
        q, mq, vq = p0, np.zeros_like(p0), np.zeros_like(p0)
        for step in range(3):
            p, m, v = ref.adam_update(p, grads[step][i], m, v, t=step + 1, lr=0.1)
            q, mq, vq = ref.adam_update(q, grads[step][i], mq, vq, t=2 * step + i + 1, lr=0.1)  # shared t
        ours.append(p)
        tutorial.append(q)
    for i in range(2):
        assert_close(history[-1][i], ours[i])
        assert np.abs(history[-1][i] - tutorial[i]).max() > 1e-3
    opt = optim.Adam([tg.Tensor(np.zeros(2), requires_grad=True), tg.Tensor(np.zeros(3), requires_grad=True)])
    for p in opt.param_groups[0]["params"]:
        p.grad = tg.ones_like(p)
    opt.step(), opt.step()
    assert [s["step"] for s in opt.state.values()] == [2, 2]


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_updates_keep_float32(cls):
    p = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = cls([p], lr=0.1, weight_decay=0.1) if cls is not optim.SGD else cls([p], lr=0.1, momentum=0.9)
    for _ in range(2):
        p.grad = tg.Tensor(np.full(3, 0.5, dtype=np.float32))
        opt.step()
    assert p.dtype == np.float32 and all(v.dtype == np.float32 for s in opt.state.values()
                                         for v in s.values() if isinstance(v, np.ndarray))


def test_parameters_without_gradient_are_skipped_and_zero_grad_clears():
    a, b = tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tg.Tensor(np.ones(2))
    opt.step()
    assert not np.array_equal(a.data, np.ones(2)) and np.array_equal(b.data, np.ones(2))
    assert b not in opt.state
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_backward_never_changes_weights_only_step_does():
    model = nn.MLP([3, 4, 2])
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = [p.data.copy() for p in model.parameters()]
    F.cross_entropy(model.logits(np.ones((2, 3), dtype=np.float32)), [0, 1]).backward()
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))
    opt.step()
    assert all(not np.array_equal(p.data, b) for p, b in zip(model.parameters(), before))


def test_step_bumps_versions_so_a_stale_graph_refuses_backward():
    w = tg.Tensor(np.ones(2), requires_grad=True)
    loss = (w * w).sum()
    w.grad = tg.Tensor(np.ones(2))
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_step_with_closure_returns_the_loss():
    w = tg.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == pytest.approx(3.0 - 0.25 * 6.0)


def test_parameter_groups_have_their_own_hyperparameters():
    a, b = tg.Tensor(np.ones(1), requires_grad=True), tg.Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = tg.ones(1), tg.ones(1)
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.0)
    opt.lr = 0.5
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.5] and opt.lr == 0.5


@pytest.mark.parametrize("cls,kwargs", [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, {}),
                                        (optim.RMSprop, dict(momentum=0.5, centered=True))])
def test_optimizer_state_dict_round_trip_continues_identically(cls, kwargs):
    def make():
        tg.manual_seed(0)
        model = nn.Linear(3, 2, dtype=np.float64)
        return model, cls(model.parameters(), **kwargs)

    x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

    model_a, opt_a = make()
    train(model_a, opt_a, 3)
    saved_model, saved_opt = model_a.state_dict(), opt_a.state_dict()
    train(model_a, opt_a, 2)

    model_b, opt_b = make()
    model_b.load_state_dict(saved_model)
    opt_b.load_state_dict(saved_opt)
    train(model_b, opt_b, 2)
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert saved_opt["param_groups"][0]["params"] == [0, 1]


def test_optimizer_state_dict_is_a_copy():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = tg.ones(2, dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"][:] = 99
    assert not np.any(opt.state[p]["exp_avg"] == 99)


# ----------------------------------------------------------------------------- learning-rate schedules


def _optimizer(lr):
    return optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=lr)


def _schedule(scheduler, epochs):
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.get_last_lr()[0])
        assert scheduler.optimizer.param_groups[0]["lr"] == lrs[-1]
        scheduler.step()
    return lrs


@given(lr=st.floats(1e-3, 1.0), step_size=st.integers(1, 50), gamma=st.floats(0.1, 0.99))
def test_step_lr_is_the_tutorials_step_decay(lr, step_size, gamma):
    got = _schedule(lr_scheduler.StepLR(_optimizer(lr), step_size, gamma), 120)
    assert got == [ref.step_decay(lr, e, gamma, step_size) for e in range(120)]


def test_step_lr_with_the_tutorials_defaults():
    got = _schedule(lr_scheduler.StepLR(_optimizer(0.1), step_size=100, gamma=0.5), 301)
    assert got[0] == got[99] == 0.1 and got[100] == 0.05 and got[300] == 0.0125


@given(lr=st.floats(1e-3, 1.0), gamma=st.floats(0.5, 0.999))
def test_exponential_lr_is_the_tutorials_exponential_decay(lr, gamma):
    got = _schedule(lr_scheduler.ExponentialLR(_optimizer(lr), gamma), 100)
    np.testing.assert_allclose(got, [ref.exponential_decay(lr, e, gamma) for e in range(100)], rtol=1e-15)


@given(lr=st.floats(1e-3, 1.0), total=st.integers(1, 200))
def test_cosine_annealing_is_the_tutorials_cosine_schedule(lr, total):
    got = _schedule(lr_scheduler.CosineAnnealingLR(_optimizer(lr), T_max=total), total + 1)
    np.testing.assert_allclose(got, [ref.cosine_annealing(lr, e, total) for e in range(total + 1)], rtol=1e-15,
                               atol=1e-18)
    assert got[0] == lr and abs(got[-1]) < 1e-15


def test_cosine_annealing_with_a_floor():
    got = _schedule(lr_scheduler.CosineAnnealingLR(_optimizer(1.0), T_max=10, eta_min=0.1), 11)
    assert got[0] == 1.0 and got[10] == pytest.approx(0.1)
    assert got[5] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)


def test_scheduler_state_dict_round_trip():
    sched = lr_scheduler.StepLR(_optimizer(0.1), step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    other = lr_scheduler.StepLR(_optimizer(0.1), step_size=2, gamma=0.5)
    other.load_state_dict(sched.state_dict())
    sched.step(), other.step()
    assert other.get_last_lr() == sched.get_last_lr() == [0.025]


# ----------------------------------------------------------------------------- refusing what does not fit


def _trained(cls, **kwargs):
    tg.manual_seed(0)
    model = nn.Linear(3, 2, dtype=np.float64)
    opt = cls(model.parameters(), **kwargs)
    F.cross_entropy(model(np.ones((2, 3))), np.array([0, 1])).backward()
    opt.step()
    return model, opt


def _snapshot(opt):
    return repr(opt.param_groups), {id(p): {k: np.copy(v) for k, v in s.items()} for p, s in opt.state.items()}


def _same(a, b):
    return a[0] == b[0] and a[1].keys() == b[1].keys() and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a[1].values(), b[1].values()))


@pytest.mark.parametrize("source, target", [
    ((optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, {})),
    ((optim.Adam, {}), (optim.RMSprop, {})),
    ((optim.RMSprop, dict(momentum=0.5)), (optim.SGD, dict(lr=0.1, momentum=0.9))),
])
def test_another_optimizers_state_is_refused_at_load_time_changing_nothing(source, target):
    _, other = _trained(source[0], **source[1])
    _, opt = _trained(target[0], **target[1])
    before = _snapshot(opt)
    with pytest.raises(ValueError, match="another optimizer's state"):
        opt.load_state_dict(other.state_dict())
    assert _same(_snapshot(opt), before)


def _with(state_dict, edit):
    edit(state_dict)
    return state_dict


MALFORMED = {
    "not-a-dict": lambda sd: ["state", "param_groups"],
    "missing-groups": lambda sd: {"state": sd["state"]},
    "groups-not-a-list": lambda sd: {"state": sd["state"], "param_groups": 3},
    "buffer-wrong-shape": lambda sd: _with(sd, lambda d: d["state"][0].update(exp_avg=np.zeros(2))),
    "buffer-not-an-array": lambda sd: _with(sd, lambda d: d["state"][0].update(exp_avg="zeros")),
    "buffer-missing": lambda sd: _with(sd, lambda d: d["state"][1].pop("exp_avg_sq")),
    "step-negative": lambda sd: _with(sd, lambda d: d["state"][0].update(step=-1)),
    "step-a-float": lambda sd: _with(sd, lambda d: d["state"][0].update(step=1.5)),
    "index-out-of-range": lambda sd: _with(sd, lambda d: d["state"].update({7: d["state"][0]})),
    "index-a-name": lambda sd: _with(sd, lambda d: d["state"].update({"weight": d["state"][0]})),
    "bad-lr-in-group": lambda sd: _with(sd, lambda d: d["param_groups"][0].update(lr=float("nan"))),
    "group-without-params": lambda sd: _with(sd, lambda d: d["param_groups"][0].pop("params")),
    "group-too-small": lambda sd: _with(sd, lambda d: d["param_groups"][0].update(params=[0])),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_state_is_refused_at_load_time_changing_nothing(case):
    _, saved = _trained(optim.Adam, lr=0.5)
    _, opt = _trained(optim.Adam, lr=0.01)
    before = _snapshot(opt)
    with pytest.raises(ValueError, match=r"Adam\.load_state_dict: "):
        opt.load_state_dict(MALFORMED[case](saved.state_dict()))
    assert _same(_snapshot(opt), before)


def test_a_valid_state_still_loads_after_a_scheduler_added_initial_lr():
    _, saved = _trained(optim.SGD, lr=0.1, momentum=0.9)
    _, opt = _trained(optim.SGD, lr=0.5, momentum=0.9)
    lr_scheduler.StepLR(opt, step_size=2)  # adds "initial_lr" to the group
    opt.load_state_dict(saved.state_dict())
    assert opt.lr == 0.1 and all(set(s) == {"momentum_buffer"} for s in opt.state.values())


@pytest.mark.parametrize("cls, kwargs", [(optim.SGD, dict(lr=0.1)), (optim.Adam, {}), (optim.RMSprop, {})])
def test_step_refuses_a_gradient_whose_shape_is_not_its_parameters(cls, kwargs):
    w, b = tg.Tensor(np.ones((3, 2)), requires_grad=True), tg.Tensor(np.ones(2), requires_grad=True)
    opt = cls([w, b], **kwargs)
    w.grad, b.grad = tg.Tensor(np.ones((3, 2))), tg.Tensor(np.ones((1, 2)))  # (1, 2) would broadcast into (2,)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2,\) but its \.grad has shape \(1, 2\)"):
        opt.step()
    assert np.array_equal(w.data, np.ones((3, 2))) and opt.state == {}  # nothing changed, not even w


@pytest.mark.parametrize("make, message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.0), "gamma must be a finite number > 0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.5), "gamma must be a finite number > 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=float("nan")), "gamma must be a finite number > 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=float("inf")), "gamma must be a finite number > 0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), "step_size must be a positive integer"),
    (lambda o: lr_scheduler.StepLR(o, step_size=True), "step_size must be a positive integer"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=float("inf")), "eta_min must be a finite"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=float("nan")), "eta_min must be a finite"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9, last_epoch=-2), "last_epoch must be a whole number"),
])
def test_schedulers_validate_their_values(make, message):
    with pytest.raises(ValueError, match=message):
        make(_optimizer(0.1))


def test_schedulers_accept_numpy_numbers():
    step = lr_scheduler.StepLR(_optimizer(0.1), step_size=np.int64(2), gamma=np.float32(0.5))
    cosine = lr_scheduler.CosineAnnealingLR(_optimizer(1.0), T_max=np.int32(10), eta_min=np.float64(0.1))
    assert type(step.step_size) is int and type(cosine.T_max) is int
    assert _schedule(step, 5) == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert _schedule(cosine, 11)[10] == pytest.approx(0.1)


def test_a_schedulers_state_is_refused_by_another_kind_of_schedule():
    step = lr_scheduler.StepLR(_optimizer(0.1), step_size=2)
    cosine = lr_scheduler.CosineAnnealingLR(_optimizer(0.1), T_max=5)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR.load_state_dict: expected the entries"):
        cosine.load_state_dict(step.state_dict())
    assert cosine.T_max == 5 and not hasattr(cosine, "step_size")
