"""Convolution and pooling: forward and gradients against direct loop implementations, gradcheck and
gradgradcheck over a grid of shapes, strides and paddings, the im2col primitives, errors and modules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.engine import ops
from tinygrad_edu.nn.conv import avg_pool2d, conv2d, im2col, max_pool2d
from tinygrad_edu.testing import check_op
from tinygrad_edu.tools.opspec import OpSpec, draw_values

# ----------------------------------------------------------------------------- loop references
# One output pixel at a time, straight from the definitions: slow, obviously right.


def _out_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


def _windows(shape, kernel, stride, padding):
    """(i, j, rows, cols) for every output pixel, as slices of the padded input."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    for i in range(_out_size(shape[2], kh, sh, ph)):
        for j in range(_out_size(shape[3], kw, sw, pw)):
            yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)


def _pad(x, padding, value=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _crop(xp, padding, shape):
    ph, pw = padding
    return xp[:, :, ph:ph + shape[2], pw:pw + shape[3]]


def conv2d_loops(x, w, b, stride, padding):
    xp = _pad(x, padding)
    cases = list(_windows(x.shape, w.shape[2:], stride, padding))
    out = np.zeros((x.shape[0], w.shape[0], cases[-1][0] + 1, cases[-1][1] + 1))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for i, j, rows, cols in cases:
                out[n, o, i, j] = np.sum(xp[n, :, rows, cols] * w[o]) + (0.0 if b is None else b[o])
    return out


def conv2d_loop_grads(x, w, g, stride, padding):
    """(dx, dw, db) of sum(g * conv2d(x, w, b)), accumulated pixel by pixel."""
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            for i, j, rows, cols in _windows(x.shape, w.shape[2:], stride, padding):
                dw[o] += g[n, o, i, j] * xp[n, :, rows, cols]
                dxp[n, :, rows, cols] += g[n, o, i, j] * w[o]
    return _crop(dxp, padding, x.shape), dw, g.sum(axis=(0, 2, 3))


def pool_loops(x, kernel, stride, padding, reduce, pad_value):
    xp = _pad(x, padding, pad_value)
    cases = list(_windows(x.shape, kernel, stride, padding))
    out = np.zeros(x.shape[:2] + (cases[-1][0] + 1, cases[-1][1] + 1))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, j, rows, cols in cases:
                out[n, c, i, j] = reduce(xp[n, c, rows, cols])
    return out


def max_pool_loops(x, kernel, stride, padding):
    return pool_loops(x, kernel, stride, padding, np.max, -np.inf)


def avg_pool_loops(x, kernel, stride, padding):
    return pool_loops(x, kernel, stride, padding, np.mean, 0.0)


def max_pool_loop_grad(x, g, kernel, stride, padding):
    """Each window's upstream gradient goes to the position of its maximum."""
    xp = _pad(x, padding, -np.inf)
    dxp = np.zeros_like(xp)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, j, rows, cols in _windows(x.shape, kernel, stride, padding):
                window = xp[n, c, rows, cols]
                p, q = np.unravel_index(np.argmax(window), window.shape)
                dxp[n, c, rows.start + p, cols.start + q] += g[n, c, i, j]
    return _crop(dxp, padding, x.shape)


def avg_pool_loop_grad(x, g, kernel, stride, padding):
    """Each window's upstream gradient spread evenly over its kh*kw positions (padding included)."""
    dxp = np.zeros_like(_pad(x, padding))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, j, rows, cols in _windows(x.shape, kernel, stride, padding):
                dxp[n, c, rows, cols] += g[n, c, i, j] / (kernel[0] * kernel[1])
    return _crop(dxp, padding, x.shape)


def test_loop_reference_on_a_hand_computed_case():
    """The references themselves, on numbers small enough to check by eye."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    # each output is x[i, j] - x[i+1, j+1] = -4
    np.testing.assert_array_equal(conv2d_loops(x, w, np.array([0.5]), (1, 1), (0, 0)), np.full((1, 1, 2, 2), -3.5))
    np.testing.assert_array_equal(max_pool_loops(x, (2, 2), (1, 1), (0, 0))[0, 0], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(avg_pool_loops(x, (3, 3), (1, 1), (1, 1))[0, 0, 0, 0], (0 + 1 + 3 + 4) / 9)


# ----------------------------------------------------------------------------- drawn configurations


@st.composite
def conv_cases(draw, max_side=6, max_padding=2, max_batch=2):
    """(x, w, b, stride, padding): kernels 1..3, strides 1..3, paddings 0..max_padding, H and W that fit."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, max_padding)), draw(st.integers(0, max_padding)))
    height = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_side))
    width = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_side))
    n, c, o = draw(st.integers(1, max_batch)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-2, 2, (n, c, height, width))
    w = rng.uniform(-1, 1, (o, c) + kernel)
    b = rng.uniform(-1, 1, o)
    return x, w, b, stride, padding


