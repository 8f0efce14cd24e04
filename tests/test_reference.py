"""The hand-written NumPy network (the oracle) against the graph and against finite differences,
and the tutorial's whole training run done both ways."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu import reference as ref
from tinygrad_edu.nn import functional as F
from tinygrad_edu.testing import check_against

HIDDEN = ["relu", "sigmoid", "tanh", "leaky_relu", "linear"]


def blobs(n=120, seed=0):
    """Three Gaussian clusters in 4-D, standardised: an Iris-sized problem with 3 classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centers = rng.standard_normal((3, 4)) * 2
    X = centers[labels] + rng.standard_normal((n, 4))
    return (X - X.mean(axis=0)) / X.std(axis=0), labels


def copy_weights(graph_model, reference_model):
    reference_model.weights = [layer.weight.data.copy() for layer in graph_model.layers]
    reference_model.biases = [layer.bias.data.copy() for layer in graph_model.layers]


def graph_loss(model, X, y_onehot, l2_lambda=0.0):
    """The loss whose gradient the reference's backward computes (see reference.MLP)."""
    if model.activation_names[-1] == "softmax":
        loss = F.cross_entropy(model.logits(X), y_onehot)
    else:
        diff = model(X) - y_onehot
        loss = (diff * diff).sum() * (0.5 / X.shape[0])
    if l2_lambda:
        loss = loss + F.l2_penalty([layer.weight for layer in model.layers], l2_lambda)
    return loss


@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), m=st.integers(1, 6), seed=st.integers(0, 10**6),
       data=st.data(), l2=st.sampled_from([0.0, 0.1]))
