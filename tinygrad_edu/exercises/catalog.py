"""How each exercise is checked: one ``Exercise`` row per file of ``stubs/``.

A row says which name the file must define (``entry``), how to draw inputs with
hypothesis (``cases``; ``examples`` are tried first, and pick shapes that expose the
classic mistakes), how to run an answer on a case (``answer``, the same for the
student's code and the solution), the right answer (``expected``: the tutorial's
hand-written formula from ``tinygrad_edu.reference`` where there is one, else the
solution), how to differentiate the answer through the engine for ``tg.gradcheck``
(``graph``; None for Adam, which has no derivative to check), and the mistakes it
recognises beyond the general ones ``check.py`` looks for (a transpose, a broadcast
sum, a sign, a 1/N).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from .. import reference as ref
from ..engine.function import Function
from ..engine.tensor import Tensor
from ..testing import arrays, broadcastable_shapes, shapes
from . import solutions


class Wrong(Exception):
    """An answer that is not right: what differs (``what``) and, for a known mistake, a ``hint``."""

    def __init__(self, what, hint=None):
        super().__init__(what)
        self.what, self.hint = what, hint


@dataclass
class Case:
    """One drawn input: named arrays and constants, and the counts a missing 1/N could be (a batch size)."""

    values: dict
    counts: tuple = ()

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def shapes(self) -> str:
        """``x (2, 3), axis 1``: the shapes of the case's arrays and its other values, for a message."""
        return ", ".join(f"{name} {np.shape(value) if isinstance(value, np.ndarray) else value}"
                         for name, value in self.values.items())

    def __repr__(self):
        return f"Case({self.shapes()})"


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer: ``wrong(case)`` computes it ({name: array}); ``hint`` names it without the fix."""

    wrong: Callable
    hint: str


@dataclass(frozen=True)
class Exercise:
    """How one exercise file is checked (see the module docstring)."""

    file: str
    entry: str
    cases: Callable
    examples: tuple
    answer: Callable
    expected: Callable
    graph: Callable = None
    mistakes: tuple = field(default=())

    @property
    def name(self) -> str:
        """``mul`` for ``01_mul.py``: what ``tinygrad-edu exercises check DIR NAME`` takes."""
        return self.file[3:-3]


# ----------------------------------------------------------------------------- running an answer


def returned(values, names, what):
    """{name: value} from what an answer returned, refusing a wrong count or a bare array."""
    if not isinstance(values, (tuple, list)):
        kind = "one array" if isinstance(values, np.ndarray) else f"a {type(values).__name__}"
        raise Wrong(f"{what} returned {kind}, not a tuple: return ({', '.join(names)},), one value for each, "
                    f"even when there is only one")
    if len(values) != len(names):
        raise Wrong(f"{what} returned {len(values)} value{'s' * (len(values) != 1)}; it must return {len(names)}: "
                    f"{', '.join(names)}")
    return dict(zip(names, values))


def backward_of(cls, inputs, g, names, **attrs):
    """Run ``cls``'s forward, then its backward on what forward saved, directly on arrays.

    ``names`` names each input's gradient (``dx``), None for a constant input. The
    engine is left out on purpose: it would sum a broadcast gradient for the student.
    """
    op = cls()
    op.forward(*inputs, **attrs)
    grads = returned(op.backward(g, *op.saved), [name or "None" for name in names], f"{cls.__name__}.backward")
    return {name: grad for name, grad in grads.items() if name != "None"}


def function_graph(cls, tensors, constants=(), **attrs):
    """``(func, tensors)`` for ``tg.gradcheck``: ``cls.apply`` on float64 tensors (and constants)."""
    leaves = [Tensor(np.asarray(t, dtype=np.float64), requires_grad=True) for t in tensors]
    return (lambda *ts: cls.apply(*ts, *constants, **attrs)), leaves


def _draw(draw, shape, **options):
    return draw(arrays(shape, **options))


# ----------------------------------------------------------------------------- Function exercises


@st.composite
def _mul_cases(draw):
    sx, sy = draw(broadcastable_shapes(2, min_dims=0, max_dims=3))
    x, y = _draw(draw, sx), _draw(draw, sy)
    return Case({"x": x, "y": y, "g": _draw(draw, np.broadcast_shapes(sx, sy))})


def _mul(cls, c):
    return backward_of(cls, (c.x, c.y), c.g, ("dx", "dy"))


@st.composite
def _sum_cases(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    out_shape = shape[: axis % len(shape)] + shape[axis % len(shape) + 1:]
    return Case({"x": _draw(draw, shape), "axis": axis, "g": _draw(draw, out_shape)})


def _sum(cls, c):
    return backward_of(cls, (c.x,), c.g, ("dx",), axis=c.axis)


def _sum_graph(cls, c):
    return function_graph(cls, (c.x,), axis=c.axis)


def _spread_g_without_its_axis(c):
    return {"dx": np.broadcast_to(c.g, c.x.shape)}  # a ValueError when the shapes do not fit: no such mistake


@st.composite
def _matmul_cases(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    return Case({"x": _draw(draw, (n, k)), "y": _draw(draw, (k, m)), "g": _draw(draw, (n, m))})


def _matmul(cls, c):
    return backward_of(cls, (c.x, c.y), c.g, ("dx", "dy"))


def _unary_cases(**options):
    @st.composite
    def cases(draw):
        shape = draw(shapes())
        return Case({"x": _draw(draw, shape, **options), "g": _draw(draw, shape)})

    return cases


def _unary(cls, c):
    return backward_of(cls, (c.x,), c.g, ("dx",))


def _unary_graph(cls, c):
    return function_graph(cls, (c.x,))


def _sigmoid_of(c):
    return 1 / (1 + np.exp(-c.x))


@st.composite
def _cross_entropy_cases(draw):
    m, classes = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    labels = draw(st.lists(st.integers(0, classes - 1), min_size=m, max_size=m))
    g = np.asarray(draw(st.sampled_from([1.0, 0.5, 2.0])))
    return Case({"z": _draw(draw, (m, classes)), "onehot": np.eye(classes)[labels], "g": g}, counts=(m,))


def _softmax(z):
    return np.exp(ref.log_softmax(z))


def _cross_entropy(cls, c):
    return backward_of(cls, (c.z, c.onehot), c.g, ("dz", None))


def _cross_entropy_graph(cls, c):
    return function_graph(cls, (c.z,), constants=(c.onehot,))


@st.composite
def _dropout_cases(draw):
    shape = draw(shapes(min_dims=1))
    p = draw(st.sampled_from([0.2, 0.5]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return Case({"x": _draw(draw, shape), "mask": ref.dropout_mask(shape, p, rng), "g": _draw(draw, shape)})


def _dropout(cls, c):
    return backward_of(cls, (c.x, c.mask), c.g, ("dx", None))


def _dropout_graph(cls, c):
    return function_graph(cls, (c.x,), constants=(c.mask,))


# ----------------------------------------------------------------------------- function exercises
# The checker differentiates a function exercise through a Function of its own, whose
# backward is the student's function.


def _dense_case(X, W, b, dA):
    return Case({"X": X, "W": W, "b": b, "z": X @ W + b, "dA": dA}, counts=(len(X),))


@st.composite
def _dense_cases(draw):
    m, n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return _dense_case(_draw(draw, (m, n_in)), _draw(draw, (n_in, n_out)), _draw(draw, (n_out,)),
                       _draw(draw, (m, n_out)))


def _dense(fn, c):
    return returned(fn(c.dA, c.X, c.z, c.W), ("dW", "db", "dA_prev"), "dense_backward")


def _dense_graph(fn, c):
    class Dense(Function):
        """a = tanh(X @ W + b), differentiated by the student's dense_backward"""

        def forward(self, X, W, b):
            a, z = ref.dense_forward(X, W, b, "tanh")
            self.save(X, W, z)
            return a

        def backward(self, g, X, W, z):
            m = X.shape[0]  # dW and db are the mean's gradients; the graph differentiates sum(a * g)
            dW, db, dA_prev = fn(g, X, z, W)
            return dA_prev, dW * m, db * m

    return function_graph(Dense, (c.X, c.W, c.b))


