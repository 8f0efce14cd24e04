"""NumPy's math beyond the basics: values where NumPy has special rules, PyTorch's gradients where the
derivative does not exist, products and scans through zeros, einsum's forms, and the errors a wrong call
gets. (Every op's gradients over drawn shapes are in test_ops.py, from the registry.)"""
import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.testing import check_op

try:
    import torch
except ImportError:  # it only checks the conventions at the kinks
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (it checks the slopes at the kinks)")


def t64(values, requires_grad=True):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------------------------------- forward values as NumPy's


def test_rounding_functions_follow_numpy_at_halves_and_negative_values():
    values = np.array([-2.5, -1.5, -0.5, -0.2, 0.0, 0.2, 0.5, 1.5, 2.5, 3.7])
    x = tg.Tensor(values)
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        np.testing.assert_array_equal(getattr(x, name)().data, getattr(np, name)(values.astype(np.float32)))


def test_logs_in_base_2_and_10_are_exact_where_numpy_is():
    assert tg.Tensor(np.array([8.0, 1024.0])).log2().data.tolist() == [3.0, 10.0]
    assert tg.Tensor(np.array([1000.0, 1e-5])).log10().data.tolist() == np.log10([1000.0, 1e-5]).tolist()


def test_the_stable_forms_keep_digits_that_the_naive_compositions_lose():
    small = tg.Tensor(np.array([1e-10, -1e-12], dtype=np.float32))
    np.testing.assert_allclose(small.expm1().data, [1e-10, -1e-12], rtol=1e-6)
    np.testing.assert_allclose(small.log1p().data, [1e-10, -1e-12], rtol=1e-6)
    np.testing.assert_allclose(small.sinh().data, [1e-10, -1e-12], rtol=1e-6)
    np.testing.assert_allclose(small.arcsinh().data, [1e-10, -1e-12], rtol=1e-6)
    big = tg.Tensor(np.array([89.0], dtype=np.float32))
    assert np.isfinite(big.cosh().data).all() and np.isfinite(big.sinh().data).all()  # exp(89) overflows float32
    assert big.softplus().data.tolist() == [89.0] and (-big).logsigmoid().data.tolist() == [-89.0]
    assert tg.Tensor(np.array([3e30], np.float32)).hypot(np.float32(4e30)).data.tolist() == [np.float32(5e30)]
    assert tg.Tensor(np.array([1e200])).arccosh().data.tolist() == np.arccosh([1e200]).tolist()


