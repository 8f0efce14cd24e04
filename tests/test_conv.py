"""Convolution and pooling: forward and gradients against direct loop implementations, gradcheck and
gradgradcheck over a grid of shapes, strides and paddings, the im2col primitives, errors and modules."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.engine import ops
from tinygrad_edu.nn.conv import avg_pool1d, avg_pool2d, conv1d, conv2d, im2col, max_pool1d, max_pool2d
from tinygrad_edu.testing import check_op
from tinygrad_edu.tools.opspec import OpSpec, draw_values

# ----------------------------------------------------------------------------- loop references
# One output pixel at a time, straight from the definitions (PyTorch's, for the pools): slow, obviously right.
# ``pads`` are ((top, bottom), (left, right)); a symmetric (ph, pw) padding is ((ph, ph), (pw, pw)).


def _pairs(padding):
    return tuple(p if isinstance(p, tuple) else (p, p) for p in padding)


def _out_size(size, kernel, stride, before, after, dilation=1):
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def _windows(shape, kernel, stride, pads, dilation=(1, 1)):
    """(i, j, rows, cols) for every output pixel, as (strided) slices of the padded input."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (top, bottom), (left, right) = _pairs(pads)
    for i in range(_out_size(shape[2], kh, sh, top, bottom, dh)):
        for j in range(_out_size(shape[3], kw, sw, left, right, dw)):
            yield i, j, slice(i * sh, i * sh + dh * (kh - 1) + 1, dh), slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)


def _pad(x, pads, value=0.0):
    return np.pad(x, ((0, 0), (0, 0)) + _pairs(pads), constant_values=value)


def _crop(xp, pads, shape):
    (top, _), (left, _) = _pairs(pads)
    return xp[:, :, top:top + shape[2], left:left + shape[3]]


def _group_of(o, out_channels, in_channels, groups):
    """The input channels output channel ``o`` reads."""
    per = in_channels // groups
    g = o // (out_channels // groups)
    return slice(g * per, (g + 1) * per)


def conv2d_loops(x, w, b, stride, padding, dilation=(1, 1), groups=1):
    xp = _pad(x, padding)
    cases = list(_windows(x.shape, w.shape[2:], stride, padding, dilation))
    out = np.zeros((x.shape[0], w.shape[0], cases[-1][0] + 1, cases[-1][1] + 1))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            channels = _group_of(o, w.shape[0], x.shape[1], groups)
            for i, j, rows, cols in cases:
                out[n, o, i, j] = np.sum(xp[n, channels, rows, cols] * w[o]) + (0.0 if b is None else b[o])
    return out


def conv2d_loop_grads(x, w, g, stride, padding, dilation=(1, 1), groups=1):
    """(dx, dw, db) of sum(g * conv2d(x, w, b)), accumulated pixel by pixel."""
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            channels = _group_of(o, w.shape[0], x.shape[1], groups)
            for i, j, rows, cols in _windows(x.shape, w.shape[2:], stride, padding, dilation):
                dw[o] += g[n, o, i, j] * xp[n, channels, rows, cols]
                dxp[n, channels, rows, cols] += g[n, o, i, j] * w[o]
    return _crop(dxp, padding, x.shape), dw, g.sum(axis=(0, 2, 3))


