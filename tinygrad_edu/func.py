"""Function transforms in the style of JAX: ``grad``, ``value_and_grad``, ``elementwise_grad``,
``vjp``, ``jvp``, ``jacobian``, ``hessian`` and ``hvp``.

Each one takes a Python function of Tensors and hands back derivatives, built
on the same reverse sweep as ``Tensor.backward`` (``tg.grad``). Arguments may be
Tensors, NumPy arrays or numbers (numbers and lists take the default dtype;
floating arrays keep theirs).

>>> import numpy as np
>>> from tinygrad_edu import func
>>> def f(x):
...     return (x ** 3).sum()
>>> func.grad(f)(np.array([1.0, 2.0])).tolist()          # 3 x^2
[3.0, 12.0]
>>> func.grad(func.grad(lambda x: x ** 3))(2.0).item()   # 6 x
12.0

How they compose: while grad mode is on (the default) every result is recorded in
the graph (``create_graph=True``), so it can be differentiated again:
``grad(grad(f))``, ``jacobian(grad(f))`` (that is ``hessian``), or ``tg.grad`` of
a result with respect to a tensor ``f`` closes over. Inside ``tg.no_grad()`` the
results are plain constants, and cheaper to compute.

Shapes, for f taking x of shape X and returning y of shape Y:
  grad(f)(x)                 X          (f must return a single number)
  elementwise_grad(f)(x)     X          the gradient of sum(f(x)): f'(x) for an elementwise f
  jacobian(f)(x)             Y + X      J[i..., j...] = dy[i...] / dx[j...]
  hessian(f)(x)              X + X
  vjp(f, x) -> y, pullback   pullback(v of shape Y) -> (v^T J of shape X,)
  jvp(f, (x,), (t,))         (y, J t of shape Y)
  hvp(f, (x,), (v,))         (f(x), (H v of shape X,))
"""
from __future__ import annotations

import numpy as np

from .engine.function import ShapeError, enable_grad, is_grad_enabled
from .engine.composed import stack
from .engine.tensor import Tensor, get_default_dtype
from .guards.capture import grad as _tensor_grad

