"""Every common mistake gets a clear error: the right type, naming the op or argument and the shapes or values."""
import numpy as np
import pytest

import tinygrad_edu as tg


def leaf(shape, dtype=np.float64):
    return tg.Tensor(np.ones(shape, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("x_shape, y_shape, inner", [
    ((2, 3), (4, 2), "3 and 4"),
    ((2, 3), (4,), "3 and 4"),
    ((5,), (3, 2), "5 and 3"),
    ((7, 2, 3), (5, 3, 2), None),  # inner dimensions fit, batch dimensions 7 and 5 do not
])
def test_matmul_mismatch_names_both_shapes(x_shape, y_shape, inner):
    with pytest.raises(tg.ShapeError) as info:
        leaf(x_shape) @ leaf(y_shape)
    message = str(info.value)
    assert message.startswith("matmul:") and str(x_shape) in message and str(y_shape) in message
    if inner:
        assert f"inner dimensions {inner}" in message


def test_matmul_of_a_scalar():
    with pytest.raises(tg.ShapeError, match=r"matmul: operands must be at least 1-D, got shapes \(2, 3\) and \(\)"):
        leaf((2, 3)) @ tg.Tensor(2.0)


@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "Add"), (lambda a, b: a - b, "Sub"), (lambda a, b: a * b, "Mul"),
    (lambda a, b: a / b, "Div"), (lambda a, b: a ** b, "Pow"), (tg.maximum, "Maximum"),
    (lambda a, b: tg.where(np.ones((2, 3), bool), a, b), "Where"),
])
def test_broadcast_mismatch_names_op_and_shapes(op, name):
    with pytest.raises(tg.ShapeError, match=rf"^{name}: .*\(2, 3\), .*\(4, 2\)"):
        op(leaf((2, 3)), leaf((4, 2)))


def test_shape_error_is_a_value_error():
    assert issubclass(tg.ShapeError, ValueError)


@pytest.mark.parametrize("call, match", [
    (lambda a: a.reshape(4, 2), r"reshape: cannot reshape a tensor of shape \(2, 3\) into \(4, 2\)"),
    (lambda a: a.sum(axis=2), r"sum: axis 2 is out of range for a tensor with 2 dimension"),
    (lambda a: a.mean(axis=(0, 0)), r"mean: repeated axis"),
    (lambda a: a.softmax(axis=3), r"softmax: axis 3 is out of range"),
    (lambda a: a.log_softmax(axis=-3), r"log_softmax: axis -3 is out of range"),
    (lambda a: a.transpose(0, 0), r"transpose: axes \(0, 0\) do not fit a tensor of shape \(2, 3\)"),
    (lambda a: a.broadcast_to((5, 3)), r"broadcast_to: cannot broadcast shape \(2, 3\) to \(5, 3\)"),
    (lambda a: a.squeeze(0), r"squeeze: .* \(tensor of shape \(2, 3\), axis 0\)"),
    (lambda a: a.expand_dims(5), r"expand_dims: .* \(tensor of shape \(2, 3\), axis 5\)"),
    (lambda a: tg.concatenate([a, leaf((4, 2))]), r"concatenate: shapes \(2, 3\), \(4, 2\) differ outside axis 0"),
    (lambda a: tg.stack([a, leaf((4, 2))]), r"stack: all tensors must have the same shape"),
    (lambda a: (a * 2).backward(gradient=np.ones(3)),
     r"backward: gradient has shape \(3,\) but the output has shape \(2, 3\)"),
    (lambda a: tg.Tensor(np.ones(3)).copy_(np.ones(4)), r"copy_: cannot copy shape \(4,\) into a tensor of shape \(3,\)"),
])
def test_shape_and_axis_errors(call, match):
    with pytest.raises(tg.ShapeError, match=match):
        call(leaf((2, 3)))


def test_index_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"index 5 is out of bounds.*\(tensor of shape \(2, 3\)\)"):
        leaf((2, 3))[5]


def test_max_of_empty_tensor():
    with pytest.raises(tg.ShapeError, match=r"max: cannot reduce an empty tensor of shape \(0,\)"):
        tg.Tensor(np.ones(0)).max()


# ---------------------------------------------------------------------------- backward