@st.composite
def _batch_norm_cases(draw):
    m, n = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    X = _draw(draw, (m, n), distinct=True)  # distinct: every feature has a variance well above eps
    gamma, beta, dout = _draw(draw, (n,)), _draw(draw, (n,)), _draw(draw, (m, n))
    return Case({"X": X, "gamma": gamma, "beta": beta, "dout": dout}, counts=(m,))


def _batch_norm(fn, c):
    _, cache = ref.batch_norm_forward(c.X, c.gamma, c.beta)
    return returned(fn(c.dout, cache), ("dX", "dgamma", "dbeta"), "batch_norm_backward")


def _batch_norm_graph(fn, c):
    class BatchNorm(Function):
        """out = gamma * (X - mean) / sqrt(var + eps) + beta, differentiated by the student's batch_norm_backward"""

        def forward(self, X, gamma, beta):
            out, cache = ref.batch_norm_forward(X, gamma, beta)
            self.save(*cache)
            return out

        def backward(self, g, x_hat, inv_std, gamma):
            return fn(g, (x_hat, inv_std, gamma))

    return function_graph(BatchNorm, (c.X, c.gamma, c.beta))


def _only_the_direct_path(c):
    _, (x_hat, inv_std, gamma) = ref.batch_norm_forward(c.X, c.gamma, c.beta)
    return {"dX": c.dout * gamma * inv_std}


