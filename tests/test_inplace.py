"""In-place safety: changing an array a live graph saved never yields a silently wrong gradient.

Either the write is refused at once (saved arrays are read-only while a graph holds
them) or backward raises naming the op (version counters). Ordinary optimizer
steps after backward keep working.
"""
import gc

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.guards import inplace as function


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def write_zeros(array):
    array[...] = 0


@pytest.fixture(autouse=True)
def _no_array_left_held():
    """Every test must leave no array held once its graphs are gone (no leak in the lock table)."""
    yield
    gc.collect()
    assert function._holders == {}


# ---------------------------------------------------------------------------- refused at once


def test_write_into_saved_intermediate_is_refused():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = (y * y).sum()
    with pytest.raises(ValueError, match="read-only"):
        y.data[:] = 0
    z.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp([2.0, 4.0]))


def test_write_into_saved_leaf_is_refused_then_allowed_after_backward():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.data[0] = 5.0
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 4.0])
    w.data[0] = 5.0  # the graph let go of it
    assert w.data[0] == 5.0


def test_constant_operands_are_protected_too():
    w = leaf([1.0, 2.0])
    c = tg.Tensor([3.0, 4.0], dtype=np.float64)  # does not require grad, but Mul's backward reads it
    raw = np.array([5.0, 6.0])  # a plain ndarray operand of matching dtype is saved as is
    loss = (w * c).sum() + (w * raw).sum()
    with pytest.raises(ValueError, match="read-only"):
        write_zeros(c.data)
    with pytest.raises(ValueError, match="read-only"):
        write_zeros(raw)
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [8.0, 10.0])
    write_zeros(raw)  # released after backward


def test_from_numpy_array_is_locked_while_the_graph_lives():
    source = np.array([1.0, 2.0, 3.0])
    w = tg.from_numpy(source, requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        source[1] = 100.0
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [2.0, 4.0, 6.0])
    source[1] = 100.0  # the user's array is theirs again
    assert w.data[1] == 100.0


def test_base_of_a_user_view_is_locked_too():
    big = np.arange(6.0)
    w = tg.from_numpy(big[2:4], requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        big[2] = 0.0  # would change w's saved values through the base
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [4.0, 6.0])
    big[2] = 0.0
    w.data[0] = 1.0  # view and base both writeable again


@pytest.mark.parametrize("make_view", [
    lambda t: t.reshape(2, 2),
    lambda t: t.reshape(2, 2).transpose(),
    lambda t: t[1:3],
    lambda t: t[None],
], ids=["reshape", "transpose", "slice", "newaxis"])
def test_views_cannot_write_behind_the_graph(make_view):
    x = leaf([1.0, 2.0, 3.0, 4.0])
    view = make_view(x)
    loss = (x * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        write_zeros(view.data)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0, 8.0])


def test_views_made_without_a_graph_cannot_write_behind_one():
    w = leaf([1.0, 2.0])
    c = tg.Tensor([3.0, 4.0], dtype=np.float64)
    view = c[:]  # no graph: c does not require grad
    loss = (w * c).sum()
    with pytest.raises(ValueError, match="read-only"):
        write_zeros(view.data)
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0])


def test_saved_view_protects_its_base():
    w = leaf([1.0, 2.0])
    c = tg.Tensor([3.0, 4.0], dtype=np.float64)
    loss = (w * c.reshape(2)).sum()  # Mul saves the view; its base is c's array
    with pytest.raises(ValueError, match="read-only"):
        write_zeros(c.data)
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0])


def test_inplace_method_on_a_view_copies_instead_of_writing_through():
    x = tg.Tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64)
    view = x.reshape(2, 2)
    view.add_(10.0)
    np.testing.assert_allclose(view.data, [[11.0, 12.0], [13.0, 14.0]])
    np.testing.assert_allclose(x.data, [1.0, 2.0, 3.0, 4.0])


def test_two_graphs_sharing_a_weight():
    w = leaf([1.0, 2.0])
    first = (w * w).sum()
    second = (w * w * w).sum()
    first.backward()
    with pytest.raises(ValueError, match="read-only"):  # the second graph still holds w
        write_zeros(w.data)
    w.grad = None
    second.backward()
    np.testing.assert_allclose(w.grad.data, [3.0, 12.0])
    write_zeros(w.data)


def test_two_graphs_sharing_a_weight_with_a_step_in_between():
    w = leaf([1.0, 2.0])
    first = (w * w).sum()
    second = (w * w * w).sum()
    first.backward()
    sgd_step([w])  # the second graph still holds w's array: the step copies it
    with pytest.raises(RuntimeError, match=r"input 0 of Mul.*modified in place"):
        second.backward()


def test_dropping_a_graph_without_backward_releases_its_arrays():
    w = leaf([1.0, 2.0])
    loss = (w.exp() * w).sum()
    del loss
    write_zeros(w.data)  # nobody needs the old values any more
    assert w.data.tolist() == [0.0, 0.0]