def test_backward_on_non_scalar_without_gradient():
    with pytest.raises(RuntimeError, match=r"backward: the output has shape \(2, 3\), not a single number; pass gradient="):
        (leaf((2, 3)) * 2).backward()


def test_backward_twice_without_retain_graph():
    x = leaf((2, 3))
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"graph through (Mul|Sum) \(output shape .*\) was already used.*retain_graph="):
        loss.backward()


def test_tg_grad_twice_without_retain_graph():
    x = leaf(3)
    loss = (x * x).sum()
    tg.grad(loss, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        tg.grad(loss, x)


def test_backward_without_a_graph():
    with pytest.raises(RuntimeError, match=r"backward: this tensor \(shape \(1,\)\) does not require grad"):
        tg.Tensor([1.0]).backward()


@pytest.mark.parametrize("make", [
    lambda: tg.Tensor([1, 2], dtype=np.int32, requires_grad=True),
    lambda: tg.Tensor(np.array([1, 2]), requires_grad=True),
    lambda: tg.Tensor(np.array([True]), requires_grad=True),
    lambda: tg.arange(3, requires_grad=True),
    lambda: tg.Tensor(np.array([1, 2], np.uint8)).requires_grad_(),
], ids=["int32", "int64", "bool", "arange", "requires_grad_"])
def test_requires_grad_on_integer_data(make):
    with pytest.raises(TypeError, match=r"requires_grad=True needs floating data, got dtype (int32|int64|bool|uint8)"):
        make()


def test_grad_of_an_input_not_in_the_graph():
    x, unused = leaf(2), leaf((4, 2))
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(4, 2\)\) was not used.*allow_unused=True"):
        tg.grad((x * 2).sum(), [x, unused])
    gx, gu = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.data.tolist() == [2.0, 2.0]


def test_grad_of_an_input_that_does_not_require_grad():
    x = leaf(2)
    with pytest.raises(RuntimeError, match="grad: input 1 does not require grad"):
        tg.grad((x * 2).sum(), [x, tg.Tensor([1.0, 2.0])])


def test_grad_of_an_output_without_graph():
    with pytest.raises(RuntimeError, match=r"grad: output 0 \(shape \(\)\) does not require grad"):
        tg.grad(tg.Tensor(1.0), leaf(1))


def test_grad_outputs_count_mismatch():
    x = leaf(2)
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        tg.grad(x * 2, x, grad_outputs=[np.ones(2), np.ones(2)])


def test_hook_returning_wrong_shape():
    x = leaf(3)
    y = x * 2
    y.register_hook(lambda g: np.ones(5))
    with pytest.raises(RuntimeError, match=r"register_hook: .* gradient of shape \(5,\) for a tensor of shape \(3,\)"):
        y.sum().backward()


# ---------------------------------------------------------------------------- construction and protocol


def test_ragged_data():
    with pytest.raises(ValueError, match="Tensor: cannot make an array from list data: .*inhomogeneous"):
        tg.Tensor([[1.0, 2.0], [3.0]])


def test_non_numeric_data_and_operands():
    with pytest.raises(TypeError, match="Tensor: unsupported data of dtype <U3"):
        tg.Tensor("abc")
    with pytest.raises(TypeError, match="unsupported operand of dtype <U1"):
        leaf(2) + "x"


def test_item_of_many_elements():
    with pytest.raises(ValueError, match=r"item: only a tensor with one element .* got shape \(2, 3\)"):
        leaf((2, 3)).item()


def test_inplace_on_a_leaf_in_grad_mode():
    with pytest.raises(RuntimeError, match=r"sub_: cannot change a tensor that requires grad in place .*no_grad"):
        leaf(2).sub_(1.0)
    with pytest.raises(RuntimeError, match=r"__setitem__: cannot change a tensor that requires grad"):
        leaf(2)[0] = 1.0


def test_requires_grad_false_on_a_non_leaf():
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (leaf(2) * 2).requires_grad_(False)


def test_seed_and_default_dtype_arguments():
    with pytest.raises(ValueError, match="manual_seed: seed must be a non-negative integer, got -1"):
        tg.manual_seed(-1)
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype, got int32"):
        tg.set_default_dtype(np.int32)
