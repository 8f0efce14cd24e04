"""LayerNorm: forward against NumPy, gradcheck and gradgradcheck in float64 over drawn shapes, module."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn.normalization import layer_norm
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
