"""The backward sweep's fast path: graph order, what is guarded, and who owns each .grad array."""
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine.autograd import topological_order


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ----------------------------------------------------------------------------- order


def test_topological_order_puts_every_tensor_after_its_inputs():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    a = x * w
    b = a + x  # diamond: x reaches b directly and through a
    c = (b * a).sum()
    order = topological_order([c])
    position = {id(t): i for i, t in enumerate(order)}
    assert len(order) == len(position) == 6  # x, w, a, b, b*a, c: each once
    for t in order:
        if t._ctx is not None:
            for inp, need in zip(t._ctx.inputs, t._ctx.needs_input_grad):
                if need:
                    assert position[id(inp)] < position[id(t)]


def test_topological_order_without_leaves_lists_only_nodes():
    x = leaf([1.0])
    y = (x * 2).exp()
    nodes = topological_order([y], leaves=False)
    assert [t._ctx.name for t in nodes] == ["Mul", "Exp"]
    assert topological_order([x], leaves=False) == [] and topological_order([x]) == [x]


def test_constant_inputs_and_tensors_without_grad_are_not_visited():
    x, data = leaf([1.0, 2.0]), tg.Tensor([3.0, 4.0], dtype=np.float64)
    y = (x * data + 1.0).sum()
    assert all(t is not data for t in topological_order([y]))


# ----------------------------------------------------------------------------- guards


def test_ops_that_read_inputs_lock_them_until_backward():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (a * b).sum()  # Mul's backward reads both inputs
    assert not a.data.flags.writeable and not b.data.flags.writeable
    y.backward()
    assert a.data.flags.writeable and b.data.flags.writeable


def test_ops_that_read_no_input_values_leave_them_writeable():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (a + b - a).sum()  # Add, Sub and Sum need only shapes in backward
    assert a.data.flags.writeable and b.data.flags.writeable
    a.data[:] = 100.0  # cannot change any gradient of this graph ...
    y.backward()  # ... so backward runs, and is right
    np.testing.assert_allclose(a.grad.data, [0.0, 0.0])
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])


def test_only_what_a_node_saved_is_version_checked():
    # As in PyTorch: Add saves nothing (dx = g), so changing its input afterwards cannot change
    # its gradient and backward runs; Mul saves its inputs, so the same change makes it refuse.
    w = leaf([1.0, 2.0])
    y = (w + 1.0).sum()
    with tg.no_grad():
        w.sub_(np.array([1.0, 1.0]))
    y.backward()
    np.testing.assert_allclose(w.grad.data, [1.0, 1.0])
    z = (w * w).sum()
    with tg.no_grad():
        w.sub_(np.array([1.0, 1.0]))
    with pytest.raises(RuntimeError, match=r"input 0 of Mul.*modified in place"):
        z.backward()


def test_a_view_keeps_the_values_the_graph_saved():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    v = x.reshape(2, 2)  # a read-only view of x's array
    y = (v * v).sum()  # Mul saves the view, and so holds its base
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 10.0
    with tg.no_grad():
        x.sub_(np.ones(4))  # x gets a fresh array; the view the graph saved keeps the old values
    np.testing.assert_allclose(v.data, [[1.0, 2.0], [3.0, 4.0]])
    y.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0, 8.0])  # the gradient of what was computed


def test_saved_output_is_read_only_until_backward():
    x = leaf([0.5, 1.0])
    y = x.exp()
    with pytest.raises(ValueError, match="read-only"):
        y.data[0] = 0.0
    y.sum().backward()
    y.data[0] = 0.0  # the graph let go of it


def test_relu_holds_its_output_not_the_pre_activation():
    x, w = leaf([[1.0, -2.0]]), leaf([[1.0, 0.5], [0.5, 1.0]])
    h = x @ w  # [[0, -1.5]]: one entry exactly 0, where the gradient is taken as 0
    r = h.relu()
    loss = (r * 3.0).sum()
    assert h.data.flags.writeable and not r.data.flags.writeable  # h can be freed after forward
    loss.backward()
    np.testing.assert_allclose(w.grad.data, [[0.0, 0.0], [0.0, 0.0]])
    x2 = leaf([[1.0, 2.0]])
    ((x2 @ w).relu() * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad.data, [[3.0, 3.0], [6.0, 6.0]])


