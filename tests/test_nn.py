"""Modules: parameter discovery, modes, state dicts, repr, initialisation, and the tutorial's MLP."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.engine.function import ModuleCall
from tinygrad_edu.nn import functional as F


class Block(nn.Module):
    """A module with a parameter, a buffer, a sub-module and a list of sub-modules."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.register_buffer("count", tg.zeros(1))
        self.inner = nn.Linear(3, 2)
        self.heads = [nn.Linear(2, 1), nn.Linear(2, 1)]

    def forward(self, x):
        h = self.inner(x * self.scale)
        return self.heads[0](h) + self.heads[1](h)


# ----------------------------------------------------------------------------- structure


def test_named_parameters_have_dotted_names_in_a_stable_order():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "inner.weight", "inner.bias", "heads.0.weight", "heads.0.bias",
                     "heads.1.weight", "heads.1.bias"]
    assert names == [name for name, _ in Block().named_parameters()]
    assert [p for _, p in block.named_parameters()] == block.parameters()


def test_sequential_names_start_with_the_index():
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(model) == 3 and isinstance(model[1], nn.ReLU) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model[:2]] == ["Linear", "ReLU"]
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(model(x).data, model[2](model[1](model[0](x))).data)


def test_shared_parameters_and_modules_appear_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(model.parameters()) == 2
    assert sum(1 for m in model.modules() if m is shared) == 1


def test_children_and_modules():
    block = Block()
    assert [type(c).__name__ for c in block.children()] == ["Linear", "Linear", "Linear"]
    assert [name for name, _ in block.named_modules()] == ["", "inner", "heads.0", "heads.1"]
    assert next(iter(block.modules())) is block


def test_train_and_eval_are_recursive():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_gradient():
    block = Block()
    block(tg.ones(4, 3)).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_parameters_are_leaves_that_require_grad():
    p = nn.Parameter(np.zeros(2))
    assert p.requires_grad and p.is_leaf and "Parameter containing" in repr(p)
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_module_without_super_init_is_reported():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_deleted_buffer_leaves_the_state_dict():
    layer = nn.BatchNorm1d(2)
    del layer.running_var
    assert "running_var" not in layer.state_dict()


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.BatchNorm1d(16))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=16, bias=True, init='he')\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.2)\n"
        "  (3): BatchNorm1d(16, eps=1e-05, momentum=0.1)\n"
        ")"
    )
    assert "(layers): ModuleList(\n    (0): Linear(in_features=4" in repr(nn.MLP([4, 16, 3]))


def test_module_calls_are_recorded_in_the_op_scope():
    """Graph pictures group ops by module: each call pushes a ModuleCall."""
    model = nn.MLP([3, 4, 2])
    out = model.logits(tg.ones(1, 3))
    scope = out._ctx.scope
    assert all(isinstance(c, ModuleCall) for c in scope)
    assert [c.module for c in scope] == [model, model.layers[1]]
    assert tg.engine.function.state.scope is None  # restored afterwards


# ----------------------------------------------------------------------------- state dicts


def test_state_dict_holds_copies_of_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["0.weight"][:] = 123.0
    assert not np.any(model[0].weight.data == 123.0)


def _trained_model(seed):
    tg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    x, y = np.random.default_rng(seed).standard_normal((16, 4)), np.arange(16) % 3
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def test_state_dict_round_trip_restores_outputs_exactly():
    trained, fresh = _trained_model(1), _trained_model(2)
    x = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    trained.eval(), fresh.eval()
    assert not np.array_equal(trained(x).data, fresh(x).data)
    result = fresh.load_state_dict(trained.state_dict())
    assert result == {"missing_keys": [], "unexpected_keys": []}
    np.testing.assert_array_equal(fresh(x).data, trained(x).data)
    for key, value in trained.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)


def test_load_state_dict_accepts_tensors_and_non_strict_subsets():
    model = nn.Linear(2, 3)
    report = model.load_state_dict({"weight": tg.ones(2, 3), "extra": np.zeros(1)}, strict=False)
    assert report == {"missing_keys": ["bias"], "unexpected_keys": ["extra"]}
    np.testing.assert_array_equal(model.weight.data, np.ones((2, 3)))


def test_load_state_dict_changes_nothing_when_anything_is_wrong():
    model = nn.MLP([2, 3, 2])
    before = model.state_dict()
    bad = dict(before, **{"layers.1.bias": np.zeros(5, dtype=np.float32)})
    bad["layers.0.weight"] = before["layers.0.weight"] + 1
    with pytest.raises(ValueError):
        model.load_state_dict(bad)
    for key, value in before.items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


