"""Three-way agreement in float64: the graph's gradients, the reference's hand-written gradients and
central finite differences, for every activation, layer and loss, over hypothesis-drawn sizes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu import reference as ref
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import check_against, check_op

batch = st.integers(1, 6)
width = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)


def away_from_zero(rng, shape, low=0.05):
    """Standard normal values with |v| >= low: activations with a kink at 0 are differentiable there."""
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < low, np.copysign(low, v) + v, v)


def onehot(labels, classes):
    return np.eye(classes)[labels]


# ----------------------------------------------------------------------------- activations

ACTIVATION_CASES = {
    # name: (graph function, reference function, reference derivative)
    "relu": (F.relu, ref.relu, ref.relu_derivative),
    "sigmoid": (F.sigmoid, ref.sigmoid, ref.sigmoid_derivative),
    "tanh": (F.tanh, ref.tanh, ref.tanh_derivative),
    "leaky_relu": (F.leaky_relu, ref.leaky_relu, ref.leaky_relu_derivative),
    "linear": (F.identity, ref.identity, ref.identity_derivative),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
@given(m=batch, n=width, seed=seeds)
def test_activation_three_way(name, m, n, seed):
    graph_fn, forward, derivative = ACTIVATION_CASES[name]
    rng = np.random.default_rng(seed)
    z, dA = away_from_zero(rng, (m, n)), rng.standard_normal((m, n))
    np.testing.assert_allclose(graph_fn(tg.Tensor(z)).data, forward(z), rtol=1e-14, atol=1e-15)
    check_against(lambda t: (graph_fn(t) * dA).sum(), [z], [dA * derivative(z)])


@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
def test_activation_modules_match_functions(name):
    module = nn.ACTIVATIONS[name]()
    z = away_from_zero(np.random.default_rng(1), (3, 4))
    np.testing.assert_array_equal(module(tg.Tensor(z)).data, ACTIVATION_CASES[name][0](tg.Tensor(z)).data)


@given(m=batch, n=width, seed=seeds)
def test_softmax_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    z, dA = rng.standard_normal((m, n)) * 3, rng.standard_normal((m, n))
    probs = ref.softmax(z)
    np.testing.assert_allclose(nn.Softmax()(tg.Tensor(z)).data, probs, rtol=1e-13)
    check_against(lambda t: (nn.Softmax()(t) * dA).sum(), [z], [ref.softmax_backward(dA, probs)])
    check_op(lambda t: F.log_softmax(t), z, np_fn=ref.log_softmax)


def test_leaky_relu_slope_is_configurable():
    z = np.array([[-2.0, 3.0]])
    check_against(lambda t: (nn.LeakyReLU(0.2)(t) * 1.0).sum(), [z], [ref.leaky_relu_derivative(z, 0.2)])


# ----------------------------------------------------------------------------- dense layer


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "linear"])
@given(m=batch, n_in=width, n_out=width, seed=seeds)
def test_dense_layer_three_way(activation, m, n_in, n_out, seed):
    """The tutorial's backward: dZ = dA f'(z), dW = X.T dZ / m, db = mean(dZ), dA_prev = dZ W.T."""
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    while np.any(np.abs(X @ W + b) < 1e-3):  # keep relu's kink out of the finite differences' way
        X = rng.standard_normal((m, n_in))
    dA = rng.standard_normal((m, n_out))
    a, z = ref.dense_forward(X, W, b, activation)
    dW, db, dA_prev = ref.dense_backward(dA, X, z, W, activation)
    act = nn.ACTIVATIONS[activation]()
    # The tutorial's dA is per sample; the graph differentiates the batch mean, hence the 1/m.
    check_against(lambda x, w, bias: (act(F.linear(x, w, bias)) * dA).sum() / m, [X, W, b], [dA_prev / m, dW, db])


@given(m=batch, n_in=width, n_out=st.integers(2, 5), seed=seeds, as_indices=st.booleans())
def test_softmax_layer_with_cross_entropy_three_way(m, n_in, n_out, seed, as_indices):
    """The output layer: cross_entropy(logits) gives the tutorial's dZ = y_pred - y_true."""
    rng = np.random.default_rng(seed)
    X, W, b = rng.standard_normal((m, n_in)), rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)
    labels = rng.integers(0, n_out, m)
    y = onehot(labels, n_out)
    probs, z = ref.dense_forward(X, W, b, "softmax")
    dW, db, dA_prev = ref.dense_backward(ref.softmax_cross_entropy_backward(probs, y), X, z, W, "softmax")
    target = labels if as_indices else y
    loss = F.cross_entropy(F.linear(tg.Tensor(X), tg.Tensor(W), tg.Tensor(b)), target)
    assert loss.item() == pytest.approx(ref.cross_entropy(probs, y), rel=1e-12)
    check_against(lambda x, w, bias: F.cross_entropy(F.linear(x, w, bias), target), [X, W, b], [dA_prev / m, dW, db])