@st.composite
def pool_cases(draw, max_side=6):
    """(x, kernel, stride, padding) with all values distinct (so max pooling is differentiable)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_side))
    width = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_side))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), height, width)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = draw_values(OpSpec("pool", None, None, distinct=True), shape, rng)
    return x, kernel, stride, padding


def _graph_grads(fn, arrays, g):
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(g)
    return out.data, [t.grad.data for t in inputs]


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv2d_matches_loops(case, seed):
    x, w, b, stride, padding = case
    expected = conv2d_loops(x, w, b, stride, padding)
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx, dw, db) = _graph_grads(lambda x_, w_, b_: conv2d(x_, w_, b_, stride, padding), (x, w, b), g)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip((dx, dw, db), conv2d_loop_grads(x, w, g, stride, padding)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_max_pool2d_matches_loops(case, seed):
    x, kernel, stride, padding = case
    expected = max_pool_loops(x, kernel, stride, padding)
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx,) = _graph_grads(lambda t: max_pool2d(t, kernel, stride, padding), (x,), g)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(dx, max_pool_loop_grad(x, g, kernel, stride, padding), rtol=1e-12, atol=1e-12)


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_avg_pool2d_matches_loops(case, seed):
    x, kernel, stride, padding = case
    expected = avg_pool_loops(x, kernel, stride, padding)
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx,) = _graph_grads(lambda t: avg_pool2d(t, kernel, stride, padding), (x,), g)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, avg_pool_loop_grad(x, g, kernel, stride, padding), rtol=1e-12, atol=1e-12)


# Finite differences: first derivatives over the full grid; second derivatives (the graph of the
# backward pass: Col2Im, and Im2Col again) over a smaller one, as each case costs thousands of sweeps.


@given(conv_cases())
def test_conv2d_gradcheck(case):
    x, w, b, stride, padding = case
    check_op(lambda x_, w_, b_: conv2d(x_, w_, b_, stride, padding), x, w, b,
             np_fn=lambda x_, w_, b_: conv2d_loops(x_, w_, b_, stride, padding), second_order=False)


@settings(max_examples=10)
@given(conv_cases(max_side=4, max_padding=1, max_batch=1))
def test_conv2d_gradgradcheck(case):
    x, w, b, stride, padding = case
    check_op(lambda x_, w_, b_: conv2d(x_, w_, b_, stride, padding), x, w, b, second_order=True)


@given(pool_cases())
def test_pools_gradcheck_and_gradgradcheck(case):
    x, kernel, stride, padding = case
    check_op(lambda t: max_pool2d(t, kernel, stride, padding), x,
             np_fn=lambda a: max_pool_loops(a, kernel, stride, padding))
    check_op(lambda t: avg_pool2d(t, kernel, stride, padding), x,
             np_fn=lambda a: avg_pool_loops(a, kernel, stride, padding))


def test_conv_stack_second_derivatives():
    """Conv, relu, max pool, conv: the layers a CNN stacks, differentiated twice together."""
    rng = np.random.default_rng(3)
    x = draw_values(OpSpec("x", None, None, distinct=True, min_abs=0.05), (1, 1, 5, 5), rng)
    w1, w2 = rng.uniform(-1, 1, (2, 1, 2, 2)), rng.uniform(-1, 1, (1, 2, 2, 2))

    def net(x_, w1_, w2_):
        return conv2d(max_pool2d(conv2d(x_, w1_, padding=1).tanh(), 2, stride=1), w2_, stride=2)

    check_op(net, x, w1, w2, second_order=True)


# ----------------------------------------------------------------------------- the primitives


def test_im2col_layout():
    """out[n, :, :, :, i, j] is the (C, kh, kw) patch at output pixel (i, j)."""
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 6))
    cols = im2col(tg.Tensor(x), (2, 3), stride=(2, 1)).data
    assert cols.shape == (2, 3, 2, 3, 2, 4)
    for i in range(2):
        for j in range(4):
            np.testing.assert_array_equal(cols[..., i, j], x[:, :, 2 * i:2 * i + 2, j:j + 3])


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    """<im2col(x), c> == <x, col2im(c)>: Col2Im is exactly Im2Col's transpose."""
    x, kernel, stride, _ = case
    x = x if x.shape[2] >= kernel[0] and x.shape[3] >= kernel[1] else np.ones((1, 1) + kernel)
    cols = ops._im2col(x, kernel, stride)
    c = np.random.default_rng(seed).normal(size=cols.shape)
    back = ops._col2im(c, x.shape, kernel, stride)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)


