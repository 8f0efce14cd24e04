"""PyTorch weight exchange: each model's PyTorch twin loads tinygrad_edu's weights with strict=True and
computes the same outputs to 1e-5, and the other way round; mismatches name the key and the shapes."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import demo, nn
from tinygrad_edu.interop import load_torch_state_dict, torch_state_dict

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install \"tinygrad_edu[torch]\")")


def twin_mlp(torch, sizes, activations):
    """The PyTorch twin of ``nn.MLP(sizes, activations)``: the same attribute names, so the same keys."""
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
            "softmax": lambda: torch.nn.Softmax(dim=-1), "leaky_relu": lambda: torch.nn.LeakyReLU(0.01)}

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.activations = torch.nn.ModuleList(acts[name]() for name in activations)

        def forward(self, x):
            for layer, activation in zip(self.layers, self.activations):
                x = activation(layer(x))
            return x

    return MLP()


def models(torch):
    """(name, tinygrad_edu model, its PyTorch twin, an input) for every layer the exchange covers."""
    T = torch.nn
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    mlp = nn.MLP([4, 16, 8, 3], ["relu", "tanh", "softmax"])
    cnn = demo.digits_cnn()
    cnn_twin = T.Sequential(T.Conv2d(1, 8, 3, padding=1), T.ReLU(), T.MaxPool2d(2), T.Conv2d(8, 16, 3, padding=1),
                            T.ReLU(), T.Flatten(), T.Linear(256, 10))
    norms = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 3))
    for _ in range(4):  # running statistics that are not the initial zeros and ones
        norms(tg.randn(16, 4) * 2 + 1)
    norms_twin = T.Sequential(T.Linear(4, 8), T.BatchNorm1d(8), T.ReLU(), T.LayerNorm(8), T.Linear(8, 3))
    words = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    words_twin = T.Sequential(T.Embedding(10, 4), T.Flatten(), T.Linear(12, 2))
    return [
        ("mlp", mlp, twin_mlp(torch, [4, 16, 8, 3], ["relu", "tanh", "softmax"]),
         rng.standard_normal((5, 4)).astype(np.float32)),
        ("cnn", cnn, cnn_twin, rng.random((3, 1, 8, 8), dtype=np.float32)),
        ("batchnorm-layernorm", norms, norms_twin, rng.standard_normal((6, 4)).astype(np.float32)),
        ("embedding", words, words_twin, rng.integers(0, 10, (4, 3))),
    ]


def outputs(model, twin, x, torch):
    model.eval()
    twin.eval()
    with tg.no_grad(), torch.no_grad():
        return model(tg.Tensor(x)).data, twin(torch.from_numpy(x)).numpy()


def test_tinygrad_weights_load_strictly_into_the_pytorch_twin(torch):
    for name, model, twin, x in models(torch):
        state = torch_state_dict(model)
        assert set(state) == set(twin.state_dict()), name
        result = twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        ours, theirs = outputs(model, twin, x, torch)
        np.testing.assert_allclose(theirs, ours, **TOLERANCE, err_msg=name)


def test_pytorch_weights_load_into_tinygrad(torch):
    torch.manual_seed(0)
    for name, model, twin, x in models(torch):
        twin.train()
        for _ in range(3):  # PyTorch's own running statistics, for the batch-norm model
            twin(torch.from_numpy(np.concatenate([x, x[::-1]])))
        assert load_torch_state_dict(model, twin.state_dict()) == {"missing_keys": [], "unexpected_keys": []}
        ours, theirs = outputs(model, twin, x, torch)
        np.testing.assert_allclose(ours, theirs, **TOLERANCE, err_msg=name)
        for key, value in twin.state_dict().items():  # and the round trip gives back PyTorch's own values
            if not key.endswith("num_batches_tracked"):
                np.testing.assert_array_equal(torch_state_dict(model)[key], value.numpy(), err_msg=key)


def test_the_perceptron_is_a_linear_layer_with_one_output(torch):
    model = nn.Perceptron(3)
    twin = torch.nn.Linear(3, 1)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state_dict(model).items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(model(x).data, torch.sigmoid(twin(torch.from_numpy(x))).numpy()[:, 0], **TOLERANCE)


def test_layouts_and_buffers_without_torch():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = torch_state_dict(model)
    assert isinstance(state, OrderedDict)
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                           "1.num_batches_tracked"]
    np.testing.assert_array_equal(state["0.weight"], model[0].weight.data.T)
    assert state["0.weight"].flags.c_contiguous and state["1.num_batches_tracked"].dtype == np.int64
    state["0.weight"][:] = 7  # copies: changing them leaves the model alone
    assert not (model[0].weight.data == 7).any()
    state["0.weight"] = np.arange(6, dtype=np.float32).reshape(3, 2)
    del state["1.num_batches_tracked"]  # PyTorch's counter may be missing
    load_torch_state_dict(model, state)
    np.testing.assert_array_equal(model[0].weight.data, [[0, 2, 4], [1, 3, 5]])


def test_mismatches_name_the_key_and_the_shapes_and_change_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    before = model.state_dict()
    state = torch_state_dict(model)
    state["0.weight"] = np.zeros((2, 3), np.float32)  # tinygrad_edu's layout, not PyTorch's
    state["2.bias"] = np.zeros(1, np.float64)
    del state["2.weight"]
    state["3.weight"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError) as error:
        load_torch_state_dict(model, state)
    message = str(error.value)
    assert "missing keys ['2.weight']" in message and "unexpected keys ['3.weight']" in message
    assert "0.weight: shape (2, 3) in the state dict, this model needs (3, 2) (tinygrad_edu keeps it as (2, 3))" in message
    assert "2.bias: dtype float64 in the state dict, float32 in this model" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    state = torch_state_dict(model)
    del state["2.weight"]
    assert load_torch_state_dict(model, state, strict=False)["missing_keys"] == ["2.weight"]
    with pytest.raises(TypeError, match="expected a tinygrad_edu Module"):
        torch_state_dict(object())