def test_linear_module_matches_functional_and_layout():
    tg.manual_seed(3)
    layer = nn.Linear(4, 2, dtype=np.float64)
    assert layer.weight.shape == (4, 2) and layer.bias.shape == (2,)
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(layer(x).data, x @ layer.weight.data + layer.bias.data)
    assert nn.Linear(4, 2, bias=False)(x).shape == (5, 2)


@given(m=batch, n=width, seed=seeds)
def test_perceptron_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    X, target = rng.standard_normal((m, n)), rng.integers(0, 2, m).astype(np.float64)
    model = nn.Perceptron(n, dtype=np.float64)
    w, b = model.weight.data, model.bias.data
    probs = ref.sigmoid(X @ w + b)
    np.testing.assert_allclose(model(X).data, probs, rtol=1e-14)
    _, dlogits = ref.binary_cross_entropy_with_logits(X @ w + b, target)
    check_against(lambda w_, b_: F.binary_cross_entropy_with_logits(F.linear(X, w_, b_), target), [w, b],
                  [X.T @ dlogits, dlogits.sum()])


# ----------------------------------------------------------------------------- losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(m=batch, c=st.integers(1, 5), seed=seeds)
def test_cross_entropy_three_way(reduction, m, c, seed):
    rng = np.random.default_rng(seed)
    logits, labels = rng.standard_normal((m, c)) * 2, rng.integers(0, c, m)
    y = onehot(labels, c)
    weight = {"mean": 1.0 / m, "sum": 1.0, "none": 1.0}[reduction]
    dA = rng.standard_normal(m) if reduction == "none" else np.ones(m)
    probs = ref.softmax(logits)
    per_sample = -np.sum(y * ref.log_softmax(logits), axis=1)
    got = F.cross_entropy(tg.Tensor(logits), labels, reduction=reduction).data
    np.testing.assert_allclose(got, per_sample if reduction == "none" else per_sample.sum() * weight, rtol=1e-12)

    def loss(t):
        out = F.cross_entropy(t, labels, reduction=reduction)
        return (out * dA).sum() if reduction == "none" else out

    check_against(loss, [logits], [weight * dA[:, None] * ref.softmax_cross_entropy_backward(probs, y)])


@given(m=batch, c=st.integers(1, 4), seed=seeds)
def test_cross_entropy_soft_targets_gradients_for_both_inputs(m, c, seed):
    rng = np.random.default_rng(seed)
    logits, soft = rng.standard_normal((m, c)), rng.dirichlet(np.ones(c), m)
    probs = ref.softmax(logits)
    check_against(lambda x, t: F.cross_entropy(x, t), [logits, soft],
                  [(probs - soft) / m, -ref.log_softmax(logits) / m])
    check_op(lambda x, t: F.cross_entropy(x, t, reduction="none"), logits, rng.random((m, c)))  # second order too


def test_cross_entropy_second_order_with_class_indices():
    logits, labels = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 2, 1, 2])
    check_op(lambda x: F.cross_entropy(x, labels), logits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    """log(softmax(x)) would be log(0) = -inf here; the fused log-softmax stays exact."""
    logits = tg.Tensor(np.array([[1e4, -1e4, 0.0], [0.0, 1e4, -1e4]], dtype=dtype), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 1]))
    loss.backward()
    assert loss.dtype == dtype and logits.grad.dtype == dtype
    assert loss.item() == pytest.approx(1e4)  # sample 0 misses by 2e4 (half of it), sample 1 is right
    np.testing.assert_allclose(logits.grad.data, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)


def test_cross_entropy_keeps_float32():
    logits = tg.Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.eye(4)[:3])  # a float64 one-hot target does not upcast
    loss.backward()
    assert loss.dtype == np.float32 and logits.grad.dtype == np.float32


@given(m=batch, c=st.integers(1, 4), seed=seeds)
def test_nll_loss_three_way(m, c, seed):
    rng = np.random.default_rng(seed)
    log_probs, labels = ref.log_softmax(rng.standard_normal((m, c))), rng.integers(0, c, m)
    value, grad = ref.nll_loss(log_probs, onehot(labels, c))
    assert F.nll_loss(tg.Tensor(log_probs), labels).item() == pytest.approx(value, rel=1e-13)
    check_against(lambda t: F.nll_loss(t, labels), [log_probs], [grad])
    x = tg.Tensor(rng.standard_normal((m, c)))
    assert F.nll_loss(F.log_softmax(x), labels).item() == pytest.approx(F.cross_entropy(x, labels).item(), rel=1e-12)