def test_loading_bumps_versions_so_stale_graphs_refuse_backward():
    model = nn.Linear(2, 1)
    out = model(tg.ones(1, 2)).sum()
    model.load_state_dict(model.state_dict())
    with pytest.raises(RuntimeError, match="modified in place"):
        out.backward()


# ----------------------------------------------------------------------------- initialisation


@pytest.mark.parametrize("name,std", [("he", lambda n: np.sqrt(2 / n)), ("xavier", lambda n: np.sqrt(1 / n)),
                                      ("normal", lambda n: 0.01)])
def test_init_scales(name, std):
    tg.manual_seed(0)
    w = nn.init.initialize((400, 300), name, dtype=np.float64)
    assert w.shape == (400, 300) and w.dtype == np.float64
    assert abs(w.std() / std(400) - 1) < 0.01 and abs(w.mean()) < 0.01 * std(400)


def test_glorot_uniform_and_zeros():
    tg.manual_seed(0)
    w = nn.init.glorot_uniform((30, 20))
    limit = np.sqrt(6 / 50)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert not nn.init.zeros((2, 3)).any()


def test_init_draws_from_the_seeded_generator_in_any_dtype():
    tg.manual_seed(11)
    a = nn.Linear(5, 4, dtype=np.float64).weight.data
    tg.manual_seed(11)
    b = nn.Linear(5, 4, dtype=np.float32).weight.data
    assert b.dtype == np.float32
    np.testing.assert_allclose(b, a, rtol=1e-6)
    np.testing.assert_array_equal(nn.Linear(5, 4).bias.data, np.zeros(4))


def test_linear_accepts_a_custom_initialiser():
    layer = nn.Linear(2, 3, init=lambda shape, dtype: np.full(shape, 0.5, dtype=dtype))
    assert np.all(layer.weight.data == 0.5) and "init='<lambda>'" in repr(layer)


# ----------------------------------------------------------------------------- the tutorial's MLP


def test_mlp_mirrors_the_tutorial_constructor():
    model = nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    assert [(l.in_features, l.out_features) for l in model.layers] == [(4, 16), (16, 8), (8, 3)]
    assert [l.init for l in model.layers] == ["he", "he", "xavier"]  # He for relu, sqrt(1/n) for the rest
    assert [type(a).__name__ for a in model.activations] == ["ReLU", "ReLU", "Softmax"]
    assert [type(a).__name__ for a in nn.MLP([4, 16, 8, 3]).activations] == ["ReLU", "ReLU", "Softmax"]
    other = nn.MLP([2, 3, 3, 3, 1], ["tanh", "leaky_relu", None, "sigmoid"])
    assert [l.init for l in other.layers] == ["xavier"] * 4
    assert [type(a).__name__ for a in other.activations] == ["Tanh", "LeakyReLU", "Identity", "Sigmoid"]
    assert [name for name, _ in model.named_parameters()][-2:] == ["layers.2.weight", "layers.2.bias"]


@given(batch=st.integers(1, 5), hidden=st.integers(1, 6), seed=st.integers(0, 1000))
def test_mlp_forward_is_softmax_of_logits(batch, hidden, seed):
    tg.manual_seed(seed)
    model = nn.MLP([3, hidden, 4], dtype=np.float64)
    x = np.random.default_rng(seed).standard_normal((batch, 3))
    probs, logits = model(x).data, model.logits(x).data
    np.testing.assert_allclose(probs, tg.Tensor(logits).softmax().data, rtol=1e-14)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(x), np.argmax(logits, axis=1))


def test_mlp_without_softmax_returns_scores_and_logits_stops_before_the_last_activation():
    model = nn.MLP([2, 3, 1], ["tanh", "sigmoid"])
    x = tg.ones(4, 2)
    np.testing.assert_array_equal(model(x).data, model.logits(x).sigmoid().data)
    linear_out = nn.MLP([2, 3, 1], ["tanh", "linear"])
    np.testing.assert_array_equal(linear_out(x).data, linear_out.logits(x).data)


def test_mlp_predict_records_no_graph():
    model = nn.MLP([2, 3, 2])
    before = tg.is_grad_enabled()
    assert model.predict(np.ones((3, 2))).shape == (3,)
    assert tg.is_grad_enabled() == before