def _pool_out(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling_output_shape."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def max_pool_loops(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False, grad=None):
    """PyTorch's max pooling, window by window; with ``grad``, returns dx instead (to each window's first maximum)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    height, width = x.shape[2:]
    out_h = _pool_out(height, kh, sh, ph, dh, ceil_mode)
    out_w = _pool_out(width, kw, sw, pw, dw, ceil_mode)
    out, dx = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype), np.zeros(x.shape)
    for n, c, i, j in np.ndindex(out.shape):
        rows = [r for r in range(i * sh - ph, i * sh - ph + dh * (kh - 1) + 1, dh) if 0 <= r < height]
        cols = [q for q in range(j * sw - pw, j * sw - pw + dw * (kw - 1) + 1, dw) if 0 <= q < width]
        if not rows or not cols:  # a window of padding only: -inf, as in PyTorch
            out[n, c, i, j] = -np.inf
            continue
        window = x[n, c][np.ix_(rows, cols)]
        out[n, c, i, j] = window.max()
        if grad is not None:
            p, q = np.unravel_index(np.argmax(window), window.shape)
            dx[n, c, rows[p], cols[q]] += grad[n, c, i, j]
    return out if grad is None else dx


def avg_pool_loops(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None,
                   grad=None):
    """PyTorch's average pooling, window by window; with ``grad``, returns dx instead."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    height, width = x.shape[2:]
    out_h = _pool_out(height, kh, sh, ph, 1, ceil_mode)
    out_w = _pool_out(width, kw, sw, pw, 1, ceil_mode)
    out, dx = np.zeros(x.shape[:2] + (out_h, out_w)), np.zeros(x.shape)
    for n, c, i, j in np.ndindex(out.shape):
        top, left = i * sh - ph, j * sw - pw
        bottom, right = min(top + kh, height + ph), min(left + kw, width + pw)
        pool_size = (bottom - top) * (right - left)
        top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, height), min(right, width)
        divisor = divisor_override or (pool_size if count_include_pad else (bottom - top) * (right - left))
        out[n, c, i, j] = x[n, c, top:bottom, left:right].sum() / divisor
        if grad is not None:
            dx[n, c, top:bottom, left:right] += grad[n, c, i, j] / divisor
    return out if grad is None else dx


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
def conv_cases(draw, max_side=6, max_padding=2, max_batch=2, max_groups=2):
    """(x, w, b, options, pads): kernels 1..3, dilations 1..2, groups, and padding the same on both sides,
    different on each side, or "same" (then stride 1, else strides 1..3); H and W the dilated kernel fits.

    ``options`` are conv2d's keyword arguments; ``pads`` the ((top, bottom), (left, right)) they mean.
    """
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    groups = draw(st.integers(1, max_groups))
    form = draw(st.sampled_from(["symmetric", "asymmetric", "same"]))
    if form == "same":  # d*(k - 1) cells in all, the odd one after (PyTorch's rule)
        stride, padding = (1, 1), "same"
        pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        sides = [draw(st.integers(0, max_padding)) for _ in range(4)]
        if form == "symmetric":
            padding = (sides[0], sides[2])
            pads = ((sides[0], sides[0]), (sides[2], sides[2]))
        else:
            padding = pads = ((sides[0], sides[1]), (sides[2], sides[3]))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    height = draw(st.integers(max(1, spans[0] - sum(pads[0])), max(max_side, spans[0])))
    width = draw(st.integers(max(1, spans[1] - sum(pads[1])), max(max_side, spans[1])))
    n, c, o = draw(st.integers(1, max_batch)), groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-2, 2, (n, c, height, width))
    w = rng.uniform(-1, 1, (o, c // groups) + kernel)
    b = rng.uniform(-1, 1, o)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups), pads


@st.composite
def pool_cases(draw, max_side=6):
    """(x, options) with all values distinct (so max pooling is differentiable): kernels 1..3, strides 1..3,
    paddings up to half the kernel, dilations 1..2 (max pooling only), ceil_mode, count_include_pad."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    height = draw(st.integers(max(1, spans[0] - 2 * padding[0]), max(max_side, spans[0])))
    width = draw(st.integers(max(1, spans[1] - 2 * padding[1]), max(max_side, spans[1])))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), height, width)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = draw_values(OpSpec("pool", None, None, distinct=True), shape, rng)
    options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    # every window holds an input cell (a dilated one can fall on padding only: -inf, with no derivative)
    for size, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation):
        out = _pool_out(size, k, s, p, d, options["ceil_mode"])
        assume(all(any(0 <= i * s - p + t * d < size for t in range(k)) for i in range(out)))
    return x, options, dilation, draw(st.booleans())


def _max_options(options, dilation):
    return dict(options, dilation=dilation)


def _avg_options(options, count_include_pad):
    return dict(options, count_include_pad=count_include_pad)


def _max_loops(x, options, dilation, grad=None):
    o = options
    return max_pool_loops(x, o["kernel_size"], o["stride"], o["padding"], dilation, o["ceil_mode"], grad=grad)


def _avg_loops(x, options, count_include_pad, grad=None):
    o = options
    return avg_pool_loops(x, o["kernel_size"], o["stride"], o["padding"], o["ceil_mode"], count_include_pad, grad=grad)


def _graph_grads(fn, arrays, g):
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(g)
    return out.data, [t.grad.data for t in inputs]


def _conv_ref_args(options, pads):
    return options["stride"], pads, options["dilation"], options["groups"]


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv2d_matches_loops(case, seed):
    x, w, b, options, pads = case
    expected = conv2d_loops(x, w, b, *_conv_ref_args(options, pads))
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx, dw, db) = _graph_grads(lambda x_, w_, b_: conv2d(x_, w_, b_, **options), (x, w, b), g)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip((dx, dw, db), conv2d_loop_grads(x, w, g, *_conv_ref_args(options, pads))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv1d_is_conv2d_on_images_of_height_1(case, seed):
    x, w, b, options, pads = case
    x, w = x[:, :, :1], w[:, :, :1]  # height 1, kernel height 1: no padding, stride or dilation along it
    options = {k: v if k == "groups" or v == "same" else (v[1],) if k == "padding" and isinstance(v[1], tuple)
               else v[1] for k, v in options.items()}
    expected = conv2d_loops(x, w, b, (1, options["stride"]), ((0, 0), pads[1]), (1, options["dilation"]),
                            options["groups"])[:, :, 0]
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx, dw, db) = _graph_grads(lambda x_, w_, b_: conv1d(x_, w_, b_, **options), (x[:, :, 0], w[:, :, 0], b), g)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    want = conv2d_loop_grads(x, w, g[:, :, None], (1, options["stride"]), ((0, 0), pads[1]), (1, options["dilation"]),
                             options["groups"])
    for got, want in zip((dx, dw, db), (want[0][:, :, 0], want[1][:, :, 0], want[2])):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_max_pool2d_matches_loops(case, seed):
    x, options, dilation, _ = case
    expected = _max_loops(x, options, dilation)
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx,) = _graph_grads(lambda t: max_pool2d(t, **_max_options(options, dilation)), (x,), g)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(dx, _max_loops(x, options, dilation, grad=g), rtol=1e-12, atol=1e-12)


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_avg_pool2d_matches_loops(case, seed):
    x, options, _, count_include_pad = case
    expected = _avg_loops(x, options, count_include_pad)
    g = np.random.default_rng(seed).normal(size=expected.shape)
    out, (dx,) = _graph_grads(lambda t: avg_pool2d(t, **_avg_options(options, count_include_pad)), (x,), g)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, _avg_loops(x, options, count_include_pad, grad=g), rtol=1e-12, atol=1e-12)


@given(pool_cases())
def test_1d_pools_are_the_2d_ones_on_images_of_height_1(case):
    x, options, dilation, count_include_pad = case
    x = x[:, :, 0]
    options = {k: v[1] if isinstance(v, tuple) else v for k, v in options.items()}
    image = {k: (1, v) if k != "padding" else (0, v) for k, v in options.items() if k != "ceil_mode"}
    image["ceil_mode"] = options["ceil_mode"]
    np.testing.assert_array_equal(max_pool1d(tg.Tensor(x), **options, dilation=dilation[1]).data,
                                  _max_loops(x[:, :, None], image, (1, dilation[1]))[:, :, 0])
    np.testing.assert_allclose(avg_pool1d(tg.Tensor(x), **options, count_include_pad=count_include_pad).data,
                               _avg_loops(x[:, :, None], image, count_include_pad)[:, :, 0], rtol=1e-12)


# ----------------------------------------------------------------------------- against PyTorch


def _torch_grads(torch, fn, arrays, g):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), [t.grad.numpy() for t in inputs]


def _assert_same(ours, theirs):
    (out, grads), (torch_out, torch_grads) = ours, theirs
    np.testing.assert_allclose(out, torch_out, rtol=1e-10, atol=1e-12)
    for got, want in zip(grads, torch_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own speed
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv_matches_torch(torch, case, seed):
    """conv2d and conv1d: forward and every gradient (PyTorch pads unevenly only through F.pad)."""
    x, w, b, options, pads = case
    tf = torch.nn.functional
    same = options["padding"] == "same"
    torch_options = dict(options, padding="same" if same else 0)
    torch_pads = (0, 0, 0, 0) if same else pads[1] + pads[0]  # F.pad lists the last axis first
    g = np.random.default_rng(seed).normal(size=conv2d(x, tg.Tensor(w), **options).shape)
    _assert_same(_graph_grads(lambda *t: conv2d(*t, **options), (x, w, b), g),
                 _torch_grads(torch, lambda x_, w_, b_: tf.conv2d(tf.pad(x_, torch_pads), w_, b_, **torch_options),
                              (x, w, b), g))
    # the same along W alone, as signals: x[:, :, 0] is (N, C, W)
    one_d = dict(stride=options["stride"][1], dilation=options["dilation"][1], groups=options["groups"])
    signals = (x[:, :, 0], w[:, :, 0], b)
    g = np.random.default_rng(seed).normal(size=conv1d(signals[0], tg.Tensor(signals[1]), padding=(pads[1],),
                                                         **one_d).shape)
    _assert_same(_graph_grads(lambda *t: conv1d(*t, padding=(pads[1],), **one_d), signals, g),
                 _torch_grads(torch, lambda x_, w_, b_: tf.conv1d(tf.pad(x_, pads[1]), w_, b_, **one_d), signals, g))


@given(pool_cases(), st.integers(0, 2**32 - 1))
def test_pools_match_torch(torch, case, seed):
    x, options, dilation, count_include_pad = case
    tf = torch.nn.functional
    one_d = {k: v[1] if isinstance(v, tuple) else v for k, v in options.items()}
    calls = [
        (lambda t: max_pool2d(t, **options, dilation=dilation), lambda t: tf.max_pool2d(t, **options, dilation=dilation), x),
        (lambda t: avg_pool2d(t, **options, count_include_pad=count_include_pad),
         lambda t: tf.avg_pool2d(t, **options, count_include_pad=count_include_pad), x),
        (lambda t: max_pool1d(t, **one_d, dilation=dilation[1]),
         lambda t: tf.max_pool1d(t, **one_d, dilation=dilation[1]), x[:, :, 0]),
        (lambda t: avg_pool1d(t, **one_d, count_include_pad=count_include_pad),
         lambda t: tf.avg_pool1d(t, **one_d, count_include_pad=count_include_pad), x[:, :, 0]),
    ]
    for ours, theirs, a in calls:
        g = np.random.default_rng(seed).normal(size=ours(tg.Tensor(a)).shape)
        _assert_same(_graph_grads(ours, (a,), g), _torch_grads(torch, theirs, (a,), g))


# Finite differences: first derivatives over the full grid; second derivatives (the graph of the
# backward pass: Col2Im, and Im2Col again) over a smaller one, as each case costs thousands of sweeps.


@given(conv_cases())
def test_conv2d_gradcheck(case):
    x, w, b, options, pads = case
    check_op(lambda x_, w_, b_: conv2d(x_, w_, b_, **options), x, w, b,
             np_fn=lambda x_, w_, b_: conv2d_loops(x_, w_, b_, *_conv_ref_args(options, pads)), second_order=False)


@settings(max_examples=10)
@given(conv_cases(max_side=4, max_padding=1, max_batch=1))
def test_conv2d_gradgradcheck(case):
    x, w, b, options, _ = case
    check_op(lambda x_, w_, b_: conv2d(x_, w_, b_, **options), x, w, b, second_order=True)


@settings(max_examples=10)
@given(conv_cases(max_side=4, max_padding=1, max_batch=1))
def test_conv1d_gradcheck_and_gradgradcheck(case):
    x, w, b, options, _ = case
    options = {k: v if k == "groups" or v == "same" else (v[1],) if k == "padding" and isinstance(v[1], tuple)
               else v[1] for k, v in options.items()}
    check_op(lambda x_, w_, b_: conv1d(x_, w_, b_, **options), x[:, :, 0], w[:, :, 0], b, second_order=True)


@given(pool_cases())
def test_pools_gradcheck_and_gradgradcheck(case):
    x, options, dilation, count_include_pad = case
    check_op(lambda t: max_pool2d(t, **_max_options(options, dilation)), x,
             np_fn=lambda a: _max_loops(a, options, dilation))
    check_op(lambda t: avg_pool2d(t, **_avg_options(options, count_include_pad)), x,
             np_fn=lambda a: _avg_loops(a, options, count_include_pad))
    one_d = {k: v[1] if isinstance(v, tuple) else v for k, v in options.items()}
    check_op(lambda t: max_pool1d(t, **one_d, dilation=dilation[1]), x[:, :, 0])
    check_op(lambda t: avg_pool1d(t, **one_d, count_include_pad=count_include_pad), x[:, :, 0])


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
    x, options, _, _ = case
    kernel, stride = options["kernel_size"], options["stride"]
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
    with pytest.raises(ValueError, match="non-negative"):
        x.pad(-1)
    with pytest.raises(ValueError, match="non-negative"):
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


# ----------------------------------------------------------------------------- options: integers, forms, errors


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_max_pools_of_integers_are_exact_integers(dtype):
    big = np.iinfo(dtype).max
    x = np.array([[[[big, 0, 1], [2, big - 1, 5], [0, 0, 3]]]], dtype=dtype)
    out = max_pool2d(x, 2, stride=2, padding=1, ceil_mode=True)  # padding never wins, even against 0
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, max_pool_loops(x, (2, 2), (2, 2), (1, 1), ceil_mode=True))
    np.testing.assert_array_equal(max_pool1d(x[:, :, 0], 2, padding=1).data, [[[big, 1]]])


def test_avg_pools_of_integers_give_the_default_float_dtype():
    x = np.arange(16).reshape(1, 1, 4, 4)
    out = avg_pool2d(x, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, [[[[2.5, 4.5], [10.5, 12.5]]]])  # PyTorch truncates to 2, 4, 10, 12
    tg.set_default_dtype(np.float64)
    assert avg_pool1d(np.arange(4).reshape(1, 1, 4), 2).dtype == np.float64


def test_avg_pool_divisors():
    """count_include_pad, ceil_mode and divisor_override, on a case small enough to check by eye."""
    x = tg.Tensor(np.ones((1, 1, 3, 3)))
    # windows of 2x2 at stride 2 with padding 1: the corner window holds 1 input cell and 3 padding cells
    np.testing.assert_array_equal(avg_pool2d(x, 2, padding=1).data[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(avg_pool2d(x, 2, padding=1, count_include_pad=False).data[0, 0], np.ones((2, 2)))
    # ceil_mode: a last window hangs over the edge (3 = 2 + 1); its overhang never counts
    np.testing.assert_array_equal(avg_pool2d(x, 2, ceil_mode=True).data[0, 0], np.ones((2, 2)))
    np.testing.assert_array_equal(avg_pool2d(x, 2, ceil_mode=True, divisor_override=4).data[0, 0],
                                  [[1.0, 0.5], [0.5, 0.25]])
    np.testing.assert_array_equal(max_pool2d(x, 2, ceil_mode=True).shape, (1, 1, 2, 2))
    assert max_pool2d(x, 2).shape == (1, 1, 1, 1)


def test_padding_forms():
    x = tg.Tensor(np.random.default_rng(0).normal(size=(1, 2, 5, 4)))
    w = tg.Tensor(np.random.default_rng(1).normal(size=(3, 2, 2, 3)))
    by_pairs = conv2d(x, w, padding=((1, 0), (2, 1)))
    np.testing.assert_allclose(by_pairs.data, conv2d(x.pad(((0, 0), (0, 0), (1, 0), (2, 1))), w).data, rtol=1e-12)
    assert conv2d(x, w, padding="same").shape == (1, 3, 5, 4)  # even kernel height: the odd row after
    assert conv2d(x, w, padding="same", dilation=2).shape == (1, 3, 5, 4)
    assert conv2d(x, w, padding="valid").shape == conv2d(x, w).shape == (1, 3, 4, 2)
    assert conv2d(x, w, padding=(1, 0)).shape == conv2d(x, w, padding=((1, 1), (0, 0))).shape == (1, 3, 6, 2)
    signal = tg.Tensor(np.ones((1, 2, 6)))
    assert conv1d(signal, w[:, :, 0], padding=((0, 2),)).shape == (1, 3, 6)
    assert conv1d(signal, w[:, :, 0], padding="same", dilation=2).shape == (1, 3, 6)


def test_grouped_convolution_is_separate_convolutions_per_group():
    rng = np.random.default_rng(0)
    x, w = tg.Tensor(rng.normal(size=(2, 4, 5, 5))), tg.Tensor(rng.normal(size=(6, 2, 3, 3)))
    out = conv2d(x, w, groups=2, padding=1)
    np.testing.assert_allclose(out.data[:, :3], conv2d(x[:, :2], w[:3], padding=1).data, rtol=1e-12)
    np.testing.assert_allclose(out.data[:, 3:], conv2d(x[:, 2:], w[3:], padding=1).data, rtol=1e-12)
    depthwise = conv2d(x, tg.Tensor(rng.normal(size=(4, 1, 3, 3))), groups=4)
    assert depthwise.shape == (2, 4, 3, 3)


def test_option_errors_name_the_argument():
    x, w = tg.Tensor(np.ones((1, 4, 5, 5))), tg.Tensor(np.ones((6, 2, 3, 3)))
    with pytest.raises(tg.ShapeError, match=r"conv2d: expected 2 input channel\(s\)"):
        conv2d(x, w)  # groups=1: the weight reads 2 channels, the input has 4
    with pytest.raises(ValueError, match="conv2d: groups must be a positive int dividing out_channels 6, got 4"):
        conv2d(x, w, groups=4)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1 \(got stride \(2, 2\)\)"):
        conv2d(x, w, groups=2, padding="same", stride=2)
    with pytest.raises(TypeError, match=r"conv2d: padding must be an int, a tuple of 2 int\(s\), 2 \(before, "
                                        r"after\) pair\(s\), 'valid' or 'same', got 'full'"):
        conv2d(x, w, groups=2, padding="full")
    with pytest.raises(TypeError, match=r"conv1d: padding must be .* got \(1, 2\)"):  # one entry per axis: ((1, 2),)
        conv1d(tg.Tensor(np.ones((1, 2, 5))), w[:, :, 0], padding=(1, 2))
    with pytest.raises(tg.ShapeError, match=r"conv2d: kernel 3x3 \(dilated to 7x7\) is larger than the padded input "
                                            r"5x5"):
        conv2d(x, w, groups=2, dilation=3)
    with pytest.raises(TypeError, match="conv2d: weight must be a Tensor"):
        conv2d(x, np.ones((6, 2, 3, 3)))
    with pytest.raises(ValueError, match="Conv2d: groups=3 must divide in_channels=4 and out_channels=6"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="Conv1d: padding='same' needs stride 1"):
        nn.Conv1d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(tg.ShapeError, match=r"max_pool1d: expected an input of shape \(N, C, L\), got shape \(5, 5\)"):
        max_pool1d(tg.Tensor(np.ones((5, 5))), 2)
    with pytest.raises(TypeError, match="max_pool2d: ceil_mode must be True or False"):
        max_pool2d(x, 2, ceil_mode="yes")
    with pytest.raises(TypeError, match="max_pool2d: padding must be an int or a pair of ints"):
        max_pool2d(x, 2, padding=((0, 1), (0, 1)))  # pools pad both sides alike, as in PyTorch
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must be a positive int, got 0"):
        avg_pool2d(x, 2, divisor_override=0)


def test_1d_and_option_modules():
    conv = nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2, bias=False)
    assert conv.weight.shape == (6, 2, 3) and conv.bias is None
    assert repr(conv) == "Conv1d(4, 6, kernel_size=3, stride=1, padding='same', dilation=2, groups=2, bias=False)"
    assert conv(tg.Tensor(np.ones((2, 4, 7), dtype=np.float32))).shape == (2, 6, 7)
    with pytest.raises(tg.ShapeError, match=r"Conv1d\(4, 6.*expected 4 input channel\(s\)"):
        conv(tg.Tensor(np.ones((2, 3, 7))))
    assert repr(nn.Conv2d(2, 2, 3, padding=((1, 0), (1, 1)))) == \
        "Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=((1, 0), (1, 1)))"
    assert nn.Conv2d(2, 4, 3, groups=2).weight.shape == (4, 1, 3, 3)
    assert repr(nn.MaxPool1d(3, stride=1, padding=1, dilation=2, ceil_mode=True)) == \
        "MaxPool1d(kernel_size=3, stride=1, padding=1, ceil_mode=True, dilation=2)"
    assert repr(nn.AvgPool1d(2, count_include_pad=False)) == \
        "AvgPool1d(kernel_size=2, stride=2, padding=0, count_include_pad=False)"
    assert repr(nn.AvgPool2d(3, ceil_mode=True)) == "AvgPool2d(kernel_size=(3, 3), stride=(3, 3), padding=(0, 0), ceil_mode=True)"
    signal = tg.Tensor(np.arange(10.0).reshape(1, 2, 5))
    np.testing.assert_array_equal(nn.MaxPool1d(2, ceil_mode=True)(signal).data, [[[1, 3, 4], [6, 8, 9]]])
    np.testing.assert_array_equal(nn.AvgPool1d(2, padding=1, count_include_pad=False)(signal).data,
                                  [[[0, 1.5, 3.5], [5, 6.5, 8.5]]])