@given(m=batch, n=width, seed=seeds)
def test_mse_loss_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    value, grad = ref.mse_loss(pred, target)
    assert nn.MSELoss()(tg.Tensor(pred), target).item() == pytest.approx(value, rel=1e-13)
    check_against(lambda t: F.mse_loss(t, target), [pred], [grad])


@given(m=batch, n=width, seed=seeds)
def test_binary_cross_entropy_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    probs, target = rng.uniform(0.05, 0.95, (m, n)), rng.random((m, n))
    value, grad = ref.binary_cross_entropy(probs, target)
    assert nn.BCELoss()(tg.Tensor(probs), target).item() == pytest.approx(value, rel=1e-13)
    check_against(lambda t: F.binary_cross_entropy(t, target), [probs], [grad])


@given(m=batch, n=width, seed=seeds)
def test_binary_cross_entropy_with_logits_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    logits, target = rng.standard_normal((m, n)) * 3, rng.random((m, n))
    value, grad = ref.binary_cross_entropy_with_logits(logits, target)
    assert nn.BCEWithLogitsLoss()(tg.Tensor(logits), target).item() == pytest.approx(value, rel=1e-12)
    check_against(lambda t: F.binary_cross_entropy_with_logits(t, target), [logits], [grad])


def test_binary_cross_entropy_with_logits_is_stable_and_exact_at_zero():
    x = tg.Tensor(np.array([-1000.0, 0.0, 1000.0]), requires_grad=True)
    t = np.array([1.0, 0.25, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(2000 + np.log(2))  # both saturated samples miss by 1000
    np.testing.assert_allclose(x.grad.data, [-1.0, 0.5 - 0.25, 1.0])  # sigmoid(x) - t, exact at x = 0


def test_binary_cross_entropy_saturates_at_100_with_finite_gradient():
    p = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0]), reduction="none")
    loss.sum().backward()
    np.testing.assert_allclose(loss.data, [100.0, 100.0])
    assert np.isfinite(p.grad.data).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_reductions(reduction):
    pred, target = np.arange(6.0).reshape(2, 3), np.zeros((2, 3))
    got = F.mse_loss(tg.Tensor(pred), target, reduction=reduction).data
    expected = {"mean": np.mean(pred**2), "sum": np.sum(pred**2), "none": pred**2}[reduction]
    np.testing.assert_allclose(got, expected)
    per_sample = nn.CrossEntropyLoss(reduction=reduction)(tg.Tensor(pred), [0, 2])
    assert per_sample.shape == ((2,) if reduction == "none" else ())


@given(n=st.integers(1, 3), seed=seeds, lam=st.floats(0, 1))
def test_l2_penalty_gradient_is_lambda_w(n, seed, lam):
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((n, 3)), rng.standard_normal((3, n))
    assert F.l2_penalty([tg.Tensor(W1), tg.Tensor(W2)], lam).item() == pytest.approx(ref.l2_term([W1, W2], lam))
    check_against(lambda a, b: F.l2_penalty([a, b], lam), [W1, W2], [lam * W1, lam * W2])


# ----------------------------------------------------------------------------- dropout


@given(m=batch, n=width, seed=seeds, p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]))
def test_dropout_three_way_with_a_fixed_seed(m, n, seed, p):
    rng = np.random.default_rng(seed)
    x, dA = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    mask = ref.dropout_mask((m, n), p, np.random.default_rng(seed))  # the same stream as tg.manual_seed(seed)

    def fn(t):
        tg.manual_seed(seed)
        return (nn.Dropout(p)(t) * dA).sum()

    tg.manual_seed(seed)
    np.testing.assert_array_equal(nn.Dropout(p)(tg.Tensor(x)).data, ref.dropout_forward(x, mask))
    check_against(fn, [x], [ref.dropout_backward(dA, mask)])


def test_dropout_is_inverted_and_identity_in_eval():
    tg.manual_seed(0)
    layer = nn.Dropout(0.3)
    out = layer(tg.ones(200, 100, dtype=np.float64)).data
    assert set(np.unique(out)) == {0.0, 1 / 0.7}
    assert abs((out == 0).mean() - 0.3) < 0.01 and abs(out.mean() - 1.0) < 0.02  # expectation kept
    layer.eval()
    x = tg.Tensor(np.arange(4.0))
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout_masks_repeat_with_the_seed_and_differ_without():
    x = tg.ones(4, 5)
    tg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    tg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)


# ----------------------------------------------------------------------------- batch normalisation