def test_mod_and_floor_divide_follow_numpy_signs_floats_and_integers():
    x, y = np.array([5.5, -5.5, 5.5, -5.5, 1.0]), np.array([2.0, 2.0, -2.0, -2.0, 0.1])
    np.testing.assert_array_equal((tg.Tensor(x) % tg.Tensor(y)).data, np.mod(x, y))
    np.testing.assert_array_equal((tg.Tensor(x) // tg.Tensor(y)).data, np.floor_divide(x, y))  # 1 // 0.1 is 9
    ints = np.array([7, -7, 7, -7])
    for got, want in [(tg.Tensor(ints) % 3, ints % 3), (tg.Tensor(ints) // -3, ints // -3),
                      (10 % tg.Tensor(ints), 10 % ints), (tg.mod(ints, 3), np.mod(ints, 3)),
                      (tg.remainder(ints, 3), np.remainder(ints, 3)), (tg.floor_divide(ints, 3), np.floor_divide(ints, 3)),
                      (-8 // tg.Tensor(ints), -8 // ints)]:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.data, want)


def test_arctan2_finds_every_quadrant_and_arctan_arcsin_arccos_match_numpy():
    y, x = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 2.0]), np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 0.0])
    np.testing.assert_array_equal(tg.arctan2(y, x).data, np.arctan2(y, x))
    values = np.linspace(-1, 1, 9)
    for name in ("arctan", "arcsin", "arccos", "arctanh", "tan", "exp2", "square", "reciprocal"):
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(getattr(tg.Tensor(values), name)().data, getattr(np, name)(values), rtol=1e-12)


def test_prod_cumsum_cumprod_follow_numpy_including_axis_none_and_empty():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    assert tg.Tensor(x).prod().item() == 720.0
    np.testing.assert_array_equal(tg.Tensor(x).prod(axis=(0, -1), keepdims=True).data,
                                  np.prod(x, axis=(0, -1), keepdims=True))
    np.testing.assert_array_equal(tg.Tensor(x).cumsum().data, np.cumsum(x))
    np.testing.assert_array_equal(tg.Tensor(x).cumprod(axis=-1).data, np.cumprod(x, axis=-1))
    empty = tg.Tensor(np.zeros((0, 3)), requires_grad=True)
    assert empty.prod(axis=0).data.tolist() == [1.0, 1.0, 1.0] and empty.cumsum(axis=0).shape == (0, 3)
    empty.prod(axis=0).sum().backward()
    assert empty.grad.shape == (0, 3)


def test_all_and_any_are_bool_tensors_outside_the_graph():
    x = tg.Tensor([[1.0, 0.0], [2.0, 3.0]], requires_grad=True)
    assert x.all().item() is False and x.any(axis=-1).data.tolist() == [True, True]
    assert tg.all(x, axis=0, keepdims=True).data.tolist() == [[True, False]] and not x.all().requires_grad


def test_norms_follow_numpy_linalg_norm():
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = tg.Tensor(x)
    cases = [((), {}), ((1,), {}), ((np.inf,), {}), ((-np.inf,), {}), (("fro",), {}), ((-1,), {}),
             ((None,), {"axis": 1}), ((0,), {"axis": 0}), ((0.5,), {"axis": -1, "keepdims": True}),
             ((3,), {"axis": 0}), ((1,), {"axis": (1, 0)}), ((None,), {"axis": (0, 1), "keepdims": True})]
    for args, kwargs in cases:
        np.testing.assert_allclose(t.norm(*args, **kwargs).data, np.linalg.norm(x, *args, **kwargs), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(t).data, np.linalg.norm(x), rtol=1e-6)  # np.linalg.norm dispatches


EINSUMS = ["ij,jk->ik", "ij,jk", "ii->i", "ii", "ij->ji", "ba", "i,i", "i,j", "i->", "...ij,...jk->...ik",
           "bij,bjk->bik", "ij,ij->ij", "ijk->kji", "ab,bc,cd->ad", "a...,a", "...i,...i->...", "iij->ji"]


@pytest.mark.parametrize("subscripts", EINSUMS)
def test_einsum_matches_numpy(subscripts):
    rng = np.random.default_rng(0)
    shapes = {"ij,jk->ik": [(2, 3), (3, 4)], "ij,jk": [(2, 3), (3, 4)], "ii->i": [(3, 3)], "ii": [(3, 3)],
              "ij->ji": [(2, 3)], "ba": [(2, 3)], "i,i": [(3,), (3,)], "i,j": [(2,), (3,)], "i->": [(4,)],
              "...ij,...jk->...ik": [(5, 2, 3), (1, 3, 2)], "bij,bjk->bik": [(2, 2, 3), (2, 3, 1)],
              "ij,ij->ij": [(2, 3), (1, 3)], "ijk->kji": [(2, 3, 4)], "ab,bc,cd->ad": [(2, 3), (3, 4), (4, 2)],
              "a...,a": [(2, 3, 4), (2,)], "...i,...i->...": [(2, 1, 3), (4, 3)], "iij->ji": [(3, 3, 2)]}[subscripts]
    arrays = [rng.standard_normal(s) for s in shapes]
    got = tg.einsum(subscripts, *[tg.Tensor(a) for a in arrays])
    want = np.einsum(subscripts, *arrays)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.einsum(subscripts, *[tg.Tensor(a) for a in arrays]).data, want, rtol=1e-12)