@st.composite
def _adam_cases(draw):
    shape = draw(shapes(min_dims=1))
    values = {"param": _draw(draw, shape), "grad": _draw(draw, shape), "m": _draw(draw, shape),
              "v": _draw(draw, shape, low=0.0, high=2.0), "t": draw(st.integers(1, 5)),
              "lr": draw(st.sampled_from([1e-3, 0.01, 0.1]))}
    return Case(values)


def _adam(fn, c):
    given = [np.array(c.values[k], copy=True) for k in ("param", "grad", "m", "v")]
    result = returned(fn(*given, c.t, lr=c.lr), ("param", "m", "v"), "adam_update")
    for name, before, after in zip(("param", "grad", "m", "v"), (c.param, c.grad, c.m, c.v), given):
        if not np.array_equal(before, after):
            raise Wrong(f"adam_update changed its argument {name} in place; return new arrays instead "
                        f"(the optimizer keeps the old ones until the update is done)")
    return result


def _adam_expected(c):
    return dict(zip(("param", "m", "v"), ref.adam_update(c.param, c.grad, c.m, c.v, c.t, lr=c.lr)))


def _adam_without_bias_correction(c):
    m = 0.9 * c.m + 0.1 * c.grad
    v = 0.999 * c.v + 0.001 * c.grad**2
    return {"param": c.param - c.lr * m / (np.sqrt(v) + 1e-8)}


def _adam_without_square_root(c):
    _, m, v = ref.adam_update(c.param, c.grad, c.m, c.v, c.t, lr=c.lr)
    return {"param": c.param - c.lr * (m / (1 - 0.9**c.t)) / (v / (1 - 0.999**c.t) + 1e-8)}


def _adam_uphill(c):
    new, _, _ = ref.adam_update(c.param, c.grad, c.m, c.v, c.t, lr=c.lr)
    return {"param": 2 * c.param - new}


@st.composite
def _l2_cases(draw):
    return Case({"W": _draw(draw, draw(shapes(min_dims=1))), "l2_lambda": draw(st.sampled_from([0.01, 0.1, 1.0]))})


def _l2(fn, c):
    return {"dW": fn(c.W, c.l2_lambda)}


def _l2_graph(fn, c):
    class L2(Function):
        """penalty = l2_lambda / 2 * sum(W ** 2), differentiated by the student's l2_backward"""

        def forward(self, W, l2_lambda):
            self.save(W, l2_lambda)
            return np.asarray(ref.l2_term([W], l2_lambda))

        def backward(self, g, W, l2_lambda):
            return g * fn(W, l2_lambda), None

    return function_graph(L2, (c.W,), constants=(c.l2_lambda,))


# ----------------------------------------------------------------------------- the table