def test_network_gradients_three_way(sizes, m, seed, data, l2):
    """Whole-network dW and db: graph == reference (hand-written backward) ~= finite differences."""
    hidden = [data.draw(st.sampled_from(HIDDEN)) for _ in sizes[2:]]
    output = data.draw(st.sampled_from(["softmax", "sigmoid", "linear"]))
    activations = hidden + [output]
    tg.manual_seed(seed)
    model = nn.MLP(sizes, activations, dtype=np.float64)
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # zero biases behind a dead relu would put the next relu exactly on its kink
        layer.bias.data[:] = rng.standard_normal(layer.bias.shape)
    reference = ref.MLP(sizes, activations, l2_lambda=l2)
    copy_weights(model, reference)
    X = rng.standard_normal((m, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    probs = reference.forward(X)
    assume(all(np.abs(z).min() > 1e-4 for z in reference._zs))  # finite differences need smooth points
    np.testing.assert_allclose(model(X).data, probs, rtol=1e-12, atol=1e-14)
    dWs, dbs = reference.backward(y)
    params = [p for layer in model.layers for p in (layer.weight, layer.bias)]
    expected = [g for pair in zip(dWs, dbs) for g in pair]
    check_against(lambda *ps: _swap_and_run(model, ps, X, y, l2), [p.data.copy() for p in params], expected)


def _swap_and_run(model, tensors, X, y, l2):
    """graph_loss with the model's parameters replaced by ``tensors`` (so the check can vary them)."""
    saved = [(layer, layer.weight, layer.bias) for layer in model.layers]
    try:
        for layer, w, b in zip(model.layers, tensors[::2], tensors[1::2]):
            object.__setattr__(layer, "weight", w)
            object.__setattr__(layer, "bias", b)
        return graph_loss(model, X, y, l2)
    finally:
        for layer, w, b in saved:
            object.__setattr__(layer, "weight", w)
            object.__setattr__(layer, "bias", b)


def test_reference_gradients_match_its_own_finite_differences():
    """The oracle stands on its own: its backward is the derivative of its loss (no graph involved)."""
    rng = np.random.default_rng(3)
    net = ref.MLP([3, 5, 4, 3], ["tanh", "sigmoid", "softmax"], rng=rng, l2_lambda=0.05)
    X, y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    net.forward(X)
    dWs, _ = net.backward(y)
    for layer in range(3):
        W = net.weights[layer]
        numerical = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            values = []
            for step in (1e-6, -1e-6):
                W[idx] += step
                values.append(net.loss(net.forward(X), y))
                W[idx] -= step
            numerical[idx] = (values[0] - values[1]) / 2e-6
        np.testing.assert_allclose(dWs[layer], numerical, rtol=1e-5, atol=1e-8)


def test_reference_backward_skips_the_input_layers_dA():
    """The floor does no work nobody needs: the first layer passes no gradient down (no dZ @ W.T)."""
    transposed = []

    class Watched(np.ndarray):
        @property
        def T(self):
            transposed.append(self)
            return np.asarray(self).T

    net = ref.MLP([2, 3, 2], rng=np.random.default_rng(0))
    net.weights = [W.view(Watched) for W in net.weights]
    net.forward(np.ones((4, 2)))
    net.backward(np.eye(2)[[0, 1, 0, 1]])
    assert not any(t is net.weights[0] for t in transposed)
    assert sum(t is net.weights[1] for t in transposed) == 1  # the second layer's W.T, for the first's dA


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_tutorial_network_trains_identically_by_graph_and_by_hand(l2):
    """4-16-8-3 relu/relu/softmax, cross-entropy, mini-batch SGD (lr 0.1, batch 16) for a few
    epochs, from the same weights and batches: the same weights to 1e-10 in float64."""
    X, labels = blobs()
    Y = np.eye(3)[labels]
    tg.manual_seed(42)
    model = nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"], dtype=np.float64)
    reference = ref.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"], l2_lambda=l2)
    copy_weights(model, reference)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    order = np.random.default_rng(7)
    graph_losses, reference_losses = [], []
    for epoch in range(5):
        perm = order.permutation(len(X))
        for start in range(0, len(X), 16):
            xb, yb = X[perm[start:start + 16]], Y[perm[start:start + 16]]
            opt.zero_grad()
            loss = graph_loss(model, xb, yb, l2)
            loss.backward()
            opt.step()
            graph_losses.append(loss.item())
            reference_losses.append(reference.train_step(xb, yb, lr=0.1))
    np.testing.assert_allclose(graph_losses, reference_losses, rtol=1e-10)
    for layer, W, b in zip(model.layers, reference.weights, reference.biases):
        np.testing.assert_allclose(layer.weight.data, W, rtol=0, atol=1e-10)
        np.testing.assert_allclose(layer.bias.data, b, rtol=0, atol=1e-10)
    assert (model.predict(X) == labels).mean() > 0.9  # and it did learn
    assert (model.predict(X) == reference.predict(X)).all()


def test_reference_init_follows_the_tutorial_rule():
    net = ref.MLP([400, 300, 200], ["relu", "tanh"], rng=np.random.default_rng(0))
    assert abs(net.weights[0].std() / np.sqrt(2 / 400) - 1) < 0.01
    assert abs(net.weights[1].std() / np.sqrt(1 / 300) - 1) < 0.01
    assert all(b.shape == (n,) and not b.any() for b, n in zip(net.biases, [300, 200]))
    tg.manual_seed(0)
    assert ref.MLP([2, 2]).weights[0].dtype == np.float64
    assert ref.MLP([2, 2], dtype=np.float32).weights[0].dtype == np.float32


def test_reference_default_activations_and_validation():
    assert ref.MLP([4, 8, 8, 3], rng=np.random.default_rng(0)).activations == ["relu", "relu", "softmax"]
    with pytest.raises(ValueError, match="activation"):
        ref.MLP([2, 2], ["swish"], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="2 layers need 2 activations"):
        ref.MLP([2, 2, 2], ["relu"], rng=np.random.default_rng(0))


def test_reference_schedules_use_the_tutorials_defaults():
    assert ref.step_decay(0.1, 99) == 0.1 and ref.step_decay(0.1, 100) == 0.05
    assert ref.exponential_decay(1.0, 2) == pytest.approx(0.96**2)
    assert ref.cosine_annealing(1.0, 0, 10) == 1.0 and ref.cosine_annealing(1.0, 5, 10) == pytest.approx(0.5)


def test_reference_cross_entropy_clips_like_the_tutorial():
    probs = np.array([[1.0, 0.0]])
    assert ref.cross_entropy(probs, np.array([[0.0, 1.0]])) == pytest.approx(-np.log(1e-15))
