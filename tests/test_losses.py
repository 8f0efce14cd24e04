"""Losses with PyTorch's options: cross_entropy and nll_loss on (C,), (N, C) and (N, C, d1, ...) inputs with
class weights, ignore_index and label smoothing; huber_loss, smooth_l1_loss and kl_div. Each against a NumPy
loop written from PyTorch's definitions and against PyTorch itself, gradchecked and gradgradchecked over drawn
shapes; then the edges: -inf logits, probabilities given as logits, integer probability targets, bad options."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import check_op

# ----------------------------------------------------------------------------- loop references


def _rows(x):
    """(C,) or (N, C, d1, ...) -> one row of C class values per sample and position: (M, C)."""
    x = x[None] if x.ndim == 1 else x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _log_softmax_row(row):
    shifted = row - row.max()
    return shifted - np.log(np.exp(shifted).sum())


def classification_loops(scores, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                         from_logits=True):
    """PyTorch's cross_entropy (``from_logits``) or nll_loss, one sample and position at a time."""
    classes = scores.shape[0 if scores.ndim == 1 else 1]
    weight = np.ones(classes) if weight is None else weight
    soft = target.shape == scores.shape
    targets = _rows(target) if soft else np.reshape(target, -1)
    losses, counted = [], []
    for row, t in zip(_rows(scores), targets):
        log_probs = _log_softmax_row(row) if from_logits else row
        if soft:
            p = t * (1 - label_smoothing) + label_smoothing / classes
            losses.append(-sum(weight[c] * p[c] * log_probs[c] for c in range(classes) if p[c] != 0))  # 0 log 0 = 0
            counted.append(1.0)
        elif t == ignore_index:
            losses.append(0.0)
            counted.append(0.0)
        else:
            spread = sum(weight[c] * log_probs[c] for c in range(classes)) / classes
            losses.append(-(1 - label_smoothing) * weight[t] * log_probs[t] - label_smoothing * spread)
            counted.append(weight[t])
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(scores.shape[:1] + scores.shape[2:] if scores.ndim > 1 else ())
    return losses.sum() / (sum(counted) if reduction == "mean" else 1.0)


def huber_loops(x, t, reduction="mean", delta=1.0, divide_by_delta=False):
    """PyTorch's huber_loss, or smooth_l1_loss (``divide_by_delta``: the Huber loss over beta = delta)."""
    losses = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        d = abs(x[i] - t[i])
        loss = 0.5 * d * d if d < delta else delta * (d - 0.5 * delta)
        losses[i] = (loss / delta if delta else d) if divide_by_delta else loss
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def kl_div_loops(x, t, reduction="mean", log_target=False):
    losses = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        p, log_p = (np.exp(t[i]), t[i]) if log_target else (t[i], np.log(t[i]) if t[i] > 0 else 0.0)
        losses[i] = p * (log_p - x[i]) if p > 0 else 0.0
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses, "batchmean": losses.sum() / x.shape[0]}[
        reduction]


def test_loop_references_on_hand_computed_cases():
    logits = np.array([[0.0, np.log(3.0)]])  # probabilities 1/4, 3/4
    assert classification_loops(logits, np.array([1])) == pytest.approx(np.log(4 / 3))
    smoothed = classification_loops(logits, np.array([1]), label_smoothing=0.5)  # target (1/4, 3/4)
    assert smoothed == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    weighted = classification_loops(np.zeros((3, 2)), np.array([0, 1, -100]), weight=np.array([1.0, 3.0]))
    assert weighted == pytest.approx(np.log(2))  # (1 + 3) log 2 / (1 + 3): the ignored sample counts nowhere
    assert huber_loops(np.array([0.5, 3.0]), np.zeros(2), "none").tolist() == [0.125, 2.5]
    assert huber_loops(np.array([0.5, 3.0]), np.zeros(2), "none", 2.0, divide_by_delta=True).tolist() == [0.0625, 2.0]
    assert kl_div_loops(np.log([0.5, 0.5]), np.array([1.0, 0.0]), "sum") == pytest.approx(np.log(2))


# ----------------------------------------------------------------------------- drawn cases


