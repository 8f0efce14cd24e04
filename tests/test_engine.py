"""Graph semantics: accumulation, retain_graph, no_grad, detach, hooks, higher order, deep graphs."""
import threading
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_diamond_graph_accumulates_both_paths():
    x = leaf(3.0)
    a, b = x * 2, x * x
    (a + b).backward()
    assert x.grad.item() == pytest.approx(2 + 2 * 3.0)


def test_same_tensor_twice_in_one_op():
    x = leaf([1.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, -4.0])


def test_leaf_grad_accumulates_until_cleared():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_non_leaf_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * 3
    z.retain_grad()
    z.sum().backward()
    assert y.grad is None
    np.testing.assert_allclose(z.grad.data, [1.0, 1.0])
    assert x.is_leaf and not y.is_leaf


def test_backward_twice_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_non_scalar_backward_needs_gradient():
    x = leaf([[1.0, 2.0]])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(1, 2\).*gradient="):
        y.backward()
    y.backward(gradient=np.array([[1.0, 10.0]]))
    np.testing.assert_allclose(x.grad.data, [[2.0, 20.0]])
    with pytest.raises(ValueError, match="gradient has shape"):
        (x * 2).backward(gradient=np.ones(3))


def test_no_grad_and_enable_grad():
    x = leaf([1.0])
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @tg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = {}

    def other():
        seen["other"] = tg.is_grad_enabled()

    with tg.no_grad():
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        seen["main"] = tg.is_grad_enabled()
    assert seen == {"other": True, "main": False}


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = x * x.detach()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0])
    assert not x.detach().requires_grad


def test_hooks_see_and_replace_gradients():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.data.copy()))
    y = x * 3
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    np.testing.assert_allclose(x.grad.data, [30.0, 30.0])
    handle.remove()
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_chain_of_100000_ops_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_higher_order_gradients():
    x = leaf(2.0)
    y = x**3
    (g,) = tg.grad(y, x, create_graph=True)
    assert g.item() == pytest.approx(12.0)
    (gg,) = tg.grad(g, x, create_graph=True)
    assert gg.item() == pytest.approx(12.0)
    (ggg,) = tg.grad(gg, x)
    assert ggg.item() == pytest.approx(6.0)


def test_backward_create_graph_then_backward_of_grad():
    x = leaf([1.0, 2.0])
    (x.sin() * x).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    xs = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.data, 2 * np.cos(xs) - xs * np.sin(xs))


def test_tg_grad_leaves_dot_grad_untouched_and_checks_unused():
    x, y = leaf([1.0]), leaf([2.0])
    (gx,) = tg.grad((x * 5).sum(), [x])
    assert gx.item() == 5.0 and x.grad is None
    with pytest.raises(RuntimeError, match="not used"):
        tg.grad((x * 5).sum(), [x, y])
    gx, gy = tg.grad((x * 5).sum(), [x, y], allow_unused=True)
    assert gy is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad((x * 5).sum(), [tg.Tensor([1.0])])


def test_tg_grad_of_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 2
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, [4.0, 8.0])


def test_inplace_change_between_forward_and_backward_is_caught():
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    with tg.no_grad():
        w.sub_(np.array([0.5, 0.5]))  # an optimizer step before backward
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_saved_arrays_are_read_only_while_graph_lives():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = (y * 2).sum()
    with pytest.raises(ValueError, match="read-only"):
        y.data[:] = 0
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp([1.0, 2.0]))


def test_optimizer_style_update_after_backward_works_with_retain_graph():
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with tg.no_grad():
        w.sub_(w.grad, alpha=0.1)
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_no_reference_cycle_keeps_the_graph_alive():
    x = leaf(np.ones(3))
    y = x.exp()
    z = (y * 2).sum()
    z.backward()
    ref = weakref.ref(y)
    del y, z
    assert ref() is None


def test_requires_grad_on_integers_raises():
    with pytest.raises(TypeError, match="int64"):
        tg.Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        tg.Tensor(np.array([True]), requires_grad=True)


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).sum().backward()


def test_matmul_and_broadcast_errors_name_op_and_shapes():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((4, 2)))
    with pytest.raises(tg.ShapeError, match=r"matmul.*\(2, 3\).*\(4, 2\)"):
        a @ b
    with pytest.raises(tg.ShapeError, match=r"Add.*\(2, 3\).*\(4, 2\)"):
        a + b
    with pytest.raises(tg.ShapeError, match=r"sum: axis 5"):
        a.sum(axis=5)


def test_gradient_reduced_to_input_shape():
    x = leaf(np.ones((3, 1)))
    b = leaf(np.ones(4))
    s = leaf(2.0)
    ((x * b) * s).sum().backward()
    assert x.grad.shape == (3, 1) and b.grad.shape == (4,) and s.grad.shape == ()
    np.testing.assert_allclose(x.grad.data, np.full((3, 1), 8.0))
    assert s.grad.item() == 12.0


def test_repeated_integer_index_accumulates():
    x = leaf([1.0, 2.0, 3.0])
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 1.0])


def test_leaf_grads_are_distinct_arrays():
    a, b = leaf([1.0]), leaf([2.0])
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    a.grad.data[0] = 100.0
    assert b.grad.item() == 1.0