def test_manipulation_matches_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = tg.Tensor(x)
    pairs = [
        (t.flip((0, 2)), np.flip(x, (0, 2))), (t.roll(-5), np.roll(x, -5)), (t.roll(7, axis=1), np.roll(x, 7, axis=1)),
        (t.repeat(3, axis=-1), np.repeat(x, 3, axis=-1)), (t.repeat(2), np.repeat(x, 2)),
        (tg.Tensor(2.0).repeat(3, axis=0), np.repeat(np.float32(2.0), 3, axis=0)),
        (t.tile(2), np.tile(x, 2)), (t.tile((2, 1, 1, 2)), np.tile(x, (2, 1, 1, 2))),
        (t.moveaxis([0, 1], [-1, 0]), np.moveaxis(x, [0, 1], [-1, 0])),
        (t.diagonal(-1, 2, 1), np.diagonal(x, -1, 2, 1)), (t.trace(1, 1, 2), np.trace(x, 1, 1, 2)),
        (t.tril(-1), np.tril(x, -1)), (t.triu(2), np.triu(x, 2)),
        (t.take([[5, -1]]), np.take(x, [[5, -1]])), (t.take(2, axis=1), np.take(x, 2, axis=1)),
        (t.take_along_axis(np.argsort(x, axis=1)[:, :2], 1), np.take_along_axis(x, np.argsort(x, axis=1)[:, :2], 1)),
        (t.flatten(0, 1), x.reshape(6, 4)), (t.flatten(-2), x.reshape(2, 12)),
        (tg.Tensor(3.0).flatten(), np.array([3.0])),
        (tg.Tensor(np.zeros((0, 2, 3))).flatten(1), np.zeros((0, 6))),
        (t.pad(((0, 0), (-1, -1), (2, -3))), np.pad(x[:, 1:-1, :1], ((0, 0), (0, 0), (2, 0)))),
        (tg.Tensor([1.0, 2.0]).diag(-1), np.diag([1.0, 2.0], -1)),
        (tg.outer([1.0, 2.0], x[0]), np.outer([1.0, 2.0], x[0])), (tg.inner(x, x[0]), np.inner(x, x[0])),
        (tg.tensordot(x, x, axes=([0, 1], [0, 1])), np.tensordot(x, x, ([0, 1], [0, 1]))),
        (tg.tensordot(x[0], x[0].T, 1), np.tensordot(x[0], x[0].T, 1)),
    ]
    for got, want in pairs:
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got.data, want)
    for parts, wanted in [(tg.split(t, 2, axis=-1), np.split(x, 2, axis=-1)),
                          (tg.array_split(t, 3, axis=2), np.array_split(x, 3, axis=2)),
                          (tg.array_split(t, [1, -1], 1), np.array_split(x, [1, -1], 1)),
                          (tg.split(t, [3, 1], 2), np.split(x, [3, 1], 2))]:
        assert [p.shape for p in parts] == [w.shape for w in wanted]
        for p, w in zip(parts, wanted):
            np.testing.assert_array_equal(p.data, w)
    assert tg.atleast_1d(tg.Tensor(1.0)).shape == (1,) and tg.atleast_3d(np.ones(2)).shape == (1, 2, 1)
    assert [a.shape for a in tg.atleast_2d(np.ones(2), 3.0, np.ones((1, 2, 3)))] == [(1, 2), (1, 1), (1, 2, 3)]


def test_where_with_only_a_condition_is_numpys_nonzero():
    cond = np.array([[0.0, 1.5], [2.0, 0.0]])
    for got, want in zip(tg.where(tg.Tensor(cond)), np.where(cond)):
        np.testing.assert_array_equal(got.data, want)
    with pytest.raises(TypeError, match="where: give both x and y, or neither"):
        tg.where(cond, tg.Tensor([1.0, 2.0]))