@st.composite
def classification_cases(draw, smoothing=True):
    """(scores, target, options): (C,), (N, C) or (N, C, d1[, d2]) scores; class indices (some ignored) or
    probabilities; class weights or none; ignore_index -100 or a class; label smoothing; every reduction."""
    classes = draw(st.integers(1, 3))
    ndim = draw(st.integers(1, 4))
    shape = (classes,) if ndim == 1 else (draw(st.integers(1, 2)), classes) + tuple(
        draw(st.integers(1, 2)) for _ in range(ndim - 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = rng.uniform(-3, 3, shape)
    index_shape = shape[:1] + shape[2:] if ndim > 1 else ()
    options = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if draw(st.booleans()):
        options["weight"] = rng.uniform(0.2, 2.0, classes)
    if smoothing and draw(st.booleans()):
        options["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    if draw(st.booleans()):  # probabilities: soft labels
        target = np.moveaxis(rng.dirichlet(np.ones(classes), index_shape), -1, 0 if ndim == 1 else 1)
        return scores, target, options
    target = rng.integers(0, classes, index_shape)
    if draw(st.booleans()):
        options["ignore_index"] = ignore = draw(st.sampled_from([-100, classes - 1]))
        target = np.where(rng.random(index_shape) < 0.4, ignore, target)
        if options["reduction"] == "mean":  # some target must count, or the mean is refused
            assume((target != ignore).any())
    return scores, target, options


@given(classification_cases())
def test_cross_entropy_matches_loops_and_gradchecks(case):
    scores, target, options = case
    check_op(lambda x: F.cross_entropy(x, target, **options), scores,
             np_fn=lambda x: classification_loops(x, target, **options))


@given(classification_cases(smoothing=False))
def test_nll_loss_matches_loops_and_gradchecks(case):
    scores, target, options = case
    check_op(lambda x: F.nll_loss(x, target, **options), scores,
             np_fn=lambda x: classification_loops(x, target, from_logits=False, **options))


@given(classification_cases())
def test_soft_targets_get_gradients_too(case):
    scores, target, options = case
    assume(target.shape == scores.shape)
    check_op(lambda x, t: F.cross_entropy(x, t, **options), scores, target,
             np_fn=lambda x, t: classification_loops(x, t, **options))


@given(classification_cases())
def test_cross_entropy_and_nll_loss_match_torch(torch, case):
    scores, target, options = case
    torch_options = dict(options, weight=torch.tensor(options["weight"]) if "weight" in options else None)
    calls = [(F.cross_entropy, torch.nn.functional.cross_entropy, options, torch_options)]
    if target.shape != scores.shape and "label_smoothing" not in options:  # PyTorch's nll_loss: indices only
        calls.append((F.nll_loss, torch.nn.functional.nll_loss, options, torch_options))
    for ours, theirs, ours_options, theirs_options in calls:
        x, torch_x = tg.Tensor(scores, requires_grad=True), torch.tensor(scores, requires_grad=True)
        out, torch_out = ours(x, target, **ours_options), theirs(torch_x, torch.tensor(target), **theirs_options)
        g = np.random.default_rng(0).normal(size=out.shape)
        out.backward(g)
        torch_out.backward(torch.tensor(g))
        np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.data, torch_x.grad.numpy(), rtol=1e-10, atol=1e-12)


@st.composite
def regression_cases(draw, kink=1.0):
    """(input, target, reduction) with the differences kept 0.1 away from 0 and from ``kink``."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = rng.uniform(0.1, 2.5, shape)
    size = np.where(np.abs(size - kink) < 0.1, size + 0.3, size)
    target = rng.standard_normal(shape)
    return target + size * rng.choice([-1.0, 1.0], shape), target, draw(st.sampled_from(["mean", "sum", "none"]))


@given(regression_cases(kink=0.7))
def test_huber_and_smooth_l1_match_loops_and_gradcheck(case):
    x, t, reduction = case
    check_op(lambda a, b: F.huber_loss(a, b, reduction, delta=0.7), x, t,
             np_fn=lambda a, b: huber_loops(a, b, reduction, 0.7))
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta=0.7), x, t,
             np_fn=lambda a, b: huber_loops(a, b, reduction, 0.7, divide_by_delta=True))
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta=0.0), x, t,
             np_fn=lambda a, b: huber_loops(a, b, reduction, 0.0, divide_by_delta=True))


@st.composite
def kl_cases(draw):
    """(log q, p or log p, reduction, log_target): distributions along the last axis, some p exactly 0."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(2, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    log_q = np.log(rng.dirichlet(np.ones(shape[1]), shape[0]))
    p = rng.dirichlet(np.ones(shape[1]), shape[0])
    log_target = draw(st.booleans())
    if not log_target and draw(st.booleans()):
        p[:, 0] = 0.0
    return log_q, np.log(p) if log_target else p, draw(st.sampled_from(["mean", "batchmean", "sum", "none"])), \
        log_target


@given(kl_cases())
def test_kl_div_matches_loops_and_gradchecks(case):
    log_q, target, reduction, log_target = case
    check_op(lambda x: F.kl_div(x, target, reduction, log_target), log_q,
             np_fn=lambda x: kl_div_loops(x, target, reduction, log_target))
    if log_target or (target > 0).all():  # the target's gradient too, where p log p is smooth
        check_op(lambda x, t: F.kl_div(x, t, reduction, log_target), log_q, target)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # PyTorch's note on kl_div's default
@given(regression_cases(kink=1.0), kl_cases())
def test_regression_losses_and_kl_div_match_torch(torch, regression, kl):
    tf = torch.nn.functional
    x, t, reduction = regression
    log_q, target, kl_reduction, log_target = kl
    target_has_zeros = not log_target and (target == 0).any()
    for ours, theirs, inputs, compare_target_grad in [
        (lambda a, b: F.huber_loss(a, b, reduction, 0.5),
         lambda a, b: tf.huber_loss(a, b, reduction=reduction, delta=0.5), (x, t), True),
        (lambda a, b: F.smooth_l1_loss(a, b, reduction, 2.0),
         lambda a, b: tf.smooth_l1_loss(a, b, reduction=reduction, beta=2.0), (x, t), True),
        (lambda a, b: F.kl_div(a, b, kl_reduction, log_target),
         lambda a, b: tf.kl_div(a, b, reduction=kl_reduction, log_target=log_target), (log_q, target),
         not target_has_zeros),  # PyTorch's target gradient is nan where p = 0
    ]:
        ours_in = [tg.Tensor(a, requires_grad=True) for a in inputs]
        theirs_in = [torch.tensor(a, requires_grad=True) for a in inputs]
        out, torch_out = ours(*ours_in), theirs(*theirs_in)
        g = np.random.default_rng(1).normal(size=out.shape)
        out.backward(g)
        torch_out.backward(torch.tensor(g))
        np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours_in[0].grad.data, theirs_in[0].grad.numpy(), rtol=1e-10, atol=1e-12)
        if compare_target_grad:
            np.testing.assert_allclose(ours_in[1].grad.data, theirs_in[1].grad.numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- -inf logits (masking)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minus_inf_logits_give_pytorch_finite_loss_and_gradient(dtype):
    """A masked class (-inf) that is not the target: the loss and gradient stay finite, as in PyTorch."""
    logits = tg.Tensor(np.array([[0.0, -np.inf, 1.0], [2.0, 0.0, -np.inf]], dtype=dtype), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 1]))
    loss.backward()
    assert loss.dtype == dtype
    # values from PyTorch 2: F.cross_entropy(torch.tensor(logits), torch.tensor([0, 1])) and its gradient
    assert loss.item() == pytest.approx(1.7200948, rel=1e-6)
    np.testing.assert_allclose(logits.grad.data, [[-0.3655293, 0.0, 0.3655293], [0.4403985, -0.4403985, 0.0]],
                               rtol=1e-5)
    for target in (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0, -100])):  # one-hot rows; ignored
        assert np.isfinite(F.cross_entropy(logits, target).item())
    assert F.nll_loss(logits.log_softmax(axis=1), np.array([2, -100]), reduction="none").data.tolist() == \
        pytest.approx([0.3132617, 0.0], rel=1e-5)