@given(m=st.integers(2, 6), n=width, seed=seeds)
def test_batch_norm_training_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    X, dout = rng.standard_normal((m, n)) * 2 + 1, rng.standard_normal((m, n))
    gamma, beta = rng.standard_normal(n), rng.standard_normal(n)
    out, cache = ref.batch_norm_forward(X, gamma, beta)
    dX, dgamma, dbeta = ref.batch_norm_backward(dout, cache)
    layer = nn.BatchNorm1d(n, dtype=np.float64)
    layer.weight.data[:], layer.bias.data[:] = gamma, beta
    np.testing.assert_allclose(layer(X).data, out, rtol=1e-12, atol=1e-12)
    check_against(lambda x, g, b: (F.batch_norm(x, weight=g, bias=b, training=True) * dout).sum(),
                  [X, gamma, beta], [dX, dgamma, dbeta], rtol=1e-9, atol=1e-10)


@given(m=batch, n=width, seed=seeds)
def test_batch_norm_eval_three_way(m, n, seed):
    rng = np.random.default_rng(seed)
    X, dout = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    gamma, beta = rng.standard_normal(n), rng.standard_normal(n)
    mean, var = rng.standard_normal(n), rng.uniform(0.5, 2.0, n)
    layer = nn.BatchNorm1d(n, dtype=np.float64).eval()
    layer.load_state_dict({"weight": gamma, "bias": beta, "running_mean": mean, "running_var": var})
    np.testing.assert_allclose(layer(X).data, ref.batch_norm_inference(X, gamma, beta, mean, var), rtol=1e-12)
    rm, rv = tg.Tensor(mean), tg.Tensor(var)
    check_against(lambda x, g, b: (F.batch_norm(x, rm, rv, g, b, training=False) * dout).sum(), [X, gamma, beta],
                  list(ref.batch_norm_inference_backward(dout, X, gamma, mean, var)))


@given(m=st.integers(2, 6), n=width, seed=seeds, momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_running_statistics_follow_pytorch(m, n, seed, momentum):
    """Unbiased batch variance in the running estimate, biased in the normalisation."""
    rng = np.random.default_rng(seed)
    layer = nn.BatchNorm1d(n, momentum=momentum, dtype=np.float64)
    mean, var = np.zeros(n), np.ones(n)
    for _ in range(3):
        X = rng.standard_normal((m, n)) * 3 + 2
        layer(X)
        mean, var = ref.batch_norm_running_update(mean, var, X, momentum)
    np.testing.assert_allclose(layer.running_mean.data, mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(layer.running_var.data, var, rtol=1e-13)


def test_batch_norm_three_dimensional_input_normalises_per_channel():
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    layer = nn.BatchNorm1d(3, dtype=np.float64)
    out = layer(x).data
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2)), 1, rtol=1e-4)
    weight, bias = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True), tg.Tensor(np.ones(3), requires_grad=True)
    check_op(lambda t, w, b: F.batch_norm(t, weight=w, bias=b, training=True), x, weight.data, bias.data,
             second_order=False)


def test_batch_norm_eval_uses_running_statistics_not_the_batch():
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    layer.running_mean.data[:] = [1.0, -1.0]
    layer.running_var.data[:] = [4.0, 0.25]
    layer.eval()
    out = layer(np.array([[1.0, -1.0], [3.0, 0.0]])).data
    np.testing.assert_allclose(out, [[0, 0], [2 / np.sqrt(4 + 1e-5), 1 / np.sqrt(0.25 + 1e-5)]])
    assert layer.running_mean.data.tolist() == [1.0, -1.0]  # evaluation never updates them


def test_batch_norm_keeps_float32():
    layer = nn.BatchNorm1d(3)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    layer(x).sum().backward()
    assert layer.running_var.dtype == np.float32 and x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_log_softmax_module_matches_the_reference():
    z = np.random.default_rng(2).standard_normal((3, 4))
    np.testing.assert_allclose(nn.LogSoftmax()(z).data, ref.log_softmax(z), rtol=1e-14)
    np.testing.assert_allclose(nn.LogSoftmax(axis=0)(z).data, ref.log_softmax(z.T).T, rtol=1e-14)


@pytest.mark.parametrize("module,function,target", [
    (nn.CrossEntropyLoss, F.cross_entropy, np.array([0, 2, 1])),
    (nn.NLLLoss, F.nll_loss, np.array([0, 2, 1])),
    (nn.MSELoss, F.mse_loss, np.full((3, 3), 0.5)),
    (nn.BCELoss, F.binary_cross_entropy, np.full((3, 3), 0.5)),
    (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits, np.full((3, 3), 0.5)),
])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_are_their_functions(module, function, target, reduction):
    x = tg.Tensor(np.random.default_rng(0).uniform(0.1, 0.9, (3, 3)))
    np.testing.assert_array_equal(module(reduction=reduction)(x, target).data,
                                  function(x, target, reduction=reduction).data)
    assert repr(module(reduction="sum")) == f"{module.__name__}(reduction='sum')"
