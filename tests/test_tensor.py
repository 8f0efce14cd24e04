"""The Tensor's public contract: construction, dtypes, creation functions, protocol, gradcheck API."""
import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu as tg
from tinygrad_edu.testing import arrays, check_op, shapes


def test_dtype_rules():
    assert tg.Tensor([1, 2]).dtype == np.float32
    assert tg.Tensor(3).dtype == np.float32
    assert tg.Tensor(np.ones(2)).dtype == np.float64
    assert tg.Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert tg.Tensor(np.array([1, 2])).dtype == np.int64
    assert tg.Tensor([True, False]).dtype == bool
    assert tg.Tensor([1, 2], dtype=np.int32).dtype == np.int32
    tg.set_default_dtype(np.float64)
    assert tg.Tensor([1.5]).dtype == np.float64 and tg.get_default_dtype() == np.float64
    with pytest.raises(TypeError):
        tg.set_default_dtype(np.int32)


def test_python_scalars_and_arrays_do_not_upcast_float32():
    x = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = 2.5 * x + np.float64(1.0) - np.ones(3) / (x + 1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_tensor_dtypes_promote_like_numpy_and_grads_keep_input_dtype():
    a = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(2, np.float64), requires_grad=True)
    (a * b).sum().backward()
    assert (a * b).dtype == np.float64
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_tensor_copies_and_from_numpy_shares():
    source = np.ones(3)
    t = tg.Tensor(source)
    source[0] = 5
    assert t.data[0] == 1
    shared = tg.from_numpy(source)
    source[1] = 7
    assert shared.data[1] == 7


def test_creation_functions():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).dtype == np.float32
    assert tg.ones(2, dtype=np.float64).dtype == np.float64
    assert tg.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    assert tg.zeros_like(tg.ones(2, 2)).shape == (2, 2)
    assert tg.ones_like(np.zeros(3, np.float64)).dtype == np.float64
    assert tg.arange(4).data.tolist() == [0, 1, 2, 3]
    assert tg.arange(0, 1, 0.5).dtype == np.float32
    np.testing.assert_array_equal(tg.eye(2).data, np.eye(2))
    assert tg.randn(3, 2, requires_grad=True).requires_grad
    assert 0 <= tg.rand(5).data.min() and tg.rand(5).data.max() < 1


def test_manual_seed_makes_randomness_repeatable():
    tg.manual_seed(42)
    a = tg.randn(4).data
    tg.manual_seed(42)
    np.testing.assert_array_equal(a, tg.randn(4).data)


def test_attributes_and_protocol():
    t = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.name == "w"
    assert t.is_leaf and t.grad is None
    assert "requires_grad=True" in repr(t) and "name='w'" in repr(t)
    assert "grad_fn=<Mul>" in repr(t * 2)
    assert len(t) == 2 and [row.shape for row in t] == [(2,), (2,)]
    assert tg.Tensor(3.0).item() == 3.0 and float(tg.Tensor(2.0)) == 2.0
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(TypeError, match="detach"):
        np.asarray(t)  # would silently drop t from the graph
    assert np.asarray(t.detach()).shape == (2, 2)
    assert {t: 1}[t] == 1  # hashable by identity
    eq = t == t
    assert eq.dtype == bool and not eq.requires_grad
    assert (t > 2).data.tolist() == [[False, False], [True, True]]
    assert t.T.shape == (2, 2) and t.numpy() is t.data
    assert t.argmax().item() == 3 and t.argmax(axis=1).data.tolist() == [1, 1]


def test_ndarray_on_the_left_gives_a_tensor():
    t = tg.Tensor(np.ones(2), requires_grad=True)
    out = np.array([1.0, 2.0]) * t
    assert isinstance(out, tg.Tensor) and out.requires_grad


def test_indexing_forms():
    x = tg.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert x[0].shape == (3, 4)
    assert x[:, 1:].shape == (2, 2, 4)
    assert x[..., None].shape == (2, 3, 4, 1)
    assert x[np.array([1, 1, 0])].shape == (3, 3, 4)
    assert x[x.data > 10].shape == (13,)
    assert x[tg.Tensor(np.array([0, 1])), 0, 0].shape == (2,)
    assert x[[0, 1], [1, 2]].shape == (2, 4)
    with pytest.raises(IndexError, match="index"):
        x[5]