def test_minus_inf_logits_have_finite_second_derivatives():
    """A masked class drops out: the derivatives of the other classes are those of the logits without it."""
    masked, kept = np.array([[0.5, -np.inf, 1.0, -0.3]]), np.array([[0.5, 1.0, -0.3]])
    firsts, seconds = [], []
    for logits, label in ((masked, 2), (kept, 1)):
        x = tg.Tensor(logits, requires_grad=True)
        (g,) = tg.grad(F.cross_entropy(x, np.array([label])), x, create_graph=True)
        (hessian_row,) = tg.grad(g[0, 0], x)
        firsts.append(g.data)
        seconds.append(hessian_row.data)
    assert np.isfinite(firsts[0]).all() and np.isfinite(seconds[0]).all()
    assert firsts[0][0, 1] == 0.0 and seconds[0][0, 1] == 0.0
    np.testing.assert_allclose(np.delete(firsts[0], 1, axis=1), firsts[1], rtol=1e-12)
    np.testing.assert_allclose(np.delete(seconds[0], 1, axis=1), seconds[1], rtol=1e-12)


def test_minus_inf_where_a_soft_target_has_no_mass_is_zero_not_nan():
    """PyTorch gives nan here (0 * -inf); the class adds nothing to the loss, as 0 log 0 = 0."""
    logits = np.array([[0.0, -np.inf, 1.0]])
    loss = F.cross_entropy(tg.Tensor(logits), np.array([[0.25, 0.0, 0.75]]))
    assert loss.item() == pytest.approx(classification_loops(logits, np.array([[0.25, 0.0, 0.75]])))
    assert F.kl_div(tg.Tensor([[-np.inf, 0.0]]), np.array([[0.0, 1.0]]), reduction="sum").item() == 0.0


