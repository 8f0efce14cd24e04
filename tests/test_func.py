"""tinygrad_edu.func: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp against finite differences,
closed forms and each other; composition; no_grad mode; errors."""
import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import func
from tinygrad_edu.testing import arrays, check_op, shapes


def numerical_jacobian(f, x, eps=1e-6):
    """d f(x) / dx by central differences, shape f(x).shape + x.shape (NumPy in, NumPy out)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(f(x))
    jac = np.zeros(y.shape + x.shape)
    for k in range(x.size):
        step = np.zeros_like(x)
        step.flat[k] = eps
        jac.reshape(y.shape + (-1,))[..., k] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


def on_arrays(f):
    """A Tensor function as a function of ndarrays (for finite differences)."""
    return lambda *xs: f(*[tg.Tensor(x) for x in xs]).data


def smooth_scalar(x):
    return (x.sin() * x * x).sum() + (x * 0.5).exp().sum()


def smooth_vector(x):
    return (x.reshape(-1)[:, None] * x.reshape(-1)[None, :]).tanh().sum(axis=0) + x.reshape(-1).sin()


# ----------------------------------------------------------------------------- grad, value_and_grad


@given(arrays(shapes(max_dims=2)))
def test_grad_matches_finite_differences(x):
    got = func.grad(smooth_scalar)(x)
    assert got.shape == x.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.data, numerical_jacobian(on_arrays(smooth_scalar), x), rtol=1e-5, atol=1e-6)


def test_value_and_grad_and_argnums():
    def f(x, y, scale):
        return (x * y).sum() * scale + (y * y).sum()

    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    value, (dx, dy) = func.value_and_grad(f, argnums=(0, 1))(x, y, 2.0)
    assert value.item() == pytest.approx(2 * (3 - 2) + 10)
    np.testing.assert_allclose(dx.data, 2 * y)
    np.testing.assert_allclose(dy.data, 2 * x + 2 * y)
    np.testing.assert_allclose(func.grad(f, argnums=1)(x, y, 2.0).data, 2 * x + 2 * y)
    np.testing.assert_allclose(func.grad(f, argnums=-2)(x, y, 2.0).data, 2 * x + 2 * y)


def test_grad_composes_to_higher_orders():
    def cube(x):
        return x**3

    x = 1.5
    assert func.grad(cube)(x).item() == pytest.approx(3 * x**2)
    assert func.grad(func.grad(cube))(x).item() == pytest.approx(6 * x)
    assert func.grad(func.grad(func.grad(cube)))(x).item() == pytest.approx(6.0)
    assert func.grad(func.grad(tg.sin))(np.float64(0.3)).item() == pytest.approx(-np.sin(0.3), rel=1e-12)


def test_grad_of_grad_of_a_two_argument_function_mixes_partials():
    def f(x, y):
        return x * x * y * y * y  # d2f/dx dy = 6 x y^2

    mixed = func.grad(lambda x, y: func.grad(f, argnums=0)(x, y), argnums=1)
    assert mixed(np.float64(2.0), np.float64(3.0)).item() == pytest.approx(6 * 2 * 9)


def test_the_same_tensor_in_two_arguments_gets_partial_derivatives():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    dx, dy = func.grad(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(x, x)
    np.testing.assert_allclose(dx.data, 2 * x.data * x.data)  # 2ab
    np.testing.assert_allclose(dy.data, x.data * x.data)  # a^2


def test_results_stay_connected_to_tensors_that_require_grad():
    """grad(f)(w) is a function of w, so tg.grad can go through it (and through closed-over tensors)."""
    w = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    a = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    g = func.grad(lambda v: (a * v**3).sum())(w)  # 3 a w^2
    np.testing.assert_allclose(g.data, 3 * a.data * w.data**2)
    dw, da = tg.grad(g.sum(), [w, a])
    np.testing.assert_allclose(dw.data, 6 * a.data * w.data)
    np.testing.assert_allclose(da.data, 3 * w.data**2)
    assert w.grad is None and a.grad is None


def test_unused_arguments_get_zeros():
    dx, dy = func.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(np.ones(2), np.ones((2, 3)))
    np.testing.assert_array_equal(dy.data, np.zeros((2, 3)))
    assert func.grad(lambda x: 5.0)(np.ones(3)).tolist() == [0.0, 0.0, 0.0]
    assert func.grad(func.grad(lambda x: x * 2))(np.float64(1.0)).item() == 0.0


def test_dtypes():
    assert func.grad(lambda x: (x * x).sum())(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert func.grad(lambda x: x * x)(3.0).dtype == np.float32  # numbers take the default dtype
    tg.set_default_dtype(np.float64)
    assert func.grad(lambda x: x * x)([3.0]).dtype == np.float64


def test_inputs_are_not_changed_or_locked():
    x = np.array([1.0, 2.0])
    func.grad(lambda t: (t * t).sum())(x)
    x[0] = 5.0  # still writeable: the transform copied the array
    assert x.tolist() == [5.0, 2.0]


def test_no_grad_mode_returns_constants():
    with tg.no_grad():
        value, g = func.value_and_grad(lambda x: (x**3).sum())(tg.Tensor(np.array([1.0, 2.0]), requires_grad=True))
        h = func.hessian(lambda x: (x**3).sum())(np.array([1.0, 2.0]))
        y, pullback = func.vjp(lambda x: x * x, np.array([1.0, 3.0]))
        (back,) = pullback(np.ones(2))
    for t in (value, g, h, y, back):
        assert not t.requires_grad
    np.testing.assert_allclose(g.data, [3.0, 12.0])
    np.testing.assert_allclose(h.data, np.diag([6.0, 12.0]))
    np.testing.assert_allclose(back.data, [2.0, 6.0])


# ----------------------------------------------------------------------------- jacobian, hessian


@given(arrays(shapes(min_dims=1, max_dims=2)))
def test_jacobian_matches_finite_differences(x):
    jac = func.jacobian(smooth_vector)(x)
    expected = numerical_jacobian(on_arrays(smooth_vector), x)
    assert jac.shape == (x.size,) + x.shape
    np.testing.assert_allclose(jac.data, expected, rtol=1e-5, atol=1e-6)


@given(arrays((4,)))
def test_jacobian_of_softmax_is_diag_s_minus_s_st(x):
    s = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    np.testing.assert_allclose(func.jacobian(lambda t: t.softmax())(x).data, np.diag(s) - np.outer(s, s),
                               rtol=1e-12, atol=1e-14)


@given(arrays((3, 3)), arrays((3,)))
def test_hessian_of_a_quadratic_form_is_a_plus_a_transpose(a, x):
    def quadratic(v):
        return v @ (tg.Tensor(a) @ v)

    np.testing.assert_allclose(func.hessian(quadratic)(x).data, a + a.T, rtol=1e-12, atol=1e-12)


def test_hessian_matches_finite_differences_of_the_gradient():
    x = np.array([[0.3, -0.7], [1.1, 0.4]])
    hess = func.hessian(smooth_scalar)(x)
    assert hess.shape == (2, 2, 2, 2)
    expected = numerical_jacobian(lambda v: func.grad(smooth_scalar)(v).data, x)
    np.testing.assert_allclose(hess.data, expected, rtol=1e-5, atol=1e-6)


def test_hessian_with_two_arguments_is_nested():
    def f(x, y):
        return (x * x * y).sum()

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    (hxx, hxy), (hyx, hyy) = func.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hxx.data, np.diag(2 * y))
    np.testing.assert_allclose(hxy.data, np.diag(2 * x))
    np.testing.assert_allclose(hyx.data, np.diag(2 * x))
    np.testing.assert_allclose(hyy.data, np.zeros((2, 2)))


def test_jacobian_of_a_function_with_two_outputs():
    jx, jy = func.jacobian(lambda x: (x * 2, x.sum()))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(jx.data, 2 * np.eye(2))
    np.testing.assert_array_equal(jy.data, [1.0, 1.0])


def test_jacobian_of_jacobian_is_third_order():
    third = func.jacobian(func.jacobian(func.grad(lambda x: (x**4).sum())))(np.array([1.0, 2.0]))
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0], expected[1, 1, 1] = 24 * 1.0, 24 * 2.0
    np.testing.assert_allclose(third.data, expected)


# ----------------------------------------------------------------------------- vjp, jvp, hvp


@given(arrays((2, 3)), st.integers(0, 2**32 - 1))
def test_jvp_is_vjp_transposed(x, seed):
    """<v, J t> == <J^T v, t> for any t and v, and both agree with the full Jacobian."""
    rng = np.random.default_rng(seed)
    t, v = rng.normal(size=x.shape), rng.normal(size=(6,))
    y, jt = func.jvp(smooth_vector, (x,), (t,))
    y2, pullback = func.vjp(smooth_vector, x)
    (jtv,) = pullback(v)
    np.testing.assert_allclose(y.data, y2.data)
    np.testing.assert_allclose(np.sum(v * jt.data), np.sum(jtv.data * t), rtol=1e-10, atol=1e-12)
    jac = func.jacobian(smooth_vector)(x).data.reshape(6, -1)
    np.testing.assert_allclose(jt.data, jac @ t.ravel(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jtv.data.ravel(), jac.T @ v, rtol=1e-10, atol=1e-12)


def test_jvp_matches_a_finite_difference_along_the_tangent():
    x, t = np.array([0.2, -0.4, 0.9]), np.array([1.0, 0.5, -2.0])
    _, jt = func.jvp(smooth_vector, (x,), (t,))
    eps = 1e-6
    fd = (on_arrays(smooth_vector)(x + eps * t) - on_arrays(smooth_vector)(x - eps * t)) / (2 * eps)
    np.testing.assert_allclose(jt.data, fd, rtol=1e-6, atol=1e-8)


def test_jvp_with_two_primals_adds_the_directions():
    def f(x, y):
        return x * y

    x, y, tx, ty = (np.array(v) for v in ([1.0, 2.0], [3.0, 4.0], [1.0, 0.0], [0.0, 1.0]))
    _, out = func.jvp(f, (x, y), (tx, ty))
    np.testing.assert_allclose(out.data, tx * y + x * ty)


def test_vjp_pullback_can_be_called_repeatedly():
    y, pullback = func.vjp(lambda a, b: a @ b, np.eye(2) * 2, np.array([1.0, 3.0]))
    np.testing.assert_allclose(y.data, [2.0, 6.0])
    for v in (np.array([1.0, 0.0]), np.array([0.0, 1.0])):
        da, db = pullback(v)
        np.testing.assert_allclose(da.data, np.outer(v, [1.0, 3.0]))
        np.testing.assert_allclose(db.data, 2 * v)


@given(arrays((2, 2)), arrays((2, 2)))
def test_hvp_is_hessian_times_vector(x, v):
    value, (hv,) = func.hvp(smooth_scalar, (x,), (v,))
    hess = func.hessian(smooth_scalar)(x).data.reshape(4, 4)
    assert value.item() == pytest.approx(smooth_scalar(tg.Tensor(x)).item())
    np.testing.assert_allclose(hv.data.ravel(), hess @ v.ravel(), rtol=1e-10, atol=1e-12)


def test_forward_over_reverse_hvp_agrees():
    """jvp of grad is another route to H v."""
    x, v = np.array([0.3, -1.2]), np.array([2.0, 0.5])
    _, hv_fwd = func.jvp(func.grad(smooth_scalar), (x,), (v,))
    _, (hv_rev,) = func.hvp(smooth_scalar, (x,), (v,))
    np.testing.assert_allclose(hv_fwd.data, hv_rev.data, rtol=1e-12)


def test_transforms_use_backward_rules_of_every_kind():
    """Through matmul, softmax, max, indexing and broadcasting, grad(grad) still matches finite differences."""
    w = np.random.default_rng(0).normal(size=(3, 2))

    def f(x):
        h = (x @ tg.Tensor(w)).softmax(axis=-1)
        return (h[:, 0] * x.max(axis=1)).sum() + (x * x[:1]).sum()

    x = np.array([[0.1, 0.7, -0.3], [1.2, -0.5, 0.4]])
    expected = numerical_jacobian(lambda v: func.grad(f)(v).data, x)
    np.testing.assert_allclose(func.hessian(f)(x).data, expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- errors and docs


def test_errors_are_clear():
    with pytest.raises(tg.ShapeError, match=r"grad: f must return a single number, got an output of shape \(3,\)"):
        func.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match="argnums 2 does not fit a call with 1"):
        func.grad(lambda x: x.sum(), argnums=2)(np.ones(3))
    with pytest.raises(ValueError, match="names an argument twice"):
        func.grad(lambda x, y: x.sum(), argnums=(0, -2))(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="argument 0 has dtype int64"):
        func.grad(lambda x: x.sum())(np.array([1, 2]))
    with pytest.raises(tg.ShapeError, match=r"tangent 0 has shape \(2,\) but must have shape \(3,\)"):
        func.jvp(lambda x: x * 2, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="primals and tangents must be tuples"):
        func.jvp(lambda x: x * 2, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="1 primal"):
        func.hvp(lambda x: x.sum(), (np.ones(3),), ())
    _, pullback = func.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(tg.ShapeError, match=r"cotangent has shape \(2,\) but must have shape \(3,\)"):
        pullback(np.ones(2))


def test_module_examples_run():
    result = doctest.testmod(func, raise_on_error=False)
    assert result.attempted >= 2 and result.failed == 0


# ----------------------------------------------------------------------------- elementwise_grad, has_aux


ELEMENTWISE = [  # (f, f', f'') on Tensors and on arrays
    (lambda x: x.tanh(), lambda a: 1 - np.tanh(a) ** 2, lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2)),
    (lambda x: x.sin() * x, lambda a: np.cos(a) * a + np.sin(a), lambda a: 2 * np.cos(a) - a * np.sin(a)),
    (lambda x: (x * 0.5).exp(), lambda a: 0.5 * np.exp(0.5 * a), lambda a: 0.25 * np.exp(0.5 * a)),
]


@pytest.mark.parametrize("f, first, second", ELEMENTWISE)
@given(x=arrays(shapes(max_dims=3, min_side=0)))
def test_elementwise_grad_is_each_elements_derivative(f, first, second, x):
    got = func.elementwise_grad(f)(x)
    assert got.shape == x.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.data, first(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(func.elementwise_grad(func.elementwise_grad(f))(x).data, second(x), rtol=1e-10,
                               atol=1e-12)
    # the diagonal of the Jacobian, which is all there is for an elementwise f
    if x.size:
        jac = func.jacobian(f)(x).data.reshape(x.size, x.size)
        np.testing.assert_allclose(np.diag(jac), got.data.reshape(-1), rtol=1e-12)
    check_op(lambda t: func.elementwise_grad(f)(t), x, np_fn=first)  # its own gradient, to second order


def test_elementwise_grad_of_a_non_elementwise_function_is_the_gradient_of_the_sum():
    x = np.array([1.0, 2.0, 3.0])
    got = func.elementwise_grad(lambda t: t * t.sum())(x)  # d/dx_j sum_i x_i * S = S + sum_i x_i = 2 S
    np.testing.assert_allclose(got.data, np.full(3, 12.0))
    two = func.elementwise_grad(lambda a, b: a * b, argnums=(0, 1))(x, np.array([4.0, 5.0, 6.0]))
    np.testing.assert_allclose(two[0].data, [4.0, 5.0, 6.0])
    np.testing.assert_allclose(two[1].data, x)
    assert func.elementwise_grad(lambda t: tg.Tensor(np.ones(2)))(x).data.tolist() == [0.0, 0.0, 0.0]


def test_grad_and_value_and_grad_with_aux():
    def loss(w, x):
        logits = x @ w
        return (logits * logits).mean(), {"logits": logits, "note": "kept as is"}

    w, x = np.array([1.0, -2.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    gradient, aux = func.grad(loss, has_aux=True)(w, x)
    np.testing.assert_allclose(gradient.data, x.T @ (x @ w))  # d/dw mean((x w)^2) = 2/2 x^T (x w)
    np.testing.assert_allclose(aux["logits"].data, x @ w)
    assert aux["note"] == "kept as is"
    (value, aux), gradient_again = func.value_and_grad(loss, has_aux=True)(w, x)
    assert value.item() == pytest.approx(np.mean((x @ w) ** 2))
    np.testing.assert_array_equal(gradient_again.data, gradient.data)
    # only the output is differentiated: an aux that depends on w changes nothing
    (_, both) = func.value_and_grad(lambda w_, x_: (loss(w_, x_)[0], w_ * 100.0), argnums=(0, 1),
                                    has_aux=True)(w, x)
    np.testing.assert_array_equal(both[0].data, gradient.data)


def test_aux_outside_grad_mode_holds_no_graph_and_inside_composes():
    def f(x):
        return (x ** 3).sum(), [x * 2, 7]

    with tg.no_grad():
        gradient, (doubled, seven) = func.grad(f, has_aux=True)(np.array([1.0, 2.0]))
    assert not gradient.requires_grad and not doubled.requires_grad and doubled.grad_fn is None and seven == 7
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    gradient, (doubled, _) = func.grad(f, has_aux=True)(x)
    (second,) = tg.grad(gradient.sum(), x)  # d/dx sum(3 x^2) = 6 x: has_aux composes with the graph
    np.testing.assert_allclose(second.data, [6.0, 12.0])
    assert doubled.requires_grad


@pytest.mark.parametrize("returned", [lambda x: x.sum(), lambda x: (x.sum(),), lambda x: (x.sum(), 1, 2)])
def test_has_aux_needs_a_pair(returned):
    with pytest.raises(TypeError, match=r"^grad: with has_aux=True, f must return a pair \(output, aux\)"):
        func.grad(returned, has_aux=True)(np.ones(2))