def test_mlp_learns_a_separable_problem():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = nn.MLP([2, 8, 2])
    opt = tg.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(60):
        opt.zero_grad()
        F.cross_entropy(model.logits(x), y).backward()
        opt.step()
    assert (model.predict(x) == y).mean() > 0.95


def test_perceptron_learns_and_outputs_one_probability_per_sample():
    tg.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((50, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float64)
    model = nn.Perceptron(3, dtype=np.float64)
    assert model(x).shape == (50,) and model.bias.shape == ()
    assert np.abs(model.weight.data).max() < 0.05  # small random start, as the tutorial's 0.01 * randn
    opt = tg.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(100):
        opt.zero_grad()
        F.binary_cross_entropy(model(x), y).backward()
        opt.step()
    assert ((model(x).data > 0.5) == y).mean() > 0.95
    assert repr(model) == "Perceptron(3)"


# ----------------------------------------------------------------------------- containers held in attributes


class Heads(nn.Module):
    """Layers kept in a dict, a nested list and a tuple, and a bare parameter in a dict."""

    def __init__(self):
        super().__init__()
        self.heads = {"a": nn.Linear(2, 1), "b": nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))}
        self.blocks = [[nn.Linear(2, 2)], (nn.BatchNorm1d(2),)]
        self.extra = {"gain": nn.Parameter(np.ones(1, np.float32))}
        self.loop = []
        self.loop.append(self.loop)  # a list that holds itself must not hang the walk

    def forward(self, x):
        h = self.blocks[1][0](self.blocks[0][0](x))
        return (self.heads["a"](h) + self.heads["b"](h).sum(axis=-1, keepdims=True)) * self.extra["gain"]


def test_modules_in_dicts_lists_and_tuples_are_found_by_key_path():
    model = Heads()
    names = [name for name, _ in model.named_parameters()]
    # a module's own parameters first, then each sub-module's (PyTorch's order)
    assert names == ["extra.gain", "heads.a.weight", "heads.a.bias", "heads.b.0.weight", "heads.b.0.bias",
                     "blocks.0.0.weight", "blocks.0.0.bias", "blocks.1.0.weight", "blocks.1.0.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "heads.a", "heads.b", "heads.b.0", "heads.b.1",
                                                           "blocks.0.0", "blocks.1.0"]
    assert len(model.parameters()) == 9
    assert list(model.state_dict()) == names + ["blocks.1.0.running_mean", "blocks.1.0.running_var"]
    assert not any(m.training for m in model.eval().modules())
    assert all(m.training for m in model.train().modules())


def test_modules_in_a_dict_are_trained_saved_and_loaded():
    model = Heads()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    model(tg.Tensor(np.arange(8, dtype=np.float32).reshape(4, 2) ** 2)).sum().backward()
    optimizer.step()
    assert not np.array_equal(model.heads["a"].weight.data, before["heads.a.weight"])
    copy = Heads()
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy.heads["a"].weight.data, model.heads["a"].weight.data)
    np.testing.assert_array_equal(copy.extra["gain"].data, model.extra["gain"].data)


def test_graph_pictures_name_the_parameters_of_modules_in_a_dict():
    model = Heads().eval()
    source = tg.draw_graph(model(tg.ones(4, 2))).source
    assert "heads.a.weight" in source and "heads.a: Linear" in source


@pytest.mark.parametrize("value", [tg.zeros(3, 2), np.zeros((3, 2), np.float32), 1.0])
def test_assigning_a_plain_value_over_a_parameter_says_how_to_update_it(value):
    layer = nn.Linear(3, 2)
    weight = layer.weight
    with pytest.raises(TypeError, match=r"Linear.weight is a registered Parameter.*no_grad"):
        layer.weight = value
    assert layer.weight is weight and layer.parameters()[0] is weight
    layer.weight = nn.Parameter(np.zeros((3, 2), np.float32))  # replacing it on purpose is allowed
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_the_update_idiom_keeps_the_parameter_registered():
    layer = nn.Linear(3, 2)
    layer(tg.ones(1, 3)).sum().backward()
    with pytest.raises(TypeError, match="registered Parameter"):
        layer.weight = layer.weight - 0.1 * layer.weight.grad  # the rebinding habit fails loudly
    with tg.no_grad():
        layer.weight.data = layer.weight.data - 0.1 * layer.weight.grad.data
    assert isinstance(layer.weight, nn.Parameter) and layer.parameters()[0] is layer.weight