def test_a_target_class_at_minus_inf_is_an_infinite_loss():
    assert F.cross_entropy(tg.Tensor([[0.0, -np.inf]]), np.array([1])).item() == np.inf
    assert F.cross_entropy(tg.Tensor([[0.0, -np.inf]]), np.array([0]), label_smoothing=0.1).item() == np.inf


# ----------------------------------------------------------------------------- habits from elsewhere


def test_probabilities_given_as_logits_warn_and_name_mlp_logits():
    tg.manual_seed(0)
    model = nn.MLP([3, 5, 3], ["relu", "softmax"])
    x, y = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 2, 1])
    with pytest.warns(UserWarning, match=r"cross_entropy: every row of the input is non-negative and sums to 1 .* "
                                         r"looks like probabilities .* MLP\.logits\(x\)"):
        F.cross_entropy(model(x), y)
    with pytest.warns(UserWarning, match=r"nll_loss: every row .* expects log-probabilities .* MLP\.logits"):
        F.nll_loss(model(x), y)
    with pytest.warns(UserWarning, match="cross_entropy: every row"):  # the class axis of (N, C, d1) inputs
        F.cross_entropy(np.full((2, 4, 3), 0.25), np.zeros((2, 3), dtype=int))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.cross_entropy(model.logits(x), y)  # the scores: no warning
        F.cross_entropy(np.full((2, 3), 0.5), np.array([0, 1]))  # non-negative, but rows sum to 1.5
        F.cross_entropy(np.ones((2, 1)), np.array([0, 0]))  # one class: every row sums to 1
        F.nll_loss(model(x).log(), y)