def test_index_add_and_scatter_add_add_up_repeated_positions_like_numpy_add_at():
    x, source = np.zeros((4, 2)), np.arange(6.0).reshape(3, 2)
    want = x.copy()
    np.add.at(want, [1, 3, 1], source)
    np.testing.assert_array_equal(tg.Tensor(x).index_add(0, [1, 3, 1], source).data, want)
    index = np.array([[0, 1, 0], [2, 0, 0]])
    got = tg.Tensor(np.zeros((3, 3))).scatter_add(0, index, np.ones((2, 4)))
    np.testing.assert_array_equal(got.data, [[1, 1, 2], [0, 1, 0], [1, 0, 0]])  # src read where index has entries


# ----------------------------------------------------------------------------- gradients at zeros, to second order


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 3.0, 2.0], [-1.0, 2.0, 3.0, 0.0],
                                    [0.0, -2.0, 0.5, 0.0]])
def test_prod_and_cumprod_have_exact_gradients_through_zeros(values):
    x = np.asarray(values)
    check_op(lambda t: t.prod(), x, np_fn=np.prod)
    check_op(lambda t: t.cumprod(), x, np_fn=np.cumprod)
    square = np.stack([x, x[::-1] * 0.5, x + 1, x[::2].repeat(2)])  # zeros in some rows and columns
    check_op(lambda t: t.prod(axis=(0, -1), keepdims=True), square, np_fn=lambda a: np.prod(a, (0, -1), keepdims=True))
    check_op(lambda t: t.prod(axis=1), square, np_fn=lambda a: np.prod(a, axis=1))
    check_op(lambda t: t.cumprod(axis=0), square, np_fn=lambda a: np.cumprod(a, axis=0))


def test_norm_and_std_are_flat_at_zero_and_differentiable_next_to_it():
    zeros = t64(np.zeros((2, 3)))
    for value in (zeros.norm(), zeros.norm(axis=0).sum(), zeros.norm(3, axis=1).sum(), zeros.norm(0.5, axis=1).sum(),
                  zeros.std(axis=1).sum(), zeros.norm("fro", axis=(0, 1))):
        (g,) = tg.grad(value, zeros)
        assert np.array_equal(g.data, np.zeros((2, 3))), value
    some_zeros = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.7]])
    check_op(lambda t: t.norm(axis=1), some_zeros)
    check_op(lambda t: t.norm(3, axis=-1), some_zeros)
    check_op(lambda t: t.std(axis=0), np.array([[1.0, 2.0, 3.0], [1.5, 2.5, -1.0]]))


# ----------------------------------------------------------------------------- PyTorch's gradients at the kinks