def test_im2col_and_col2im_differentiate_to_any_order():
    rng = np.random.default_rng(1)
    check_op(lambda t: im2col(t, (2, 2), stride=1), rng.normal(size=(1, 2, 3, 3)))
    check_op(lambda t: ops.Col2Im.apply(t, shape=(1, 2, 4, 3), kernel_size=(2, 2), stride=(2, 1)),
             rng.normal(size=(1, 2, 2, 2, 2, 2)))


@pytest.mark.parametrize("fn, shape", [
    (lambda t: im2col(t, (2, 3), stride=(1, 2)), (2, 2, 4, 5)),
    (lambda t: ops.Col2Im.apply(t, shape=(1, 2, 4, 3), kernel_size=(2, 2), stride=(2, 1)), (1, 2, 2, 2, 2, 2)),
    (lambda t: t.pad(((0, 1), (2, 0), (1, 1))), (2, 3, 1)),
    (lambda t: conv2d(t, t[:, :2] * 0.5, stride=2, padding=1), (3, 2, 5, 4)),
])
def test_recorded_backward_gives_the_same_numbers(fn, shape):
    """Each backward runs twice over: on ndarrays, and recorded on Tensors (create_graph=True).

    gradgradcheck differentiates the recorded version but never compares its values with
    the ndarray version's, so this does.
    """
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.normal(size=shape), requires_grad=True)
    out = fn(x)
    v = rng.normal(size=out.shape)
    (plain,) = tg.grad(out, x, v, retain_graph=True)
    (recorded,) = tg.grad(out, x, tg.Tensor(v, requires_grad=True), create_graph=True)
    assert recorded.requires_grad
    np.testing.assert_allclose(recorded.data, plain.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    x = tg.Tensor(np.ones((2, 1, 6, 6), dtype=dtype), requires_grad=True)
    w = tg.Tensor(np.ones((3, 1, 3, 3), dtype=dtype), requires_grad=True)
    b = tg.Tensor(np.zeros(3, dtype=dtype), requires_grad=True)
    out = avg_pool2d(max_pool2d(conv2d(x, w, b, padding=1), 2, padding=1), 2)
    assert out.dtype == dtype
    out.sum().backward()
    assert {x.grad.dtype, w.grad.dtype, b.grad.dtype} == {np.dtype(dtype)}


def test_conv2d_accepts_an_array_input_in_the_weight_dtype():
    w = tg.Tensor(np.ones((1, 1, 2, 2), dtype=np.float32))
    out = conv2d(np.ones((1, 1, 3, 3)), w)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.full((1, 1, 2, 2), 4.0))


def test_pad_forms_and_errors():
    x = tg.Tensor(np.ones((2, 3)))
    assert x.pad(1).shape == (4, 5)
    assert x.pad((1, 2)).shape == (5, 6)
    assert x.pad(((0, 0), (3, 1))).shape == (2, 7)
    np.testing.assert_array_equal(x.pad(((0, 0), (1, 0)), value=-np.inf).data[:, 0], [-np.inf, -np.inf])
    assert tg.Tensor(3.0).pad(2).shape == ()
    with pytest.raises(tg.ShapeError, match="pad_width"):
        x.pad(((1, 1), (1, 1), (1, 1)))
    assert x.pad(-1).shape == (0, 1)  # a negative width crops, as PyTorch's F.pad
    with pytest.raises(tg.ShapeError, match="crops more than the 2 elements of axis 0"):
        x.pad(-2)
    with pytest.raises(ValueError, match="integers"):
        x.pad(0.5)


# ----------------------------------------------------------------------------- errors


def test_kernel_larger_than_padded_input_is_refused():
    x = tg.Tensor(np.ones((1, 1, 2, 2)))
    with pytest.raises(tg.ShapeError, match=r"conv2d: kernel 3x3 is larger than the padded input 2x2"):
        conv2d(x, tg.Tensor(np.ones((1, 1, 3, 3))))
    assert conv2d(x, tg.Tensor(np.ones((1, 1, 3, 3))), padding=1).shape == (1, 1, 2, 2)
    with pytest.raises(tg.ShapeError, match=r"max_pool2d: kernel 3x3 is larger than the padded input 2x2"):
        max_pool2d(x, 3)
    with pytest.raises(tg.ShapeError, match=r"Conv2d\(1, 2, kernel_size=\(3, 3\).*larger than the padded input"):
        nn.Conv2d(1, 2, 3)(x)
    with pytest.raises(tg.ShapeError, match="im2col: kernel 3x3 is larger"):
        im2col(x, 3)


