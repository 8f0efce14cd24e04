"""LayerNorm, GroupNorm and batch norm on (N, C, ...): forward against NumPy loops (and PyTorch), gradcheck and
gradgradcheck in float64 over drawn shapes, modules."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import functional as F
from tinygrad_edu.nn.normalization import group_norm, layer_norm
from tinygrad_edu.testing import arrays, check_op


def layer_norm_numpy(x, trailing, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(x.ndim - trailing, x.ndim))
    out = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return out * (1 if weight is None else weight) + (0 if bias is None else bias)


@st.composite
def layer_norm_cases(draw):
    """(x, trailing): x of 1..3 dims, normalised over its last ``trailing`` axes (at least 2 values)."""
    shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
    trailing = draw(st.integers(1, len(shape)))
    if int(np.prod(shape[len(shape) - trailing:])) < 2:  # one value: variance 0, output 0 everywhere
        shape = shape[:-1] + (shape[-1] + 1,)
    return draw(arrays(shape)), trailing


@given(layer_norm_cases(), st.booleans())
def test_layer_norm_gradients(case, affine):
    x, trailing = case
    normalized = x.shape[x.ndim - trailing:]
    rng = np.random.default_rng(0)
    if affine:
        w, b = rng.uniform(0.5, 1.5, normalized), rng.uniform(-1, 1, normalized)
        check_op(lambda x_, w_, b_: layer_norm(x_, normalized, w_, b_), x, w, b,
                 np_fn=lambda x_, w_, b_: layer_norm_numpy(x_, trailing, w_, b_))
    else:
        check_op(lambda x_: layer_norm(x_, normalized), x, np_fn=lambda x_: layer_norm_numpy(x_, trailing))


def test_layer_norm_module():
    norm = nn.LayerNorm(4)
    assert repr(norm) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"
    assert [n for n, _ in norm.named_parameters()] == ["weight", "bias"]
    x = np.random.default_rng(0).normal(3.0, 5.0, size=(6, 4)).astype(np.float32)
    out = norm(tg.Tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.data.std(axis=-1), 1, atol=1e-3)
    plain = nn.LayerNorm((3, 4), elementwise_affine=False)
    assert plain.parameters() == []
    np.testing.assert_allclose(plain(tg.Tensor(x.reshape(2, 3, 4))).data, layer_norm_numpy(x.reshape(2, 3, 4), 2),
                               rtol=1e-4, atol=1e-5)


def test_layer_norm_errors():
    with pytest.raises(tg.ShapeError, match=r"LayerNorm\(\(4,\).*\(2, 3\) does not end with \(4,\)"):
        nn.LayerNorm(4)(tg.Tensor(np.ones((2, 3))))
    with pytest.raises(tg.ShapeError, match="does not end with"):
        layer_norm(tg.Tensor(np.ones(3)), (2, 3))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(())


# ----------------------------------------------------------------------------- batch norm on (N, C, ...), group norm


def batch_norm_loops(x, weight, bias, eps=1e-5):
    """Training-mode batch norm one channel at a time: its statistics over every value it holds."""
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        values = x[:, c]
        out[:, c] = (values - values.mean()) / np.sqrt(values.var() + eps) * weight[c] + bias[c]
    return out


def group_norm_loops(x, groups, weight, bias, eps=1e-5):
    """Group norm one (sample, group) at a time."""
    out = np.empty_like(x)
    per = x.shape[1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            values = x[n, g * per:(g + 1) * per]
            normalised = (values - values.mean()) / np.sqrt(values.var() + eps)
            for c in range(per):
                out[n, g * per + c] = normalised[c] * weight[g * per + c] + bias[g * per + c]
    return out


@st.composite
def channel_cases(draw, min_values=2):
    """(x, groups, weight, bias): x of shape (N, C, *spatial) with 0..2 spatial axes and C a multiple of groups;
    at least ``min_values`` values per statistic, so no variance is 0."""
    groups = draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(1, 3))
    per_group = draw(st.integers(1, 2))
    if n * int(np.prod(spatial)) < min_values:  # batch norm: N*H*W values per channel
        n = min_values
    if per_group * int(np.prod(spatial)) < min_values:  # group norm: C/G*H*W values per group
        per_group = min_values
    shape = (n, groups * per_group) + spatial
    x = draw(arrays(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return x, groups, rng.uniform(0.5, 1.5, shape[1]), rng.uniform(-1, 1, shape[1])


@given(channel_cases())
def test_batch_norm_on_any_number_of_axes(case):
    x, _, w, b = case
    check_op(lambda x_, w_, b_: F.batch_norm(x_, weight=w_, bias=b_, training=True), x, w, b,
             np_fn=lambda x_, w_, b_: batch_norm_loops(x_, w_, b_))


@given(channel_cases())
def test_group_norm_gradients(case):
    x, groups, w, b = case
    check_op(lambda x_, w_, b_: group_norm(x_, groups, w_, b_), x, w, b,
             np_fn=lambda x_, w_, b_: group_norm_loops(x_, groups, w_, b_))


@given(channel_cases())
def test_batch_norm_and_group_norm_match_torch(torch, case):
    x, groups, w, b = case
    tf = torch.nn.functional
    for ours, theirs in [
        (lambda x_, w_, b_: F.batch_norm(x_, weight=w_, bias=b_, training=True),
         lambda x_, w_, b_: tf.batch_norm(x_, None, None, w_, b_, training=True)),
        (lambda x_, w_, b_: group_norm(x_, groups, w_, b_), lambda x_, w_, b_: tf.group_norm(x_, groups, w_, b_)),
    ]:
        inputs = [tg.Tensor(a, requires_grad=True) for a in (x, w, b)]
        torch_inputs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        g = np.random.default_rng(0).normal(size=x.shape)
        out, torch_out = ours(*inputs), theirs(*torch_inputs)
        out.backward(g)
        torch_out.backward(torch.tensor(g))
        np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-10, atol=1e-10)
        for t, torch_t in zip(inputs, torch_inputs):
            np.testing.assert_allclose(t.grad.data, torch_t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_batch_norm_2d_module_follows_torch(torch):
    """Running statistics over N*H*W values (unbiased), evaluation with them, state_dict names."""
    rng = np.random.default_rng(0)
    ours, theirs = nn.BatchNorm2d(3, momentum=0.3, dtype=np.float64), torch.nn.BatchNorm2d(3, momentum=0.3).double()
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    for _ in range(3):
        x = rng.normal(2.0, 3.0, size=(4, 3, 2, 5))
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-12)
    ours.eval(), theirs.eval()
    x = rng.normal(size=(2, 3, 4, 4))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert set(ours.state_dict()) >= {"weight", "bias", "running_mean", "running_var"}


def test_batch_norm_2d_and_group_norm_modules():
    bn = nn.BatchNorm2d(4)
    assert repr(bn) == "BatchNorm2d(4, eps=1e-05, momentum=0.1)"
    x = tg.Tensor(np.random.default_rng(0).normal(3.0, 2.0, size=(2, 4, 3, 3)).astype(np.float32))
    out = bn(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    with pytest.raises(tg.ShapeError, match=r"BatchNorm2d\(4.*expected input of shape \(N, C, H, W\), got shape \(2, 4\)"):
        bn(tg.ones(2, 4))
    with pytest.raises(tg.ShapeError, match=r"BatchNorm2d\(4.*expected input with 4 features \(channels\)"):
        bn(tg.ones(2, 3, 2, 2))
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    assert [name for name, _ in gn.named_parameters()] == ["weight", "bias"] and gn.weight.shape == (4,)
    out = gn(x).data.reshape(2, 2, -1)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=-1), 1, atol=1e-3)
    plain = nn.GroupNorm(1, 4, affine=False)
    assert plain.parameters() == []
    x64 = tg.Tensor(np.random.default_rng(1).normal(size=(2, 4, 3)), requires_grad=True)
    plain(x64).sum().backward()  # without parameters the input keeps its dtype, and its graph
    assert x64.grad is not None and x64.grad.dtype == np.float64
    with pytest.raises(ValueError, match="GroupNorm: num_groups must be a positive int dividing the 4 channels, got 3"):
        nn.GroupNorm(3, 4)
    with pytest.raises(tg.ShapeError, match=r"GroupNorm\(2, 4.*expected input of shape \(N, 4, ...\), got shape \(2, 3\)"):
        gn(tg.ones(2, 3))
    with pytest.raises(tg.ShapeError, match=r"batch_norm: expected input of shape \(N, C, ...\)"):
        F.batch_norm(tg.ones(3), training=True)