TRANSPOSE_HINT = ("a missing transpose? A matrix product's shapes fit one way round only: write each factor's "
                  "shape under it, and make the product come out in the gradient's shape")

EXERCISES = (
    Exercise("01_mul.py", "Mul", _mul_cases, (
        Case({"x": np.array([[1.0, -2.0, 0.5], [2.0, 1.5, -1.0]]), "y": np.array([0.5, -1.0, 2.0]),
              "g": np.array([[1.0, 0.5, -1.5], [2.0, -1.0, 0.25]])}),
    ), _mul, lambda c: _mul(solutions.Mul, c), lambda cls, c: function_graph(cls, (c.x, c.y))),
    Exercise("02_sum.py", "Sum", _sum_cases, (
        Case({"x": np.arange(6.0).reshape(2, 3) - 2, "axis": 1, "g": np.array([1.0, -2.0])}),
    ), _sum, lambda c: _sum(solutions.Sum, c), _sum_graph, (
        Mistake(_spread_g_without_its_axis,
                "g was spread along the wrong axis: the summed axis must come back in the place it had in x "
                "before g is broadcast to x's shape"),
    )),
    Exercise("03_matmul.py", "MatMul", _matmul_cases, (
        Case({"x": np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]]), "y": np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, 1.0]]),
              "g": np.array([[1.0, -1.0], [0.5, 2.0]])}),
        Case({"x": np.array([[1.0, 2.0], [0.5, -1.5]]), "y": np.array([[0.5, -1.0], [2.0, 1.0]]),
              "g": np.array([[1.0, 0.5], [-2.0, 1.0]])}),
    ), _matmul, lambda c: _matmul(solutions.MatMul, c), lambda cls, c: function_graph(cls, (c.x, c.y)), (
        Mistake(lambda c: {"dx": c.g @ c.y, "dy": c.x @ c.g}, TRANSPOSE_HINT),
        Mistake(lambda c: {"dx": c.g @ c.y.T, "dy": c.x @ c.g}, TRANSPOSE_HINT),
    )),
    Exercise("04_relu.py", "ReLU", _unary_cases(min_abs=1e-3), (
        Case({"x": np.array([[-1.0, 0.5], [2.0, -0.25]]), "g": np.array([[1.0, 2.0], [-1.0, 0.5]])}),
    ), _unary, lambda c: {"dx": c.g * ref.relu_derivative(c.x)}, _unary_graph, (
        Mistake(lambda c: {"dx": c.g * np.maximum(c.x, 0)},
                "the output is not the slope: relu's slope is 1 where the input was positive and 0 elsewhere"),
    )),
    Exercise("05_sigmoid.py", "Sigmoid", _unary_cases(), (
        Case({"x": np.array([[-1.0, 0.5], [2.0, 0.0]]), "g": np.array([[1.0, 2.0], [-1.0, 0.5]])}),
    ), _unary, lambda c: {"dx": c.g * ref.sigmoid_derivative(c.x)}, _unary_graph, (
        Mistake(lambda c: {"dx": c.g * _sigmoid_of(c)},
                "half of the slope: the sigmoid flattens where it nears 1 as well as where it nears 0"),
        Mistake(lambda c: {"dx": c.g * (1 - _sigmoid_of(c))},
                "half of the slope: the sigmoid flattens where it nears 0 as well as where it nears 1"),
    )),
    Exercise("06_tanh.py", "Tanh", _unary_cases(), (
        Case({"x": np.array([[-1.0, 0.5], [2.0, 0.0]]), "g": np.array([[1.0, 2.0], [-1.0, 0.5]])}),
    ), _unary, lambda c: {"dx": c.g * ref.tanh_derivative(c.x)}, _unary_graph, (
        Mistake(lambda c: {"dx": c.g * (1 - np.tanh(c.x))}, "tanh's slope uses the square of its output"),
    )),
    Exercise("07_softmax_cross_entropy.py", "SoftmaxCrossEntropy", _cross_entropy_cases, (
        Case({"z": np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0], [0.0, 0.0, 3.0]]),
              "onehot": np.eye(3)[[0, 2, 2]], "g": np.asarray(1.0)}, counts=(3,)),
    ), _cross_entropy,
        lambda c: {"dz": c.g * ref.softmax_cross_entropy_backward(_softmax(c.z), c.onehot) / len(c.z)},
        _cross_entropy_graph, (
        Mistake(lambda c: {"dz": (_softmax(c.z) - c.onehot) / len(c.z)},
                "g is missing: the loss may be scaled before backward runs (g is 1 only when the loss is the "
                "output), and every gradient scales with it"),
    )),
    Exercise("08_dense_layer.py", "dense_backward", _dense_cases, (
        _dense_case(np.array([[1.0, -0.5], [0.5, 2.0], [-1.0, 0.25]]),
                    np.array([[0.5, -1.0, 0.25, 1.5], [1.0, 0.5, -0.5, 0.0]]), np.array([0.1, -0.2, 0.0, 0.3]),
                    np.array([[1.0, -1.0, 0.5, 2.0], [0.5, 0.25, -1.0, 1.0], [-2.0, 1.0, 0.5, -0.5]])),
    ), _dense, lambda c: dict(zip(("dW", "db", "dA_prev"), ref.dense_backward(c.dA, c.X, c.z, c.W, "tanh"))),
        _dense_graph, (
        Mistake(lambda c: {"dA_prev": (c.dA * ref.tanh_derivative(c.z)) @ c.W.T / len(c.X)},
                "dA_prev is passed down one row per sample, as dA arrived: the 1/m belongs to dW and db only"),
    )),
    Exercise("09_dropout.py", "Dropout", _dropout_cases, (
        Case({"x": np.array([[1.0, -2.0, 0.5], [0.25, 1.5, -1.0]]), "mask": np.array([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]]),
              "g": np.array([[1.0, 0.5, -1.5], [2.0, -1.0, 0.25]])}),
    ), _dropout, lambda c: {"dx": ref.dropout_backward(c.g, c.mask)}, _dropout_graph, (
        Mistake(lambda c: {"dx": c.g * (c.mask > 0)},
                "the kept units were scaled up in the forward pass, and their gradients must be scaled the same way"),
    )),
    Exercise("10_batch_norm.py", "batch_norm_backward", _batch_norm_cases, (
        Case({"X": np.array([[1.0, -2.0], [0.5, 1.5], [2.0, 0.25], [-1.0, 0.75]]), "gamma": np.array([1.5, -0.5]),
              "beta": np.array([0.0, 1.0]), "dout": np.array([[1.0, -1.0], [0.5, 2.0], [-0.5, 0.25], [2.0, 1.0]])},
             counts=(4,)),
    ), _batch_norm, lambda c: dict(zip(("dX", "dgamma", "dbeta"),
                                       ref.batch_norm_backward(c.dout, ref.batch_norm_forward(c.X, c.gamma, c.beta)[1]))),
        _batch_norm_graph, (
        Mistake(_only_the_direct_path,
                "only the direct path: the batch mean and variance depend on every sample, so each sample also "
                "receives a share through each of them"),
    )),
    Exercise("11_adam.py", "adam_update", _adam_cases, (
        Case({"param": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.5, -1.0, 2.0]), "m": np.zeros(3),
              "v": np.zeros(3), "t": 1, "lr": 0.1}),
    ), _adam, _adam_expected, None, (
        Mistake(_adam_without_bias_correction,
                "no bias correction: m and v start at zero, so early on both must be divided by one minus their "
                "beta to the power t"),
        Mistake(_adam_without_square_root, "v estimates the gradient's square: the step divides by its square root"),
        Mistake(_adam_uphill, "a sign error: the update moved the parameter uphill, along the gradient"),
    )),
    Exercise("12_l2.py", "l2_backward", _l2_cases, (
        Case({"W": np.array([[1.0, -2.0], [0.5, 0.25]]), "l2_lambda": 0.1}),
    ), _l2, lambda c: {"dW": c.l2_lambda * c.W}, _l2_graph, (
        Mistake(lambda c: {"dW": 2 * c.l2_lambda * c.W},
                "twice too large: the 1/2 in front of the penalty cancels the 2 that the square brings down"),
    )),
)