KINKS = [  # (name, tinygrad_edu function, PyTorch function, inputs): values and gradients must agree
    ("elu at 0", lambda x: x.elu(0.7), lambda x: torch.nn.functional.elu(x, 0.7), [[0.0, -1.0, 1.0]]),
    ("selu at 0", lambda x: x.selu(), lambda x: torch.nn.functional.selu(x), [[0.0, -0.5, 2.0]]),
    ("hardtanh at its ends", lambda x: x.hardtanh(), lambda x: torch.nn.functional.hardtanh(x), [[-1.0, 1.0, 0.5, 3.0]]),
    ("hardtanh(0, 6) at its ends", lambda x: x.hardtanh(0.0, 6.0), lambda x: torch.nn.functional.hardtanh(x, 0.0, 6.0),
     [[0.0, 6.0, 7.0]]),
    ("hardsigmoid at +-3", lambda x: x.hardsigmoid(), lambda x: torch.nn.functional.hardsigmoid(x), [[-3.0, 3.0, 0.5, -4.0]]),
    ("gelu", lambda x: x.gelu(), lambda x: torch.nn.functional.gelu(x), [[-3.0, -0.5, 0.0, 1.2]]),
    ("gelu tanh", lambda x: x.gelu(approximate="tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
     [[-3.0, 0.0, 1.2]]),
    ("silu, mish, logsigmoid, softplus", lambda x: x.silu() + x.mish() + x.logsigmoid() + x.softplus(beta=2.0),
     lambda x: (torch.nn.functional.silu(x) + torch.nn.functional.mish(x) + torch.nn.functional.logsigmoid(x)
                + torch.nn.functional.softplus(x, beta=2.0)), [[-4.0, 0.0, 3.0]]),
    ("arcsin at +-1", lambda x: x.arcsin(), lambda x: torch.asin(x), [[1.0, -1.0, 0.5]]),
    ("arccos at +-1", lambda x: x.arccos(), lambda x: torch.acos(x), [[1.0, -1.0, 0.5]]),
    ("arccosh at 1, arctanh at 1", lambda x: x.arccosh() + x.arctanh(), lambda x: torch.acosh(x) + torch.atanh(x), [[1.0]]),
    ("arctan2 at the origin", lambda y, x: y.arctan2(x), lambda y, x: torch.atan2(y, x), [[0.0, 0.0, 1.0], [0.0, -0.0, 0.0]]),
    ("hypot at the origin", lambda x, y: x.hypot(y), lambda x, y: torch.hypot(x, y), [[0.0, 3.0], [0.0, 4.0]]),
    ("logaddexp at a tie", lambda x, y: x.logaddexp(y), lambda x, y: torch.logaddexp(x, y), [[1.0, -2.0], [1.0, 0.5]]),
    ("remainder", lambda x, y: x % y, lambda x, y: torch.remainder(x, y), [[5.5, -5.5, 5.5], [2.0, 2.0, -2.0]]),
    ("floor_divide", lambda x, y: x // y, lambda x, y: torch.div(x, y, rounding_mode="floor"), [[5.5, -5.5], [2.0, 2.0]]),
    ("floor, ceil, trunc", lambda x: x.floor() + x.ceil() + x.trunc(), lambda x: x.floor() + x.ceil() + x.trunc(),
     [[1.0, -1.5, 0.3]]),
    ("prod with one zero", lambda x: x.prod(), lambda x: x.prod(), [[2.0, 0.0, 3.0]]),
    ("prod with two zeros", lambda x: x.prod(axis=0), lambda x: x.prod(dim=0), [[[2.0, 0.0], [0.0, 3.0], [0.0, 1.0]]]),
    ("cumprod with zeros", lambda x: x.cumprod(axis=0), lambda x: x.cumprod(dim=0), [[2.0, 0.0, 3.0, 0.0, 5.0]]),
    ("2-norm at 0", lambda x: x.norm(), lambda x: torch.linalg.vector_norm(x), [[0.0, 0.0]]),
    ("inf-norm with ties", lambda x: x.norm(np.inf), lambda x: torch.linalg.vector_norm(x, float("inf")), [[1.0, -1.0, 0.5]]),
    ("1-norm at 0", lambda x: x.norm(1), lambda x: torch.linalg.vector_norm(x, 1), [[0.0, 2.0]]),
    ("0.5-norm by a zero", lambda x: x.norm(0.5), lambda x: torch.linalg.vector_norm(x, 0.5), [[0.0, 2.0]]),
    ("matrix 1-norm with tied columns", lambda x: x.norm(1), lambda x: torch.linalg.matrix_norm(x, 1),
     [[[1.0, -2.0], [3.0, 2.0]]]),
    ("std of equal values", lambda x: x.std(ddof=1), lambda x: x.std(), [[1.0, 1.0, 1.0]]),
]


@needs_torch
@pytest.mark.parametrize("name, ours, theirs, inputs", KINKS, ids=[row[0] for row in KINKS])
def test_gradients_at_kinks_are_pytorchs(name, ours, theirs, inputs):
    mine = [t64(v) for v in inputs]
    torch_inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    with np.errstate(divide="ignore", invalid="ignore"):  # infinite slopes, as NumPy warns of them
        out, expected = ours(*mine), theirs(*torch_inputs)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-7, atol=1e-12)
        out.sum().backward()
    expected.sum().backward()
    for t, ref in zip(mine, torch_inputs):
        # hardsigmoid's slope is a float32 1/6 in PyTorch, even in float64: hence 1e-7, not 1e-12
        np.testing.assert_allclose(t.grad.data, ref.grad.numpy(), rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- wrong calls: errors naming op and shapes

X, V, S = tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones(3)), tg.Tensor(2.0)
WRONG = [
    (lambda: X.arctan2(np.ones(4)), tg.ShapeError, r"Arctan2: .*\(2, ?3\).*\(4,\)"),
    (lambda: tg.hypot(X, np.ones((3, 2))), tg.ShapeError, r"Hypot: .*\(2, ?3\).*\(3, ?2\)"),
    (lambda: X.logaddexp(np.ones(2)), tg.ShapeError, r"LogAddExp: .*\(2, ?3\).*\(2,\)"),
    (lambda: X % np.ones(2), tg.ShapeError, r"Mod: .*\(2, ?3\).*\(2,\)"),
    (lambda: X // np.ones(2), tg.ShapeError, r"floor_divide \(//\): shapes \(2, 3\) and \(2,\) do not broadcast"),
    (lambda: X.prod(axis=2), tg.ShapeError, r"prod: axis 2 is out of range for a tensor with 2 dimension"),
    (lambda: X.cumsum(axis=-3), tg.ShapeError, r"cumsum: axis -3 is out of range"),
    (lambda: S.cumprod(axis=0), tg.ShapeError, r"cumprod: a 0-d tensor has no axis 0"),
    (lambda: X.any(axis=3), tg.ShapeError, r"any: axis 3 is out of range"),
    (lambda: X.norm(2), ValueError, r"norm: ord=2 for matrices is not available"),
    (lambda: V.norm("fro"), ValueError, r"norm: ord='fro' is not a vector norm"),
    (lambda: tg.ones(2, 2, 2).norm(1), tg.ShapeError, r"norm: ord=1 needs a 1-D or 2-D tensor .*\(2, 2, 2\)"),
    (lambda: X.norm(axis=(0, 0)), tg.ShapeError, r"norm: axis must be one axis or two different ones"),
    (lambda: X.flip(2), tg.ShapeError, r"flip: axis 2 is out of range"),
    (lambda: X.roll((1, 2, 3), axis=(0, 1)), tg.ShapeError, r"roll: shift \(1, 2, 3\) and axis \(0, 1\) do not pair up"),
    (lambda: X.roll(1.5), IndexError, r"roll: shift must be integers"),
    (lambda: X.repeat([1, 2], axis=1), tg.ShapeError, r"repeat: 2 counts for axis 1 of size 3 \(shape \(2, 3\)\)"),
    (lambda: X.repeat(-1), ValueError, r"repeat: repeats must be a non-negative int"),
    (lambda: X.tile(-1), ValueError, r"tile: reps must be non-negative ints"),
    (lambda: X.moveaxis((0, 1), 0), tg.ShapeError, r"moveaxis: source \[0, 1\] and destination \[0\]"),
    (lambda: tg.ones(2, 2, 2).diag(), tg.ShapeError, r"diag: expected a 1-D or 2-D tensor, got shape \(2, 2, 2\)"),
    (lambda: X.diagonal(0, 1, -1), tg.ShapeError, r"diagonal: axis1 and axis2 must differ"),
    (lambda: V.trace(), tg.ShapeError, r"trace: expected at least 2 dimensions .* got shape \(3,\)"),
    (lambda: V.triu(), tg.ShapeError, r"triu: expected at least 2 dimensions"),
    (lambda: X.take([7]), IndexError, r"take: index 7 is out of range for an axis of size 6"),
    (lambda: X.take([0.5]), IndexError, r"take: indices must be integers, got dtype float64"),
    (lambda: X.take_along_axis(np.zeros(2, int), 1), tg.ShapeError, r"take_along_axis: indices of shape \(2,\) need 2 axes"),
    (lambda: X.take_along_axis(np.full((2, 2), 5), 1), tg.ShapeError, r"take_along_axis: .*index 5 is out of bounds"),
    (lambda: X.index_add(0, [0, 1], np.ones((2, 2))), tg.ShapeError, r"index_add: .* source of shape \(2, 3\)"),
    (lambda: X.index_add(0, [0, 2], np.ones((2, 3))), IndexError, r"index_add: index 2 is out of range"),
    (lambda: X.scatter_add(1, np.full((2, 3), 3), np.ones((2, 3))), IndexError, r"scatter_add: index 3 is out of range"),
    (lambda: X.scatter_add(1, np.zeros((2, 4), int), np.ones((2, 3))), tg.ShapeError, r"scatter_add: an index of shape"),
    (lambda: X.pad(((-2, -1), (0, 0))), tg.ShapeError, r"pad: pad_width .* crops more than the 2 elements of axis 0"),
    (lambda: X.flatten(1, 0), tg.ShapeError, r"flatten: start_axis 1 comes after end_axis 0 \(shape \(2, 3\)\)"),
    (lambda: tg.split(X, 2, axis=1), ValueError, r"split: 2 sections do not divide axis 1 of size 3 .*array_split"),
    (lambda: tg.array_split(S, 2), tg.ShapeError, r"array_split: a 0-d tensor has no axis 0"),
    (lambda: tg.inner(X, np.ones((2, 2))), tg.ShapeError, r"tensordot: axes \[1\] of shape \(2, 3\) do not match"),
    (lambda: tg.tensordot(X, X, axes=3), tg.ShapeError, r"tensordot: axes=3 for operands of shapes \(2, 3\) and \(2, 3\)"),
    (lambda: tg.einsum("ij,jk->ik", X), ValueError, r"einsum: 'ij,jk->ik' names 2 operand\(s\), got 1"),
    (lambda: tg.einsum("ijk->i", X), tg.ShapeError, r"einsum: the term 'ijk' of 'ijk->i' does not fit .* \(2, 3\)"),
    (lambda: tg.einsum("ij,jk->ik", X, X), tg.ShapeError, r"einsum: .* 'j' the sizes 3 and 2 .*\(2, 3\), \(2, 3\)"),
    (lambda: tg.einsum("ij->k", X), ValueError, r"einsum: the output of 'ij->k'"),
    (lambda: tg.einsum("ii", X), tg.ShapeError, r"einsum: 'i' repeats .* sizes 2 and 3"),
    (lambda: tg.einsum("...j->j", X), ValueError, r"einsum: .* the output needs '...' too"),
    (lambda: X.gelu(approximate="erf"), ValueError, r"gelu: approximate must be 'none' or 'tanh'"),
    (lambda: X.hardtanh(1, -1), ValueError, r"hardtanh: min_val 1 is above max_val -1"),
]


@pytest.mark.parametrize("call, error, message", WRONG, ids=[f"{m.split(':')[0]}-{i}" for i, (_, _, m) in enumerate(WRONG)])
def test_a_wrong_call_names_the_op_and_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----------------------------------------------------------------------------- NumPy's functions keep tensors on the graph


def test_numpy_functions_on_a_tensor_dispatch_to_the_new_ops():
    x = t64([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    outs = [np.sinh(x), np.arctan2(x, 2.0), np.hypot(x, x), np.logaddexp(x, 1.0), np.mod(x, 0.7),
            np.floor_divide(x, 0.7), np.remainder(x, 2.0), np.expm1(x), np.log1p(x * x), np.log2(x * x), np.square(x), np.trunc(x),
            np.prod(x, axis=0), np.cumsum(x, axis=1), np.cumprod(x, axis=0), np.flip(x), np.roll(x, 1, axis=1),
            np.repeat(x, 2, axis=0), np.tile(x, 2), np.moveaxis(x, 0, 1), np.diagonal(x), np.trace(x), np.tril(x),
            np.take(x, [0, 2], axis=1), np.take_along_axis(x, np.array([[0], [2]]), 1), np.linalg.norm(x, axis=1),
            np.einsum("ij,kj->ik", x, x), np.tensordot(x, x, ([1], [1])), np.outer(x[0], x[1]), np.inner(x, x)]
    for out in outs + np.split(x, 3, axis=1) + np.array_split(x, 2):
        assert isinstance(out, tg.Tensor) and out.requires_grad
    assert np.all(x).item() is True


def test_a_zero_d_gradient_reached_twice_is_still_an_array_for_the_next_backward():
    x = t64(0.5)
    s = (x * 2).sinh()  # used twice below: its two 0-d gradients add up to a NumPy scalar
    (s * s + s).backward()
    assert math.isclose(x.grad.item(), (2 * math.sinh(1.0) + 1) * 2 * math.cosh(1.0))


def test_the_new_primitives_export_to_onnx_and_run_alike(tmp_path):
    pytest.importorskip("onnx", reason="onnx is not installed (pip install \"tinygrad_edu[onnx]\")")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    from tinygrad_edu.onnx import export

    def model(x):
        s, positive = x.tanh() * 0.9, x.abs() + 0.1
        parts = [x.expm1(), positive.log1p(), positive.log2(), positive.log10(), x.sinh(), x.cosh(), s.arcsin(),
                 s.arccos(), x.arcsinh(), (positive + 1).arccosh(), x.erf(), x.softplus(), x.arctan2(s),
                 tg.arctan2(x, -s), x.hypot(s), x.logaddexp(s), x % 0.7, (-x) % 0.7, x // 0.3, -x // 0.3,
                 x.prod(axis=1, keepdims=True), x.cumsum(axis=1), x.gelu(), x.elu(), x.mish(), x.floor(), x.trunc(),
                 x.norm(axis=1, keepdims=True), x.flip(1), x.roll(2, 1), x.tile((1, 2)), x.pad(((0, 0), (-1, 2)))]
        return tg.concatenate(parts, axis=1)

    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    session = ort.InferenceSession(str(export(model, x, tmp_path / "math.onnx")))
    for batch in (x, np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)):
        with tg.no_grad():
            np.testing.assert_allclose(session.run(None, {"input": batch})[0], model(tg.Tensor(batch)).data,
                                       rtol=1e-5, atol=1e-5)


def test_onnx_keeps_numpys_conventions_at_signs_zeros_and_infinities(tmp_path):
    pytest.importorskip("onnx", reason="onnx is not installed (pip install \"tinygrad_edu[onnx]\")")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    from tinygrad_edu.onnx import export

    values = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -3.0, np.inf, -np.inf], np.float32)
    y, x = (grid.reshape(1, -1) for grid in np.meshgrid(values, values))
    for name, op in [("arctan2", tg.arctan2), ("mod", tg.mod), ("floor_divide", tg.floor_divide), ("hypot", tg.hypot),
                     ("logaddexp", tg.logaddexp)]:
        with np.errstate(all="ignore"):  # 0 / 0, inf - inf: NumPy's nan, and its warning
            session = ort.InferenceSession(str(export(op, (y, x), tmp_path / f"{name}.onnx", dynamic_batch=False)))
            want = op(tg.Tensor(y), tg.Tensor(x)).data
        got = session.run(None, dict(zip([i.name for i in session.get_inputs()], (y, x))))[0]
        finite = np.isfinite(y) & np.isfinite(x) | (name != "arctan2")  # ONNX's Atan(inf / inf) is nan
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6, atol=0, err_msg=name)