def test_the_probabilities_warning_comes_once_per_calling_line():
    probabilities = np.full((2, 3), 1 / 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own default: once per place in the code
        for _ in range(3):
            F.cross_entropy(probabilities, np.array([0, 1]))
        nn.CrossEntropyLoss()(probabilities, np.array([0, 1]))  # another line, through a module
    assert len(caught) == 2
    assert all(w.filename == __file__ for w in caught)  # it points at the caller's line, not at the library


def test_integer_targets_of_the_inputs_shape_are_refused():
    """(N, C) targets are probabilities, which must be floats (PyTorch refuses them too)."""
    logits = tg.Tensor(np.zeros((3, 2)))
    for target in (np.array([[1, 0], [0, 1], [1, 0]]), np.ones((3, 2), dtype=bool)):
        with pytest.raises(TypeError, match=r"cross_entropy: a target of the input's shape \(3, 2\) holds class "
                                            r"probabilities, which must be floats, got (int64|bool); give class indices "
                                            r"of shape \(3,\), or one-hot rows as floats"):
            F.cross_entropy(logits, target)
    with pytest.raises(TypeError, match=r"nll_loss: .* must be floats"):
        F.nll_loss(logits, np.zeros((3, 2), dtype=np.int32))
    assert F.cross_entropy(logits, np.array([[1, 0], [0, 1], [1, 0]]).astype(float)).item() == pytest.approx(np.log(2))


def test_option_errors_name_the_option():
    logits = tg.Tensor(np.zeros((4, 3)))
    labels = np.array([0, 1, 2, 1])
    with pytest.raises(tg.ShapeError, match=r"cross_entropy: weight must hold one number per class, shape \(3,\), "
                                            r"got shape \(2,\)"):
        F.cross_entropy(logits, labels, weight=np.ones(2))
    with pytest.raises(TypeError, match=r"cross_entropy: weight must hold one number per class, got 'sum'; pass the "
                                        r"reduction by name: reduction='sum'"):
        F.cross_entropy(logits, labels, "sum")
    with pytest.raises(TypeError, match=r"nll_loss: class weights are constants .* pass weight.detach\(\)"):
        F.nll_loss(logits, labels, weight=tg.ones(3, requires_grad=True))
    with pytest.raises(ValueError, match=r"class weights must be finite and non-negative, got \[1.0, -1.0, 1.0\]"):
        F.cross_entropy(logits, labels, weight=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be a number in \[0, 1\], got 1.5"):
        F.cross_entropy(logits, labels, label_smoothing=1.5)
    with pytest.raises(TypeError, match=r"ignore_index must be an int"):
        F.cross_entropy(logits, labels, ignore_index=None)
    with pytest.raises(ValueError, match=r"target class indices \[3\] are out of range for 3 classes"):
        F.cross_entropy(logits, np.array([0, 3, -100, 1]))  # -100, the default ignore_index, is fine
    with pytest.raises(ValueError, match=r"cross_entropy: no target counts towards the mean \(there are none, or each is "
                                         r"ignore_index \(1\) or has class weight 0\), so the mean is undefined; use "
                                         r"reduction='sum'"):
        F.cross_entropy(logits, np.ones(4, dtype=int), ignore_index=1)
    assert F.cross_entropy(logits, np.ones(4, dtype=int), ignore_index=1, reduction="sum").item() == 0.0
    with pytest.raises(ValueError, match="huber_loss: delta must be a finite number > 0, got 0"):
        F.huber_loss(logits, np.zeros((4, 3)), delta=0)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be a finite number >= 0, got -1"):
        F.smooth_l1_loss(logits, np.zeros((4, 3)), beta=-1)
    with pytest.raises(ValueError, match=r"kl_div: target probabilities must be >= 0, got -0.5; for log-probabilities "
                                         r"pass log_target=True"):
        F.kl_div(logits, np.full((4, 3), -0.5))
    with pytest.raises(ValueError, match=r"kl_div: unknown reduction 'avg'; use one of \['batchmean', 'mean', "):
        F.kl_div(logits, np.zeros((4, 3)), reduction="avg")
    with pytest.raises(ValueError, match=r"huber_loss: input of shape \(4, 3\) and target of shape \(3,\) must match"):
        F.huber_loss(logits, np.zeros(3))


def test_loss_modules_keep_their_options():
    weight = np.array([1.0, 2.0, 0.5])
    logits, labels = tg.Tensor(np.random.default_rng(0).normal(size=(4, 3))), np.array([0, 2, 1, 2])
    criterion = nn.CrossEntropyLoss(weight=weight, ignore_index=2, label_smoothing=0.1, reduction="sum")
    assert criterion(logits, labels).item() == F.cross_entropy(logits, labels, weight, 2, "sum", 0.1).item()
    assert repr(criterion) == ("CrossEntropyLoss(weight=array([1. , 2. , 0.5]), ignore_index=2, label_smoothing=0.1, "
                               "reduction='sum')")
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.NLLLoss(ignore_index=0)) == "NLLLoss(ignore_index=0)"
    assert repr(nn.HuberLoss(delta=2.0)) == "HuberLoss(delta=2.0)"
    assert repr(nn.SmoothL1Loss(reduction="none", beta=0.5)) == "SmoothL1Loss(beta=0.5, reduction='none')"
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    assert repr(kl) == "KLDivLoss(log_target=True, reduction='batchmean')"
    log_q = F.log_softmax(logits)
    assert kl(log_q, log_q).item() == 0.0
    with pytest.raises(ValueError, match="CrossEntropyLoss: unknown reduction 'batchmean'"):
        nn.CrossEntropyLoss(reduction="batchmean")
    x, t = tg.Tensor([[0.5, -3.0]]), np.zeros((1, 2))
    assert nn.HuberLoss(delta=2.0)(x, t).item() == F.huber_loss(x, t, delta=2.0).item()
    assert nn.SmoothL1Loss(beta=0.5)(x, t).item() == F.smooth_l1_loss(x, t, beta=0.5).item()
