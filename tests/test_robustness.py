"""Numerical robustness: saturating ops stay finite up to |x| = 1e4; poles follow NumPy, anomaly mode flags them."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.testing import arrays


def sigmoid64(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # an identity that cannot overflow


def softmax64(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsumexp64(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


# (name, op, float64 reference value, float64 reference vector-Jacobian product)
STABLE_OPS = [
    ("sigmoid", lambda t: t.sigmoid(), sigmoid64, lambda x, g: g * sigmoid64(x) * sigmoid64(-x)),
    ("tanh", lambda t: t.tanh(), np.tanh, lambda x, g: g * (1 - np.tanh(x) ** 2)),
    ("softmax", lambda t: t.softmax(axis=-1), softmax64,
     lambda x, g: softmax64(x) * (g - (g * softmax64(x)).sum(axis=-1, keepdims=True))),
    ("log_softmax", lambda t: t.log_softmax(axis=-1), lambda x: x - logsumexp64(x)[..., None],
     lambda x, g: g - softmax64(x) * g.sum(axis=-1, keepdims=True)),
    ("logsumexp", lambda t: t.logsumexp(axis=-1), logsumexp64, lambda x, g: softmax64(x) * g[..., None]),
]


def check_stable(op, reference, vjp, x, dtype):
    """Finite forward and gradient in ``dtype``, both matching float64 references."""
    t = tg.Tensor(x.astype(dtype), requires_grad=True)
    x64 = t.data.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        out = op(t)
        g = np.linspace(-1.0, 1.0, out.size).reshape(out.shape).astype(dtype)
        out.backward(g)
    assert out.dtype == dtype and t.grad.dtype == dtype
    assert np.isfinite(out.data).all() and np.isfinite(t.grad.data).all()
    tolerance = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(out.data, reference(x64), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(t.grad.data, vjp(x64, g.astype(np.float64)), rtol=tolerance * 10, atol=tolerance)


EXTREMES = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, 1e4, 1e4],
                     [88.0, -88.0, 710.0, -745.0]])  # the last row: where exp overflows in float32 and float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, op, reference, vjp", STABLE_OPS, ids=[row[0] for row in STABLE_OPS])
def test_extreme_inputs(name, op, reference, vjp, dtype):
    check_stable(op, reference, vjp, EXTREMES, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, op, reference, vjp", STABLE_OPS, ids=[row[0] for row in STABLE_OPS])
@given(x=arrays(st.tuples(st.integers(1, 3), st.integers(1, 5)), low=-1e4, high=1e4))
def test_random_inputs_up_to_1e4(name, op, reference, vjp, dtype, x):
    check_stable(op, reference, vjp, x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, op", [(row[0], row[1]) for row in STABLE_OPS], ids=[row[0] for row in STABLE_OPS])
def test_second_derivatives_stay_finite(name, op, dtype):
    t = tg.Tensor(EXTREMES.astype(dtype), requires_grad=True)
    (g,) = tg.grad((op(t) * 0.5).sum(), t, create_graph=True)
    (gg,) = tg.grad((g * g).sum(), t)
    assert np.isfinite(g.data).all() and np.isfinite(gg.data).all()


# ---------------------------------------------------------------------------- poles follow NumPy


@pytest.fixture
def quiet():
    with np.errstate(divide="ignore", invalid="ignore"):
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_sqrt_and_division_at_zero_follow_numpy(quiet, dtype):
    zero = np.array([0.0, -1.0], dtype=dtype)
    for op, np_op in [(lambda t: t.log(), np.log), (lambda t: t.sqrt(), np.sqrt),
                      (lambda t: 1.0 / t, lambda a: 1.0 / a), (lambda t: t / t, lambda a: a / a)]:
        out = op(tg.Tensor(zero))
        np.testing.assert_array_equal(out.data, np_op(zero))  # inf and nan exactly where NumPy has them
        assert out.dtype == dtype


def test_gradients_at_the_poles_follow_numpy(quiet):
    x = tg.Tensor([0.0], dtype=np.float64, requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isposinf(x.grad.data).all()  # 0.5 / sqrt(0)
    x.grad = None
    x.log().sum().backward()
    assert np.isposinf(x.grad.data).all()  # 1 / 0
    x.grad = None
    (1.0 / x).sum().backward()
    assert np.isneginf(x.grad.data).all()  # -1 / 0**2


@pytest.mark.parametrize("make, phase", [
    (lambda x: x.log(), "forward result of Log"),
    (lambda x: 1.0 / x, "forward result of Div"),
    (lambda x: x / x, "forward result of Div"),
    (lambda x: x.sqrt(), "backward of Pow"),
])
def test_anomaly_mode_catches_the_poles(quiet, make, phase):
    x = tg.Tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=phase):
        make(x).sum().backward()
