"""Finite-difference gradient checking: proof that the graph's gradients are right.

``gradcheck`` compares the analytic Jacobian (one backward pass per output
element) with central differences, ``(f(x + eps) - f(x - eps)) / (2 eps)``, one
input element at a time, in float64. ``gradgradcheck`` applies the same test to
the gradient function itself (built with ``create_graph=True``), so second
derivatives are checked too. A mismatch names the input, the element, both
values and the worst errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine.tensor import Tensor
from ..guards.capture import grad


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numerical gradients disagree."""


@dataclass
class GradcheckResult:
    """What a gradient check found: ``passed``, the worst errors, and where.

    Attributes:
        passed: every element agreed within ``atol + rtol * |numerical|``.
        max_abs_error: the largest |analytic - numerical| over all elements.
        max_rel_error: the largest relative error among elements whose absolute
            error exceeds ``atol``.
        message: "ok", or the mismatches joined by "; ".
        details: one line per mismatching input: element, both values, errors.

    A result is truthy when it passed.
    """

    passed: bool
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    message: str = "ok"
    details: list = field(default_factory=list)

    def __bool__(self):
        return self.passed


def _as_tuple(values):
    if isinstance(values, Tensor):
        return (values,)
    return tuple(values)


def _differentiable(inputs, op):
    picked = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != np.float64:
                raise TypeError(
                    f"{op}: input {i} has dtype {t.dtype}; finite differences need float64 inputs "
                    "(float32 rounding, about 1e-7, swamps a step of 1e-6). Use tg.Tensor(..., dtype=np.float64)"
                )
            picked.append(i)
    if not picked:
        raise ValueError(f"{op}: no input requires grad, so there is nothing to check")
    return picked


def _evaluate(func, inputs):
    """Outputs of ``func`` as float64 arrays (recorded, as a gradient function needs a graph)."""
    outs = _as_tuple(func(*inputs))
    return [np.array(o.data if isinstance(o, Tensor) else o, dtype=np.float64) for o in outs]


def _analytic_jacobians(func, inputs, picked):
    """One (total output size, input size) Jacobian per differentiable input, row by row."""
    outputs = [o for o in _as_tuple(func(*inputs))]
    total = sum(o.size for o in outputs)
    jac = [np.zeros((total, inputs[i].size)) for i in picked]
    row = 0
    for o in outputs:
        for j in range(o.size):
            if o.requires_grad:
                seed = np.zeros(o.shape, dtype=o.dtype)
                seed.flat[j] = 1.0
                grads = grad(o, [inputs[i] for i in picked], seed, retain_graph=True, allow_unused=True)
                for k, g in enumerate(grads):
                    if g is not None:
                        jac[k][row] = g.data.ravel()
            row += 1
    return jac


def _numerical_jacobians(func, inputs, picked, eps):
    jac = []
    for i in picked:
        base = inputs[i].data
        columns = []
        for k in range(base.size):
            shifted = []
            for step in (eps, -eps):
                moved = base.copy()
                moved.flat[k] += step
                trial = list(inputs)
                trial[i] = Tensor._make(moved).requires_grad_()
                shifted.append(np.concatenate([o.ravel() for o in _evaluate(func, trial)] or [np.zeros(0)]))
            columns.append((shifted[0] - shifted[1]) / (2 * eps))
        jac.append(np.stack(columns, axis=1) if columns else np.zeros((0, 0)))
    return jac


def _compare(analytic, numerical, picked, inputs, atol, rtol, kind):
    worst_abs = worst_rel = 0.0
    details = []
    for a, n, i in zip(analytic, numerical, picked):
        if a.size == 0:
            continue
        err = np.abs(a - n)
        rel = err / np.maximum(np.abs(n), 1e-12)
        worst_abs = max(worst_abs, float(np.max(err)))
        # relative error only where the derivative is not ~0: err / |n| near 0 is noise, not a measure
        meaningful = np.abs(n) > atol
        worst_rel = max(worst_rel, float(np.max(np.where(meaningful, rel, 0.0), initial=0.0)))
        # NaN counts as a mismatch (a NaN on both sides proves nothing); equal infinities agree
        bad = ~(err <= atol + rtol * np.abs(n)) & (a != n)
        if bad.any():
            row, col = np.unravel_index(np.argmax(np.where(bad, err, -1)), bad.shape)
            where = np.unravel_index(col, inputs[i].shape) if inputs[i].ndim else ()
            details.append(
                f"{kind}: input {i} (shape {inputs[i].shape}), element {tuple(int(w) for w in where)}, "
                f"output element {int(row)}: analytic {a[row, col]:.10g} vs numerical {n[row, col]:.10g} "
                f"(abs error {err[row, col]:.3g}, rel error {rel[row, col]:.3g})"
            )
    return worst_abs, worst_rel, details


def check_gradients(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, seed=0) -> GradcheckResult:
    """Run the check and return a ``GradcheckResult`` (never raises for a mismatch).

    Takes the arguments of ``gradcheck``; ``seed`` fixes the random projections of
    ``fast_mode``.

    Examples:
        >>> import numpy as np, tinygrad_edu as tg
        >>> x = tg.Tensor(np.array([0.5, 1.5]), requires_grad=True)
        >>> result = check_gradients(lambda t: t * t * t, [x])
        >>> result.passed, result.max_abs_error < 1e-8
        (True, True)
    """
    inputs = _as_tuple(inputs)
    picked = _differentiable(inputs, "gradcheck")
    if fast_mode:
        return _fast_check(func, inputs, picked, eps, atol, rtol, seed)
    analytic = _analytic_jacobians(func, inputs, picked)
    numerical = _numerical_jacobians(func, inputs, picked, eps)
    worst_abs, worst_rel, details = _compare(analytic, numerical, picked, inputs, atol, rtol, "gradcheck")
    message = "; ".join(details) if details else "ok"
    return GradcheckResult(not details, worst_abs, worst_rel, message, details)