def test_results_are_writeable_again_after_backward():
    x = leaf([1.0, 2.0])
    y = x.exp()  # Exp's backward reads its own output
    y.sum().backward()
    write_zeros(y.data)
    assert y.data.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------------- backward raises


def test_optimizer_step_between_forward_and_backward_raises_naming_op():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with tg.no_grad():
        w.sub_(np.array([0.5, 0.5]))
    with pytest.raises(RuntimeError, match=r"input 0 of Mul.*modified in place.*version 0 -> 1"):
        loss.backward()


def test_named_tensor_is_named_in_the_error():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="fc1.weight")
    loss = (w * 3).sum()
    with tg.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="'fc1.weight'"):
        loss.backward()


@pytest.mark.parametrize("change", [
    lambda t: t.add_(1.0), lambda t: t.mul_(2.0), lambda t: t.zero_(),
    lambda t: t.fill_(3.0), lambda t: t.copy_(np.ones(2)), lambda t: t.__setitem__(0, 9.0),
], ids=["add_", "mul_", "zero_", "fill_", "copy_", "setitem"])
def test_every_inplace_method_is_caught(change):
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with tg.no_grad():
        change(w)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_changing_a_saved_output_in_place_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()  # Exp's backward reads out, and y is the root, not any op's input
    with tg.no_grad():
        y.mul_(0.0)
    with pytest.raises(RuntimeError, match="output of Exp.*changed in place"):
        y.backward(np.ones(2))


def test_replacing_a_saved_output_array_raises():
    x = leaf([1.0, 2.0])
    y = x.sigmoid()
    y.data = np.zeros(2)
    with pytest.raises(RuntimeError, match="output of Sigmoid"):
        y.backward(np.ones(2))


def test_inplace_on_a_tensor_that_requires_grad_needs_no_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"sub_.*requires grad.*no_grad"):
        w.sub_(1.0)


def test_the_old_values_stay_intact_for_the_graph():
    # The copy-on-write keeps what the graph saved; the version check still refuses.
    w = leaf([1.0, 2.0])
    saved = w.data
    loss = (w * w).sum()
    with tg.no_grad():
        w.sub_(np.array([1.0, 1.0]))
    assert saved.tolist() == [1.0, 2.0] and w.data.tolist() == [0.0, 1.0]
    with pytest.raises(RuntimeError):
        loss.backward()


# ---------------------------------------------------------------------------- optimizer steps keep working


def sgd_step(params, lr=0.1):
    with tg.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=lr)
            p.grad = None


@pytest.mark.parametrize("retain", [False, True])
def test_training_steps_after_backward(retain):
    w = leaf([1.0, -2.0])
    target = np.array([0.5, 0.5])
    for _ in range(50):
        loss = ((w - target) ** 2).sum()
        loss.backward(retain_graph=retain)
        sgd_step([w])
    np.testing.assert_allclose(w.data, target, atol=1e-4)


def test_step_after_retained_backward_then_second_backward_raises():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    sgd_step([w])
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    loss = (w * w).sum()  # a fresh forward works
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [1.6, 3.2])


def test_step_updates_in_place_once_the_graph_is_gone():
    w = leaf([1.0, 2.0])
    array = w.data
    (w * w).sum().backward()
    sgd_step([w])
    assert w.data is array  # no copy needed: nothing held it any more


def test_grad_of_two_losses_through_a_view_chain():
    w = leaf(np.arange(6.0))
    m = w.reshape(2, 3)
    a = (m.transpose() * 2).sum()
    b = (m[0] * m[1]).sum()
    (a + b).backward()
    np.testing.assert_allclose(w.grad.data, [2 + 3, 2 + 4, 2 + 5, 2 + 0, 2 + 1, 2 + 2])


# ---------------------------------------------------------------------------- arrays an op keeps as attributes


def test_index_array_changed_before_backward():
    # A loader refilling its label buffer before backward must not move the gradient.
    x = leaf(np.arange(4.0))
    labels = np.array([0, 1])
    y = (x[labels] * tg.Tensor([1.0, 10.0], dtype=np.float64)).sum()
    labels[0] = 3
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 10.0, 0.0, 0.0])


def test_index_tuple_and_mask_changed_before_backward():
    x = leaf(np.arange(6.0).reshape(2, 3))
    rows, mask = np.array([1, 0]), np.array([True, False, True])
    y = x[rows].sum() + (x[:, mask] * 2).sum()
    rows[:] = 1
    mask[:] = False
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [[3.0, 1.0, 3.0], [3.0, 1.0, 3.0]])


def test_clip_bound_changed_before_backward():
    x = leaf([0.0, 1.0, 2.0, 3.0])
    lo = np.full(4, 0.5)
    y = x.clip(lo, None).sum()
    lo[:] = 10.0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0])


def test_ops_that_only_need_shapes_leave_inputs_writeable():
    # Add's backward never reads x, so x stays writeable; Mul's does, so w is locked.
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = ((x + 1.0) * w).sum()
    x.data[0] = 100.0
    with pytest.raises(ValueError, match="read-only"):
        w.data[0] = 100.0
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])  # from x + 1 as it was computed