def test_a_node_that_holds_nothing_has_nothing_to_let_go():
    from tinygrad_edu.guards import inplace

    held_elsewhere = len(inplace._holders)  # by graphs other tests may not have dropped yet
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = a + b  # Add saves nothing
    assert y.grad_fn.saved == () and len(inplace._holders) == held_elsewhere
    z = a * b
    assert len(z.grad_fn.held) == 2 and len(inplace._holders) == held_elsewhere + 2
    del z  # dropped without a backward: its holder list lets go
    assert len(inplace._holders) == held_elsewhere and a.data.flags.writeable


# ----------------------------------------------------------------------------- who owns each .grad


def test_leaf_grad_accumulates_in_place_across_backward_calls():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a * b).sum().backward()
    grad, array = a.grad, a.grad.data
    (a * b).sum().backward()
    assert a.grad is grad and a.grad.data is array  # no new array: added in place
    np.testing.assert_allclose(a.grad.data, [6.0, 8.0])
    assert a.grad._version == 1


def test_same_upstream_array_is_given_to_only_one_leaf():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # Add hands the very same array to both inputs
    assert not np.shares_memory(a.grad.data, b.grad.data)
    (a + b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [2.0, 2.0])
    np.testing.assert_allclose(b.grad.data, [2.0, 2.0])


def test_callers_gradient_array_is_never_adopted():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = np.array([1.0, 10.0])
    (a + b).backward(gradient=seed)
    (a + b).backward(gradient=seed)
    np.testing.assert_allclose(seed, [1.0, 10.0])
    np.testing.assert_allclose(a.grad.data, [2.0, 20.0])
    a.backward(gradient=seed)  # a leaf as the root
    assert not np.shares_memory(a.grad.data, seed)


def test_gradient_returned_by_a_hook_is_never_adopted():
    a = leaf([1.0, 2.0])
    kept = tg.Tensor(np.array([5.0, 5.0]))
    a.register_hook(lambda g: kept)
    (a * 2).sum().backward()
    (a * 2).sum().backward()
    np.testing.assert_allclose(kept.data, [5.0, 5.0])
    np.testing.assert_allclose(a.grad.data, [10.0, 10.0])


def test_backward_returning_a_saved_array_does_not_alias_it():
    class Scale(tg.Function):
        """out = x * c;  dx = g * c   (c, an ndarray, is returned as is when g is one)"""

        def forward(self, x, c):
            self.save(c)
            return x * c

        def backward(self, g, c):
            return (c if np.all(g == 1) else g * c), None

    x = leaf([1.0, 2.0])
    c = np.array([3.0, 4.0])
    Scale.apply(x, c).backward(gradient=np.ones(2))
    Scale.apply(x, c).backward(gradient=np.ones(2))
    np.testing.assert_allclose(c, [3.0, 4.0])  # not the .grad accumulated into
    np.testing.assert_allclose(x.grad.data, [6.0, 8.0])


def test_grad_saved_by_a_graph_is_replaced_not_written():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    g = w.grad
    penalty = (g * w).sum()  # records a graph that saved w.grad's array
    saved = g.data
    (w * 3).sum().backward()
    assert w.grad is not g and g.data is saved
    np.testing.assert_allclose(saved, [2.0, 4.0])
    np.testing.assert_allclose(w.grad.data, [5.0, 7.0])
    penalty.backward()  # the older graph is intact


def test_differentiable_grad_from_create_graph_is_not_written_in_place():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    (x * 3).sum().backward()
    np.testing.assert_allclose(first.data, [2.0, 4.0])
    np.testing.assert_allclose(x.grad.data, [5.0, 7.0])


def test_float32_stays_float32_through_backward():
    x = tg.Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    w = tg.Tensor(np.full((4, 2), 0.5, np.float32), requires_grad=True)
    b = tg.Tensor(np.zeros(2, np.float32), requires_grad=True)
    loss = ((x @ w + b).relu() * 2.0 - np.float64(1.0)).exp().mean()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