def _fast_check(func, inputs, picked, eps, atol, rtol, seed):
    """Compare v^T J u, for random u and v, instead of whole Jacobians: cheap for large inputs."""
    rng = np.random.default_rng(seed)
    outputs = _as_tuple(func(*inputs))
    vs = [rng.standard_normal(o.shape) for o in outputs]
    live = [(o, v) for o, v in zip(outputs, vs) if o.requires_grad]
    analytic_grads = grad([o for o, _ in live], [inputs[i] for i in picked], [v for _, v in live],
                          retain_graph=True, allow_unused=True) if live else [None] * len(picked)
    worst_abs = worst_rel = 0.0
    details = []
    for i, g in zip(picked, analytic_grads):
        u = rng.standard_normal(inputs[i].shape)
        analytic = float(np.sum(g.data * u)) if g is not None else 0.0
        values = []
        for step in (eps, -eps):
            trial = list(inputs)
            trial[i] = Tensor._make(inputs[i].data + step * u).requires_grad_()
            values.append(sum(float(np.sum(o * v)) for o, v in zip(_evaluate(func, trial), vs)))
        numerical = (values[0] - values[1]) / (2 * eps)
        err = abs(analytic - numerical)
        worst_abs = max(worst_abs, err)
        worst_rel = max(worst_rel, err / max(abs(numerical), 1e-12))
        if not err <= atol + rtol * abs(numerical):
            details.append(
                f"gradcheck (fast mode): input {i} (shape {inputs[i].shape}): v^T J u analytic "
                f"{analytic:.10g} vs numerical {numerical:.10g} (abs error {err:.3g})"
            )
    return GradcheckResult(not details, worst_abs, worst_rel, "; ".join(details) or "ok", details)


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, fast_mode=False) -> bool:
    """Check ``func``'s gradients against central finite differences in float64.

    Every element of every input that requires grad is moved by ``+eps`` and ``-eps``;
    ``(f(x + eps) - f(x - eps)) / (2 eps)`` is compared with the Jacobian that
    backward passes build, one output element at a time.

    Args:
        func: a callable taking the tensors in ``inputs`` and returning a Tensor or a
            tuple of them.
        inputs: a Tensor or a sequence; those with ``requires_grad=True`` are checked
            and must be float64.
        eps: the finite-difference step.
        atol: absolute tolerance: an element passes when
            ``|analytic - numerical| <= atol + rtol * |numerical|``.
        rtol: relative tolerance (see ``atol``).
        raise_exception: raise on a mismatch (otherwise return False).
        fast_mode: compare the random projections ``v^T J u`` instead of whole
            Jacobians (cheap for large inputs).

    Returns:
        True when every element agrees.

    Raises:
        GradcheckError: on a mismatch, naming the input, the element and both values.
        TypeError: when an input to check is not float64.

    Examples:
        >>> import numpy as np, tinygrad_edu as tg
        >>> x = tg.Tensor(np.array([0.5, 1.5]), requires_grad=True)
        >>> tg.gradcheck(lambda t: (t.exp() * t).sum(), [x])
        True
    """
    result = check_gradients(func, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode)
    if not result.passed and raise_exception:
        raise GradcheckError(
            f"{result.message} [worst abs error {result.max_abs_error:.3g}, worst rel error {result.max_rel_error:.3g}]"
        )
    return result.passed


def _gradient_function(func, inputs, picked):
    """(inputs..., grad_outputs...) -> the first derivatives, themselves recorded (create_graph)."""
    count = len(inputs)

    def first_derivatives(*args):
        ins, grad_outputs = args[:count], args[count:]
        outputs = [o for o in _as_tuple(func(*ins)) if o.requires_grad]
        grads = grad(outputs, [ins[i] for i in picked], list(grad_outputs[: len(outputs)]),
                      create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor._make(np.zeros(ins[i].shape)) for g, i in zip(grads, picked))

    return first_derivatives


def check_second_order(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, seed=0):
    """Like ``check_gradients`` for the gradient of ``func``: returns a ``GradcheckResult``."""
    inputs = _as_tuple(inputs)
    picked = _differentiable(inputs, "gradgradcheck")
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        outputs = [o for o in _as_tuple(func(*inputs)) if o.requires_grad]
        grad_outputs = [Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs]
    else:
        grad_outputs = [g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=np.float64)) for g in _as_tuple(grad_outputs)]
        grad_outputs = [g if g.requires_grad else Tensor(g.data, requires_grad=True, dtype=np.float64) for g in grad_outputs]
    result = check_gradients(_gradient_function(func, inputs, picked), (*inputs, *grad_outputs),
                             eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, seed=seed)
    result.details = [d.replace("gradcheck", "gradgradcheck", 1) for d in result.details]
    result.message = "; ".join(result.details) or "ok"
    return result


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  fast_mode=False) -> bool:
    """Check second derivatives: gradcheck applied to ``inputs -> grad(func(inputs), inputs, v)``.

    ``grad_outputs`` (the v above) defaults to seeded random float64 tensors; the
    other arguments are those of ``gradcheck``.

    Examples:
        >>> import numpy as np, tinygrad_edu as tg
        >>> x = tg.Tensor(np.array([0.5, 1.5]), requires_grad=True)
        >>> tg.gradgradcheck(lambda t: t.tanh(), [x])
        True
    """
    result = check_second_order(func, inputs, grad_outputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode)
    if not result.passed and raise_exception:
        raise GradcheckError(
            f"{result.message} [worst abs error {result.max_abs_error:.3g}, worst rel error {result.max_rel_error:.3g}]"
        )
    return result.passed