__all__ = ["grad", "value_and_grad", "elementwise_grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]


# ----------------------------------------------------------------------------- plumbing


def _argnums(argnums, nargs, op):
    """(positions as a tuple, whether one int was given) for ``argnums`` among ``nargs`` arguments."""
    single = isinstance(argnums, (int, np.integer))
    picked = (argnums,) if single else tuple(argnums)
    if not picked:
        raise ValueError(f"{op}: argnums is empty; name at least one argument to differentiate")
    for a in picked:
        if not isinstance(a, (int, np.integer)) or not -nargs <= a < nargs:
            raise ValueError(f"{op}: argnums {argnums!r} does not fit a call with {nargs} positional argument(s)")
    picked = tuple(int(a) % nargs for a in picked)
    if len(set(picked)) != len(picked):
        raise ValueError(f"{op}: argnums {argnums!r} names an argument twice")
    return picked, single


def _with_inputs(args, picked, op, differentiable):
    """``args`` as a list with each picked argument replaced by its own input node (see ``_input``)."""
    args = list(args)
    for i in picked:
        args[i] = _input(args[i], op, i, differentiable)
    return args


def _input(value, op, position, differentiable):
    """A tensor node of its own for one argument being differentiated.

    Differentiable mode: a tensor that already requires grad is passed through an
    identity op, so the results stay connected to it (how transforms compose) and
    two arguments holding the same tensor still get separate partial derivatives.
    Otherwise: a fresh leaf, cut from any graph the value belonged to.
    """
    if isinstance(value, Tensor):
        data = value.data
        if differentiable and value.requires_grad:
            return value.reshape(value.shape)
    elif isinstance(value, np.ndarray):
        data = value.copy()
    else:  # Python numbers and lists take the default dtype, as in Tensor(...)
        data = Tensor(value).data
    if data.dtype.kind != "f":
        raise TypeError(f"{op}: argument {position} has dtype {data.dtype}; only floating inputs can be differentiated")
    return Tensor._make(data).requires_grad_()


def _output(value, op):
    """What ``f`` returned, as a Tensor (a constant when it is not one)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)):
        raise TypeError(f"{op}: f must return a single Tensor, got a {type(value).__name__}")
    return Tensor._make(np.asarray(value, dtype=get_default_dtype()) if np.ndim(value) == 0 else np.asarray(value))


def _scalar(out, op):
    if out.size != 1:
        raise ShapeError(
            f"{op}: f must return a single number, got an output of shape {out.shape}; "
            "use jacobian or vjp for functions with several outputs"
        )
    return out


def _gradients(outputs, inputs, seeds, differentiable, retain):
    """d<outputs, seeds>/d inputs, with zeros (not None) for inputs the outputs do not depend on."""
    pairs = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    found = [None] * len(inputs)
    if pairs:
        found = _tensor_grad([o for o, _ in pairs], list(inputs), [s for _, s in pairs],
                             retain_graph=retain, create_graph=differentiable, allow_unused=True)
    return tuple(Tensor._make(np.zeros(x.shape, dtype=x.dtype)) if g is None else g for g, x in zip(found, inputs))


def _seed(value, like, op, what):
    """A cotangent/tangent for ``like``: same shape, ``like``'s dtype (a Tensor may carry a graph)."""
    if isinstance(value, Tensor):
        seed = value if value.dtype == like.dtype else value.astype(like.dtype)
    else:
        seed = Tensor._make(np.asarray(value, dtype=like.dtype))
    if seed.shape != like.shape:
        raise ShapeError(f"{op}: {what} has shape {seed.shape} but must have shape {like.shape}")
    return seed


def _as_pairs(primals, tangents, op):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{op}: primals and tangents must be tuples, e.g. {op}(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"{op}: got {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    return tuple(primals), tuple(tangents)


def _result(value, differentiable):
    return value if differentiable else value.detach()


# ----------------------------------------------------------------------------- reverse mode


def _split_aux(result, op):
    """``f``'s ``(output, aux)`` pair, when it was declared with ``has_aux=True``."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"{op}: with has_aux=True, f must return a pair (output, aux), "
                        f"got {type(result).__name__}{'' if not isinstance(result, tuple) else f' of {len(result)}'}")
    return result


def _aux_result(aux, differentiable):
    """``aux`` as f returned it; outside grad mode its tensors are cut from the graph (held no longer)."""
    if differentiable:
        return aux
    if isinstance(aux, Tensor):
        return aux.detach()
    if isinstance(aux, (tuple, list)):
        return type(aux)(_aux_result(a, differentiable) for a in aux)
    if isinstance(aux, dict):
        return {k: _aux_result(v, differentiable) for k, v in aux.items()}
    return aux


def value_and_grad(f, argnums=0, has_aux=False):
    """A function returning ``(f(*args), gradient)``; see ``grad``.

    With ``has_aux=True``, ``f`` returns a pair ``(output, aux)`` (aux: anything, e.g. the
    logits or an accuracy to log) and the result is ``((output, aux), gradient)``: only
    ``output`` is differentiated, as in JAX.
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def _value_and_grad(f, argnums, has_aux, op):
    def value_and_grad_f(*args, **kwargs):
        picked, single = _argnums(argnums, len(args), op)
        differentiable = is_grad_enabled()
        with enable_grad():
            args = _with_inputs(args, picked, op, differentiable)
            result = f(*args, **kwargs)
            value, aux = _split_aux(result, op) if has_aux else (result, None)
            out = _scalar(_output(value, op), op)
            grads = _gradients([out], [args[i] for i in picked], [None], differentiable, retain=differentiable)
        value, grads = _result(out, differentiable), (grads[0] if single else grads)
        return ((value, _aux_result(aux, differentiable)), grads) if has_aux else (value, grads)

    return value_and_grad_f


def grad(f, argnums=0, has_aux=False):
    """The gradient of a function that returns a single number.

    ``grad(f)(x, y)`` is df/dx, with x's shape; ``argnums=(0, 1)`` gives the tuple
    (df/dx, df/dy). Arguments f does not depend on get zeros. With ``has_aux=True``,
    f returns ``(output, aux)`` and the result is ``(gradient, aux)``.

    Examples:
        >>> import numpy as np
        >>> def loss(w):
        ...     predictions = w * np.array([1.0, 2.0])
        ...     return (predictions ** 2).sum(), predictions
        >>> gradient, predictions = grad(loss, has_aux=True)(np.array([3.0]))
        >>> gradient.tolist(), predictions.tolist()
        ([30.0], [3.0, 6.0])
    """
    value_and_grad_f = _value_and_grad(f, argnums, has_aux, "grad")

    def grad_f(*args, **kwargs):
        value, grads = value_and_grad_f(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return grad_f


def elementwise_grad(f, argnums=0):
    """The gradient of ``sum(f(x))``, of x's shape: each element's own derivative f'(x_i) when f acts elementwise.

    For ``f`` mapping each element on its own (``sin``, ``tanh``, an activation) the
    Jacobian is diagonal, and this is its diagonal, from one backward sweep:
    ``elementwise_grad(tg.tanh)(x)`` is ``1 - tanh(x)**2`` at every point of a grid x, the
    way to plot a derivative. For any other f it is still the gradient of sum(f(x))
    (column sums of the Jacobian), which is not a derivative of each output. Like
    HIPS autograd's ``elementwise_grad``; f may return any shape.

    Examples:
        >>> import numpy as np
        >>> elementwise_grad(lambda x: x ** 3)(np.array([1.0, 2.0, -1.0])).tolist()
        [3.0, 12.0, 3.0]
    """

    def elementwise_grad_f(*args, **kwargs):
        picked, single = _argnums(argnums, len(args), "elementwise_grad")
        differentiable = is_grad_enabled()
        with enable_grad():
            args = _with_inputs(args, picked, "elementwise_grad", differentiable)
            out = _output(f(*args, **kwargs), "elementwise_grad")
            ones = Tensor._make(np.ones(out.shape, dtype=out.dtype))
            grads = _gradients([out], [args[i] for i in picked], [ones], differentiable, retain=differentiable)
        return grads[0] if single else grads

    return elementwise_grad_f


def vjp(f, *primals):
    """``(f(*primals), pullback)``: ``pullback(v)`` is the tuple of v^T J, one per primal.

    ``f`` returns one Tensor y; ``v`` has y's shape. The pullback may be called many times.
    """
    differentiable = is_grad_enabled()
    with enable_grad():
        inputs = [_input(p, "vjp", i, differentiable) for i, p in enumerate(primals)]
        out = _output(f(*inputs), "vjp")

    def pullback(cotangent):
        seed = _seed(cotangent, out, "vjp pullback", "the cotangent")
        with enable_grad():
            return _gradients([out], inputs, [seed], differentiable, retain=True)

    return _result(out, differentiable), pullback


def jacobian(f, argnums=0):
    """A function returning the Jacobian of ``f``, of shape ``y.shape + x.shape``.

    Built one row at a time with a vector-Jacobian product per output element.
    With ``argnums`` a tuple, a tuple (one Jacobian per argument); when f returns a
    tuple of Tensors, a tuple (one entry per output).
    """

    def jacobian_f(*args, **kwargs):
        picked, single = _argnums(argnums, len(args), "jacobian")
        differentiable = is_grad_enabled()
        with enable_grad():
            args = _with_inputs(args, picked, "jacobian", differentiable)
            inputs = [args[i] for i in picked]
            result = f(*args, **kwargs)
            several = isinstance(result, (tuple, list))
            outputs = [_output(y, "jacobian") for y in (result if several else [result])]
            per_output = []
            for y in outputs:
                rows = [_gradients([y], inputs, [_one_hot(y, k)], differentiable, retain=True) for k in range(y.size)]
                jacobians = tuple(_stack_rows([row[j] for row in rows], y, x, differentiable)
                                  for j, x in enumerate(inputs))
                per_output.append(jacobians[0] if single else jacobians)
        return tuple(per_output) if several else per_output[0]

    return jacobian_f


def _one_hot(y, k):
    seed = np.zeros(y.shape, dtype=y.dtype)
    seed.flat[k] = 1
    return Tensor._make(seed)


def _stack_rows(rows, y, x, differentiable):
    """Rows d y.flat[k] / dx (each of x's shape) -> one tensor of shape y.shape + x.shape."""
    if not rows:
        return Tensor._make(np.zeros(y.shape + x.shape, dtype=x.dtype))
    if differentiable:
        return stack(rows).reshape(y.shape + x.shape)
    return Tensor._make(np.stack([r.data for r in rows]).reshape(y.shape + x.shape))


def hessian(f, argnums=0):
    """A function returning the matrix of second derivatives of a scalar ``f``: shape x.shape + x.shape.

    The Jacobian of the gradient. With ``argnums`` a tuple, a nested tuple:
    ``hessian(f, (0, 1))(x, y)[i][j]`` is d^2 f / d arg_i d arg_j.
    """
    return jacobian(grad(f, argnums), argnums)


# ----------------------------------------------------------------------------- forward mode


def jvp(f, primals, tangents):
    """``(f(*primals), J t)``: the directional derivative of f along ``tangents``.

    ``primals`` and ``tangents`` are tuples with one entry per argument, each tangent
    with its primal's shape. Forward mode through two reverse sweeps (the "double
    vjp"): u -> J^T u is linear in u, so the gradient of <J^T u, t> with respect to
    u is J t, whatever u is.
    """
    primals, tangents = _as_pairs(primals, tangents, "jvp")
    differentiable = is_grad_enabled()
    with enable_grad():
        inputs = [_input(p, "jvp", i, differentiable) for i, p in enumerate(primals)]
        tangents = [_seed(t, x, "jvp", f"tangent {i}") for i, (t, x) in enumerate(zip(tangents, inputs))]
        out = _output(f(*inputs), "jvp")
        dummy = Tensor._make(np.zeros(out.shape, dtype=out.dtype)).requires_grad_()
        pulled = _gradients([out], inputs, [dummy], differentiable=True, retain=True)  # J^T u, recorded
        (pushed,) = _gradients(pulled, [dummy], tangents, differentiable, retain=differentiable)
    return _result(out, differentiable), pushed


def hvp(f, primals, tangents):
    """``(f(*primals), H v)`` for a scalar ``f``: the Hessian times ``tangents`` without forming H.

    Reverse over reverse: H v is the gradient of <grad f(x), v>. ``primals`` and
    ``tangents`` are tuples; H v comes back as a tuple with one entry per primal.
    """
    primals, tangents = _as_pairs(primals, tangents, "hvp")
    differentiable = is_grad_enabled()
    with enable_grad():
        inputs = [_input(p, "hvp", i, differentiable) for i, p in enumerate(primals)]
        tangents = [_seed(t, x, "hvp", f"tangent {i}") for i, (t, x) in enumerate(zip(tangents, inputs))]
        out = _scalar(_output(f(*inputs), "hvp"), "hvp")
        grads = _gradients([out], inputs, [None], differentiable=True, retain=True)
        products = _gradients(grads, inputs, tangents, differentiable, retain=differentiable)
    return _result(out, differentiable), products