def test_wrong_input_shapes_are_named():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(tg.ShapeError, match=r"Conv2d\(3, 4.*expected 3 input channel\(s\).*\(2, 1, 8, 8\)"):
        conv(tg.Tensor(np.ones((2, 1, 8, 8))))
    with pytest.raises(tg.ShapeError, match=r"Conv2d\(3, 4.*\(N, C, H, W\), got shape \(3, 8, 8\)"):
        conv(tg.Tensor(np.ones((3, 8, 8))))
    with pytest.raises(tg.ShapeError, match="max_pool2d.*got shape"):
        nn.MaxPool2d(2)(tg.Tensor(np.ones((8, 8))))
    with pytest.raises(tg.ShapeError, match="bias must have shape"):
        conv2d(tg.Tensor(np.ones((1, 3, 4, 4))), conv.weight, tg.Tensor(np.ones(3)))
    with pytest.raises(tg.ShapeError, match="weight must have shape"):
        conv2d(tg.Tensor(np.ones((1, 3, 4, 4))), tg.Tensor(np.ones((3, 3))))


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        nn.Conv2d(1, 1, (2, 2, 2))
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        nn.Conv2d(1, 1, 2, stride=1.5)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        nn.Conv2d(1, 1, 2, stride=0)
    with pytest.raises(ValueError, match="padding must be at least 0"):
        nn.Conv2d(1, 1, 2, padding=-1)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        nn.Conv2d(1, 0, 2)
    with pytest.raises(ValueError, match="padding .* at most half the kernel"):
        max_pool2d(tg.Tensor(np.ones((1, 1, 4, 4))), 2, padding=2)


# ----------------------------------------------------------------------------- modules


def test_conv2d_module_parameters_and_repr():
    conv = nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2))
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32 and conv.weight.requires_grad
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2))"
    assert repr(nn.Conv2d(1, 2, 3, bias=False)) == "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), bias=False)"
    out = conv(tg.Tensor(np.ones((4, 3, 9, 10), dtype=np.float32)))
    assert out.shape == (4, 8, 5, 5)  # (9 + 2 - 3)//2 + 1, (10 + 4 - 5)//2 + 1


def test_conv2d_without_bias_has_only_a_weight():
    conv = nn.Conv2d(1, 2, 3, bias=False)
    assert conv.bias is None and conv.parameters() == [conv.weight]
    x = np.random.default_rng(0).normal(size=(1, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(conv(tg.Tensor(x)).data, conv2d_loops(x, conv.weight.data, None, (1, 1), (0, 0)),
                               rtol=1e-5, atol=1e-5)


def test_conv2d_init_is_seeded_he_normal():
    tg.manual_seed(7)
    first = nn.Conv2d(16, 32, 3).weight.data
    tg.manual_seed(7)
    np.testing.assert_array_equal(first, nn.Conv2d(16, 32, 3).weight.data)
    fan_in = 16 * 3 * 3
    assert abs(first.std() - np.sqrt(2 / fan_in)) < 0.05 * np.sqrt(2 / fan_in)  # 4,608 draws: about 1% spread
    assert abs(first.mean()) < 0.01


def test_pool_and_flatten_modules():
    x = tg.Tensor(np.arange(32.0).reshape(1, 2, 4, 4))
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.AvgPool2d(3, stride=1, padding=1)) == "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data[0, 1], [[18.5, 20.5], [26.5, 28.5]])
    assert nn.Flatten()(x).shape == (1, 32)
    assert nn.Flatten(0, 1)(x).shape == (2, 4, 4)
    assert nn.Flatten(-2)(x).shape == (1, 2, 16)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    with pytest.raises(tg.ShapeError, match="cannot flatten dims 4"):
        nn.Flatten(4)(x)


def test_a_small_cnn_learns_to_separate_two_patterns():
    """Vertical vs horizontal bars: a few plain gradient steps through conv, pool and flatten suffice."""
    rng = np.random.default_rng(0)
    images = np.zeros((20, 1, 6, 6), dtype=np.float32)
    labels = np.arange(20) % 2
    for k, position in enumerate(rng.integers(1, 5, 20)):
        if labels[k]:
            images[k, 0, :, position] = 1.0
        else:
            images[k, 0, position, :] = 1.0
    conv, pool, flat = nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten()
    head = tg.Tensor(rng.normal(size=(36, 2)).astype(np.float32) * 0.1, requires_grad=True)
    params = conv.parameters() + [head]

    def loss_fn():
        logits = flat(pool(conv(tg.Tensor(images)).relu())) @ head
        return -logits.log_softmax(axis=-1)[np.arange(20), labels].mean(), logits

    first, _ = loss_fn()
    for _ in range(60):
        loss, _ = loss_fn()
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=0.5)
    loss, logits = loss_fn()
    assert loss.item() < 0.1 * first.item()
    assert (logits.data.argmax(axis=1) == labels).all()
