"""Hypothesis strategies and a ``check_op`` helper, so you can property-test your own ops.

This is how tinygrad_edu tests itself: draw shapes (0-d, size-1 dims, broadcastable
pairs, batched matmul shapes) and values kept away from kinks, then compare the
op's gradients with central finite differences in float64.

Needs hypothesis (the ``test`` extra); nothing else in the package imports it.

Examples:
    >>> from hypothesis import given
    >>> from tinygrad_edu.testing import arrays, shapes, check_op
    >>> @given(arrays(shapes()))
    ... def test_my_square(x):
    ...     check_op(lambda t: t * t, x, np_fn=lambda a: a * a)
    >>> test_my_square()  # runs the drawn examples; raises on a wrong gradient
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .engine.tensor import Tensor
from .guards.capture import grad
from .tools.gradcheck import GradcheckError, check_gradients, check_second_order
from .tools.opspec import OpSpec, draw_values

__all__ = ["shapes", "broadcastable_shapes", "matmul_shapes", "valid_axes", "arrays", "tensors",
           "spec_inputs", "check_op", "check_spec", "check_against"]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    """Array shapes, including 0-d () and size-1 dimensions."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3):
    """A tuple of ``num_shapes`` shapes that broadcast together (NumPy's rules)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=1, max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims=2, max_side=3):
    """(shape_a, shape_b) valid for ``a @ b``: 1-D, 2-D, and batched with broadcasting batch dims."""
    return hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_batch_dims,
                                             min_side=1, max_side=max_side).map(lambda b: b.input_shapes)


def valid_axes(ndim):
    """An ``axis`` argument for a reduction over ``ndim`` dims: None, an int (maybe negative) or a tuple."""
    choices = [st.none(), st.just(())]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return st.one_of(*choices)


def arrays(shape, dtype=np.float64, low=-2.0, high=2.0, min_abs=0.0, distinct=False):
    """Arrays of ``shape`` (a shape or a strategy of shapes) with values in [low, high].

    ``min_abs`` keeps values off a kink at 0 (relu, abs); ``distinct`` spaces all values
    apart (max, min), so every op is differentiable at the drawn point.
    """
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    spec = OpSpec("drawn", None, None, low=low, high=high, min_abs=min_abs, distinct=distinct)
    return st.tuples(shape_strategy, st.integers(0, 2**32 - 1)).map(
        lambda pair: draw_values(spec, pair[0], np.random.default_rng(pair[1]), dtype)
    )


def tensors(shape, dtype=np.float64, requires_grad=True, **value_options):
    """Tensors built from ``arrays(shape, dtype, **value_options)``."""
    return arrays(shape, dtype, **value_options).map(lambda a: Tensor(a, requires_grad=requires_grad))


# The input shapes each kind of registry row is checked on; unary and reduce rows take one drawn shape.
_INPUT_SHAPES = {
    "binary": lambda spec: broadcastable_shapes(2, min_dims=spec.min_dims),
    "matmul": lambda spec: matmul_shapes(),
    "any": lambda spec: st.just(tuple(spec.shapes)),
}


def _single_shape(spec):
    return shapes(min_dims=spec.min_dims).map(lambda shape: (shape,))


@st.composite
def spec_inputs(draw, spec: OpSpec):
    """(arrays, extra keyword arguments) for one row of the op registry, with drawn shapes."""
    options = dict(low=spec.low, high=spec.high, min_abs=spec.min_abs, distinct=spec.distinct)
    in_shapes = draw(_INPUT_SHAPES.get(spec.kind, _single_shape)(spec))
    if spec.distinct and len(in_shapes) > 1:  # distinct across all inputs, not only within one
        values = draw(arrays((sum(int(np.prod(s)) for s in in_shapes),), **options))
        bounds = np.cumsum([0] + [int(np.prod(s)) for s in in_shapes])
        result = [values[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], in_shapes)]
    else:
        result = [draw(arrays(s, **options)) for s in in_shapes]
    extra = {}
    if spec.kind == "reduce":
        extra = {"axis": draw(valid_axes(len(in_shapes[0]))), "keepdims": draw(st.booleans())}
    return result, extra


def check_op(fn, *arrays, np_fn=None, second_order=True, eps=1e-6, atol=1e-5, rtol=1e-3, **kwargs):
    """Assert that ``fn`` (on float64 tensors made from ``arrays``) has correct gradients.

    Checks the forward against ``np_fn`` when given, first derivatives by gradcheck and,
    with ``second_order``, second derivatives by gradgradcheck. It also checks that the
    two ways every backward rule runs agree: on plain arrays (an ordinary backward) and
    recorded on Tensors (``create_graph=True``), since gradgradcheck alone would accept a
    recorded rule that is off by a constant factor. Raises on any mismatch.

    Args:
        fn: the op on tensors, called as ``fn(*tensors, **kwargs)``.
        *arrays: the input values (converted to float64 tensors that require grad).
        np_fn: the same computation in NumPy, for the forward check (optional).
        second_order: also check second derivatives.
        eps: the finite-difference step, as in ``gradcheck``.
        atol: absolute tolerance, as in ``gradcheck``.
        rtol: relative tolerance, as in ``gradcheck``.
        **kwargs: extra keyword arguments passed to ``fn`` and ``np_fn``.

    Raises:
        AssertionError: the forward differs from ``np_fn``, or the two backward modes disagree.
        GradcheckError: a first or second derivative is wrong.

    Examples:
        >>> import numpy as np
        >>> check_op(lambda t: t.sin() * t, np.array([0.3, -1.2]), np_fn=lambda a: np.sin(a) * a)
    """
    inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]

    def call(*tensors):
        return fn(*tensors, **kwargs)

    if np_fn is not None:
        expected = np.asarray(np_fn(*[np.asarray(a, dtype=np.float64) for a in arrays], **kwargs))
        got = call(*inputs)
        if got.shape != expected.shape or not np.allclose(got.data, expected, rtol=1e-10, atol=1e-12):
            raise AssertionError(f"forward differs from NumPy: shape {got.shape} vs {expected.shape}, "
                                 f"max difference {np.max(np.abs(got.data - expected), initial=0):.3g}")
    result = check_gradients(call, inputs, eps=eps, atol=atol, rtol=rtol)
    if not result.passed:
        raise GradcheckError(result.message)
    if second_order:
        _check_backward_modes_agree(call, inputs)
        result = check_second_order(call, inputs, eps=eps, atol=atol, rtol=rtol)
        if not result.passed:
            raise GradcheckError(result.message)


def _check_backward_modes_agree(call, inputs):
    """The array-mode and the recorded (create_graph) backward give the same first derivatives."""
    outputs = call(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    live = [o for o in outputs if o.requires_grad]
    if not live:
        return
    seeds = [np.random.default_rng(1).standard_normal(o.shape) for o in live]
    plain = grad(live, inputs, seeds, retain_graph=True, allow_unused=True)
    recorded = grad(live, inputs, [Tensor(s) for s in seeds], create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(plain, recorded)):
        if (a is None) != (b is None) or (a is not None and not np.allclose(a.data, b.data, rtol=1e-12, atol=1e-12)):
            raise AssertionError(f"input {i}: the recorded backward (create_graph=True) differs from the array backward")


def check_spec(spec: OpSpec, arrays, extra):
    """``check_op`` for one registry row."""
    check_op(spec.fn, *arrays, np_fn=spec.np_fn, second_order=spec.second_order, **extra)


def check_against(fn, inputs, expected_grads, rtol=1e-10, atol=1e-12, eps=1e-6, fd_atol=1e-5, fd_rtol=1e-3):
    """Three-way agreement: the graph's gradients of the scalar ``fn(*inputs)``, hand-written
    ``expected_grads`` (one array per input) and central finite differences.

    ``inputs`` are float64 arrays or tensors; the graph must match ``expected_grads`` to
    ``rtol``/``atol`` (float64 round-off) and the finite differences to ``fd_rtol``/``fd_atol``.
    Returns the graph's gradients as arrays. Raises AssertionError naming the input on a mismatch.
    """
    tensors = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
               for x in inputs]
    if len(expected_grads) != len(tensors):
        raise ValueError(f"check_against: {len(expected_grads)} expected gradients for {len(tensors)} inputs")
    out = fn(*tensors)
    if out.size != 1:
        raise ValueError(f"check_against: fn must return a single number, got shape {out.shape}")
    graph = [g.data for g in grad(out, tensors)]
    for i, (got, want) in enumerate(zip(graph, expected_grads)):
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
            worst = np.max(np.abs(got - want)) if got.shape == want.shape else float("nan")
            raise AssertionError(f"input {i} (shape {tensors[i].shape}): graph gradient differs from the hand-written "
                                 f"one (shapes {got.shape} vs {want.shape}, max difference {worst:.3g})")
    result = check_gradients(fn, tensors, eps=eps, atol=fd_atol, rtol=fd_rtol)
    if not result.passed:
        raise GradcheckError(result.message)
    return graph