def test_module_level_functions():
    a = tg.Tensor([1.0, -2.0], requires_grad=True)
    assert tg.exp(a).shape == (2,) and tg.relu(a).data.tolist() == [1.0, 0.0]
    assert tg.maximum(a, 0.0).data.tolist() == [1.0, 0.0]
    assert tg.minimum(0.0, a).data.tolist() == [0.0, -2.0]
    assert tg.where(a > 0, a, 0.0).data.tolist() == [1.0, 0.0]
    assert tg.concatenate([a, a]).shape == (4,) and tg.stack([a, a], axis=1).shape == (2, 2)
    assert tg.softmax(a).data.sum() == pytest.approx(1.0)
    assert tg.leaky_relu(a, alpha=0.1).data.tolist() == pytest.approx([1.0, -0.2])
    assert tg.clip(a, -1.0, 0.5).data.tolist() == [0.5, -1.0]


def test_inplace_rules():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with tg.no_grad():
        w.add_(1.0).mul_(2.0)
        w[0] = 10.0
    assert w.data.tolist() == [10.0, 6.0] and w._version == 3
    with pytest.raises(tg.ShapeError):
        with tg.no_grad():
            w.copy_(np.ones(3))


def test_numerical_stability_of_the_stable_primitives():
    big = tg.Tensor(np.array([-1e4, 0.0, 1e4], np.float32), requires_grad=True)
    for out in (big.sigmoid(), big.tanh(), big.softmax(), big.log_softmax(), big.logsumexp()):
        assert np.all(np.isfinite(out.data))
        out.sum().backward()
        assert np.all(np.isfinite(big.grad.data))
        big.grad = None


def test_gradcheck_rejects_float32_and_reports_mismatches():
    x32 = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        tg.gradcheck(lambda t: t.sum(), [x32])

    class WrongExp(tg.Function):
        """out = exp(x);  dx = g * 2 * out   (deliberately wrong)"""

        def forward(self, x):
            out = np.exp(x)
            self.save(out)
            return out

        def backward(self, g, out):
            return (g * 2 * out,)

    x = tg.Tensor(np.array([0.1, 0.2]), requires_grad=True)
    with pytest.raises(tg.GradcheckError, match=r"input 0.*element \(1,\).*analytic 2.44.*numerical 1.22"):
        tg.gradcheck(lambda t: WrongExp.apply(t), [x])
    assert tg.gradcheck(lambda t: WrongExp.apply(t), [x], raise_exception=False) is False
    assert tg.gradcheck(lambda t: WrongExp.apply(t).sum(), [x], fast_mode=True, raise_exception=False) is False
    assert tg.gradcheck(lambda t: t.exp().sum(), [x], fast_mode=True)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FirstOrderOnly(tg.Function):
        """out = x**2;  dx = g * 2 * x   (but x is taken as a constant: second order is wrong)"""

        def forward(self, x):
            self.save(x)
            return x * x

        def backward(self, g, x):
            return (g * 2 * tg.engine.function.raw(x),)

    x = tg.Tensor(np.array([0.3, 0.7]), requires_grad=True)
    assert tg.gradcheck(lambda t: FirstOrderOnly.apply(t), [x])
    assert not tg.gradgradcheck(lambda t: FirstOrderOnly.apply(t), [x], raise_exception=False)


@given(arrays(shapes(), min_abs=0.1))
def test_testing_helpers_work_for_user_ops(values):
    check_op(lambda t: (t * t.abs()).sum(), values, np_fn=lambda a: np.sum(a * np.abs(a)))


def test_check_op_catches_a_recorded_backward_that_differs_from_the_array_backward():
    class Drift(tg.Function):
        """out = 2x;  dx = 2g   (recorded mode deliberately 1% off)"""

        def forward(self, x):
            return 2 * x

        def backward(self, g):
            return (g * (2.0 if isinstance(g, np.ndarray) else 2.02),)

    with pytest.raises(AssertionError, match="recorded backward"):
        check_op(lambda t: Drift.apply(t), np.array([0.5, 1.5]))
