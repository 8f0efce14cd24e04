"""The op registry: one row per public differentiable op, with what a gradient check needs.

Each ``OpSpec`` says how to call the op, its NumPy equivalent (the forward is
checked against it), which inputs it takes, which values keep it away from kinks
and domain edges, and whether it is twice differentiable. The test suite sweeps
this table with hypothesis-drawn shapes; ``tinygrad-edu gradcheck`` sweeps it
with fixed shapes; and a test fails when a public op is missing from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..engine import composed as F


@dataclass(frozen=True)
class OpSpec:
    """How to check one op.

    Attributes:
        name: label in reports.
        fn: the op on tensors; ``reduce`` ops take (x, axis, keepdims).
        np_fn: the same computation in NumPy (arrays in, array out), for the forward check.
        kind: unary | binary (mutually broadcastable) | reduce | matmul | any (fixed shapes).
        covers: the public names this row tests ("Tensor.exp", "tg.exp", ...).
        low: the lower end of the range values are drawn from.
        high: the upper end of that range (a positive ``low`` keeps log and sqrt in their domain).
        min_abs: keep |x| >= min_abs (kinks at 0).
        distinct: all values distinct (max/min ties are not differentiable).
        second_order: also run gradgradcheck.
        min_dims: the fewest dimensions the op accepts.
        shapes: for kind "any": the fixed input shapes.
    """

    name: str
    fn: Callable
    np_fn: Callable
    kind: str = "unary"
    covers: tuple = ()
    low: float = -2.0
    high: float = 2.0
    min_abs: float = 0.0
    distinct: bool = False
    second_order: bool = True
    min_dims: int = 0
    shapes: tuple = ()

    @property
    def arity(self) -> int:
        """How many tensor inputs ``fn`` takes."""
        return {"unary": 1, "reduce": 1, "binary": 2, "matmul": 2}.get(self.kind, len(self.shapes))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _both(name):
    return (f"Tensor.{name}", f"tg.{name}")


def _unary(name, np_fn, **kw):
    return OpSpec(name, lambda x: getattr(x, name)(), np_fn, "unary", kw.pop("covers", _both(name)), **kw)


def _reduce(name, np_fn, **kw):
    return OpSpec(name, lambda x, axis, keepdims: getattr(x, name)(axis=axis, keepdims=keepdims),
                  lambda x, axis, keepdims: np_fn(x, axis=axis, keepdims=keepdims), "reduce",
                  kw.pop("covers", _both(name)), **kw)


def _binary(name, fn, np_fn, covers, **kw):
    return OpSpec(name, fn, np_fn, "binary", covers, **kw)


REGISTRY: tuple = (
    # ---- elementwise unary
    _unary("exp", np.exp),
    _unary("log", np.log, low=0.2, high=3.0),
    _unary("sqrt", np.sqrt, low=0.2, high=3.0),
    _unary("abs", np.abs, min_abs=0.05, covers=_both("abs") + ("Tensor.__abs__",)),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tanh", np.tanh),
    _unary("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    _unary("relu", lambda x: np.maximum(x, 0), min_abs=0.05),
    OpSpec("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: np.where(x > 0, x, 0.1 * x),
           covers=_both("leaky_relu"), min_abs=0.05),
    OpSpec("clip", lambda x: x.clip(-1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0), covers=_both("clip"),
           low=-3.0, high=3.0, min_abs=0.05, second_order=True),
    OpSpec("neg", lambda x: -x, np.negative, covers=("Tensor.__neg__", "Tensor.__pos__", "tg.negative")),
    # piecewise constant: zero gradient, checked away from the jumps
    _unary("sign", np.sign, min_abs=0.05),
    OpSpec("round", lambda x: x.round(1), lambda x: np.round(x, 1), covers=_both("round"), low=0.02, high=0.04),
    OpSpec("astype", lambda x: x.astype(np.float64) * 1.0, lambda x: x * 1.0,
           covers=("Tensor.astype", "Tensor.double", "Tensor.float", "tg.astype")),
    # ---- broadcasting binary (operators and their reflected forms)
    _binary("add", lambda x, y: x + y, np.add, ("Tensor.__add__", "tg.add")),
    _binary("sub", lambda x, y: x - y, np.subtract, ("Tensor.__sub__", "tg.subtract")),
    _binary("mul", lambda x, y: x * y, np.multiply, ("Tensor.__mul__", "tg.multiply")),
    _binary("div", lambda x, y: x / y, np.divide, ("Tensor.__truediv__", "tg.divide"), min_abs=0.3),
    _binary("pow", lambda x, y: x**y, np.power, ("Tensor.__pow__", "tg.power"), low=0.3, high=2.0),
    OpSpec("dot", F.dot, np.dot, "any", ("tg.dot",), shapes=((2, 3), (3,))),
    _binary("maximum", F.maximum, np.maximum, ("tg.maximum",), distinct=True),
    _binary("minimum", F.minimum, np.minimum, ("tg.minimum",), distinct=True),
    _binary("where", lambda x, y: F.where(x.data > 0, x, y), lambda x, y: np.where(x > 0, x, y),
            ("tg.where",), min_abs=0.05),
    # reflected forms: a Python number or an ndarray on the left
    OpSpec("radd", lambda x: 3.0 + x, lambda x: 3.0 + x, covers=("Tensor.__radd__",)),
    OpSpec("rsub", lambda x: np.full(x.shape, 2.0) - x, lambda x: 2.0 - x, covers=("Tensor.__rsub__",)),
    OpSpec("rmul", lambda x: 3.0 * x, lambda x: 3.0 * x, covers=("Tensor.__rmul__",)),
    OpSpec("rtruediv", lambda x: 1.5 / x, lambda x: 1.5 / x, covers=("Tensor.__rtruediv__",), min_abs=0.3),
    OpSpec("rpow", lambda x: 2.0**x, lambda x: 2.0**x, covers=("Tensor.__rpow__",)),
    OpSpec("rmatmul", lambda x: np.array([[1.0, -2.0, 0.5]]) @ x, lambda x: np.array([[1.0, -2.0, 0.5]]) @ x,
           "any", ("Tensor.__rmatmul__",), shapes=((3, 2),)),
    # ---- matmul: 1-D, 2-D and batched N-D with broadcasting
    OpSpec("matmul", lambda x, y: x @ y, np.matmul, "matmul", ("Tensor.__matmul__", "Tensor.matmul", "tg.matmul")),
    # ---- reductions over axis=None|int|tuple, keepdims
    _reduce("sum", np.sum),
    _reduce("mean", np.mean),
    _reduce("max", np.max, distinct=True),
    _reduce("min", np.min, distinct=True),
    _reduce("var", np.var),
    # std is not differentiable where the variance is 0, so it gets fixed shapes of distinct values
    OpSpec("std", lambda x: x.std(axis=0) + x.std(axis=(0, 1), keepdims=True),
           lambda x: np.std(x, axis=0) + np.std(x, axis=(0, 1), keepdims=True), "any", _both("std"),
           distinct=True, shapes=((3, 2),)),
    _reduce("logsumexp", _np_logsumexp),
    OpSpec("softmax", lambda x: x.softmax(axis=-1), _np_softmax, covers=_both("softmax"), min_dims=1),
    OpSpec("log_softmax", lambda x: x.log_softmax(axis=0), lambda x: np.log(_np_softmax(x, axis=0)),
           covers=_both("log_softmax"), min_dims=1),
    OpSpec("var_ddof1", lambda x: x.var(axis=0, ddof=1), lambda x: np.var(x, axis=0, ddof=1), min_dims=1,
           shapes=((3, 2),), kind="any"),
    # ---- movement
    OpSpec("reshape", lambda x: x.reshape(-1), lambda x: x.reshape(-1), covers=("Tensor.reshape", "tg.reshape")),
    OpSpec("transpose", lambda x: x.transpose(), np.transpose, covers=("Tensor.transpose", "tg.transpose", "Tensor.T")),
    OpSpec("swapaxes", lambda x: x.swapaxes(0, -1), lambda x: np.swapaxes(x, 0, -1), covers=_both("swapaxes"),
           min_dims=1),
    OpSpec("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), covers=_both("flatten")),
    OpSpec("squeeze", lambda x: x.squeeze(), np.squeeze, covers=_both("squeeze")),
    OpSpec("expand_dims", lambda x: x.expand_dims(0), lambda x: np.expand_dims(x, 0), covers=_both("expand_dims")),
    OpSpec("broadcast_to", lambda x: x.broadcast_to((2,) + x.shape), lambda x: np.broadcast_to(x, (2,) + x.shape),
           covers=("Tensor.broadcast_to", "tg.broadcast_to")),
    OpSpec("getitem_basic", lambda x: x[..., None, ::-1][0:2], lambda x: x[..., None, ::-1][0:2],
           covers=("Tensor.__getitem__",), min_dims=1),
    OpSpec("getitem_int_array", lambda x: x[np.array([0, 0, -1])], lambda x: x[np.array([0, 0, -1])], min_dims=1),
    OpSpec("getitem_bool_mask", lambda x: x[x.data > 0], lambda x: x[x > 0], min_abs=0.05),
    OpSpec("pad", lambda x: x.pad(1, value=0.5), lambda x: np.pad(x, 1, constant_values=0.5), covers=_both("pad"),
           min_dims=1),
    OpSpec("pad_per_axis", lambda x: x.pad(((0, 1), (2, 0))), lambda x: np.pad(x, ((0, 1), (2, 0))), "any",
           shapes=((2, 3),)),
    OpSpec("concatenate", lambda x, y: F.concatenate([x, y], axis=1), lambda x, y: np.concatenate([x, y], axis=1),
           "any", ("tg.concatenate",), shapes=((2, 3), (2, 2))),
    OpSpec("stack", lambda x, y: F.stack([x, y], axis=-1), lambda x, y: np.stack([x, y], axis=-1),
           "any", ("tg.stack",), shapes=((2, 3), (2, 3))),
)
"""One row per public differentiable op; the test suite sweeps it with hypothesis-drawn shapes."""

NOT_DIFFERENTIABLE = frozenset({
    "Tensor.argmax", "Tensor.argmin", "tg.argmax", "tg.argmin", "Tensor.any", "Tensor.all", "tg.any", "tg.all",
    "Tensor.__eq__", "Tensor.__ne__", "Tensor.__lt__", "Tensor.__le__", "Tensor.__gt__", "Tensor.__ge__",
    "Tensor.__and__", "Tensor.__or__", "Tensor.__invert__",
})
"""Public names that are deliberately not differentiable: the coverage test accepts them without a row."""


def sample_inputs(spec: OpSpec, rng: np.random.Generator, dtype=np.float64):
    """Fixed-shape float64 inputs for ``spec`` (what ``tinygrad-edu gradcheck`` uses).

    Returns (arrays, extra keyword arguments for ``fn``).
    """
    shapes = {
        "unary": ((2, 3),),
        "reduce": ((2, 3),),
        "binary": ((2, 3), (3,)),
        "matmul": ((2, 3, 4), (4, 2)),
    }.get(spec.kind, spec.shapes)
    if spec.distinct and len(shapes) > 1:  # distinct across inputs too: a tie between x and y has no gradient
        sizes = [int(np.prod(shape)) for shape in shapes]
        values = draw_values(spec, (sum(sizes),), rng, dtype)
        arrays = [part.reshape(shape) for part, shape in zip(np.split(values, np.cumsum(sizes)[:-1]), shapes)]
    else:
        arrays = [draw_values(spec, shape, rng, dtype) for shape in shapes]
    extra = {"axis": 1, "keepdims": False} if spec.kind == "reduce" else {}
    return arrays, extra


def draw_values(spec: OpSpec, shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Values in [low, high] that respect ``min_abs`` and ``distinct``."""
    size = int(np.prod(shape))
    if spec.distinct:
        grid = np.linspace(spec.low, spec.high, max(size, 1) * 3)
        values = rng.permutation(grid)[:size]
    else:
        values = rng.uniform(spec.low, spec.high, size)
    if spec.min_abs:
        small = np.abs(values) < spec.min_abs
        values[small] = np.where(values[small] >= 0, spec.min_abs, -spec.min_abs) * (1 + rng.random(small.sum()))
    return values.reshape(shape).astype(dtype)


# ---------------------------------------------------------------------------- modules


@dataclass(frozen=True)
class ModuleCheck:
    """How to gradient-check one module or loss: its output's gradient with respect to its inputs and parameters.

    name          label in reports
    build         ``build(rng) -> (fn, arrays)``: a function of float64 Tensors and the arrays to
                  check it at; ``module_as_function`` makes this pair from a module and its inputs
    second_order  also run gradgradcheck
    kind          "module" or "loss" (the report's kind column)
    """

    name: str
    build: Callable
    second_order: bool = True
    kind: str = "module"


def module_as_function(module, *inputs, fixed=()):
    """Turn a module into ``(fn, arrays)`` for gradcheck, parameters included as inputs.

    ``fn(*input_tensors, *parameter_tensors)`` runs ``module`` with its parameters
    temporarily replaced by the given tensors (so finite differences can move them),
    and ``arrays`` are the inputs followed by the parameters' current values. The
    module should hold float64 parameters. ``fixed`` arguments follow the inputs
    in every call, unchanged and not differentiated (an embedding's integer ids).
    """
    from ..nn.module import Module

    if not isinstance(module, Module):
        raise TypeError(f"module_as_function: expected an nn.Module, got {type(module).__name__}")
    names = [name for name, _ in module.named_parameters()]
    count = len(inputs)

    def fn(*tensors):
        originals = {name: _get_attr(module, name) for name in names}
        try:
            for name, tensor in zip(names, tensors[count:]):
                _set_attr(module, name, tensor)
            return module(*tensors[:count], *fixed)
        finally:
            for name, original in originals.items():
                _set_attr(module, name, original)

    arrays = [np.asarray(x, dtype=np.float64) for x in inputs]
    arrays += [np.array(_get_attr(module, name).data, dtype=np.float64) for name in names]
    return fn, arrays


def _owner_and_key(module, dotted):
    """Resolve ``layers.0.weight`` to (the object holding it, its last key)."""
    *path, last = dotted.split(".")
    owner = module
    for part in path:
        owner = owner[int(part)] if isinstance(owner, (list, tuple)) else getattr(owner, part)
    return owner, last


def _get_attr(module, dotted):
    owner, key = _owner_and_key(module, dotted)
    return owner[int(key)] if isinstance(owner, (list, tuple)) else getattr(owner, key)


def _set_attr(module, dotted, value):
    owner, key = _owner_and_key(module, dotted)
    if isinstance(owner, list):
        owner[int(key)] = value
    else:
        object.__setattr__(owner, key, value)  # bypass Module.__setattr__: nothing is registered


# ---------------------------------------------------------------------------- the module and loss rows
# Builders import nn inside the function (nn imports the engine, not this file) and build
# in float64 (``_in_float64``), as finite differences need. Inputs stay off kinks: |x| >= 0.1
# for ReLU-like functions, distinct values for max pooling.


def _in_float64(build):
    """``build`` run with float64 as the default dtype, so layers without a dtype argument hold float64."""

    def build_float64(rng):
        from ..engine.tensor import get_default_dtype, set_default_dtype

        before = get_default_dtype()
        set_default_dtype(np.float64)
        try:
            return build(rng)
        finally:
            set_default_dtype(before)

    return build_float64


def _off_kinks(rng, shape, min_abs=0.1):
    values = rng.uniform(-2.0, 2.0, shape)
    return np.where(np.abs(values) < min_abs, np.copysign(min_abs, values) + values, values)


def _distinct(rng, shape):
    return rng.permutation(np.linspace(-2.0, 2.0, int(np.prod(shape)))).reshape(shape)


def _randomised(module, rng):
    """``module`` with every parameter drawn at random (ones and zeros hide mistakes)."""
    for param in module.parameters():
        param.data[...] = rng.uniform(0.5, 1.5, param.shape) * rng.choice([-1.0, 1.0], param.shape)
    return module


def _linear(rng):
    from ..nn import Linear

    return module_as_function(_randomised(Linear(3, 2), rng), rng.standard_normal((4, 3)))


def _batch_norm(layer, input_shape, training):
    """A batch-norm layer's check: 3 channels, random running statistics, in training or evaluation mode."""
    def build(rng):
        from .. import nn

        norm = _randomised(getattr(nn, layer)(3), rng)
        norm.running_mean.data[...] = rng.standard_normal(3)
        norm.running_var.data[...] = rng.uniform(0.5, 2.0, 3)
        norm.train(training)
        return module_as_function(norm, rng.standard_normal(input_shape))

    return build


def _group_norm(rng):
    from ..nn import GroupNorm

    return module_as_function(_randomised(GroupNorm(2, 4), rng), rng.standard_normal((2, 4, 3)))


def _layer_norm(rng):
    from ..nn import LayerNorm

    return module_as_function(_randomised(LayerNorm(4), rng), rng.standard_normal((3, 4)))


def _embedding(rng):
    from ..nn import Embedding

    ids = np.array([[0, 4, 4], [2, 0, 1]])  # repeated ids: their gradients must add up
    return module_as_function(Embedding(5, 3), fixed=(ids,))


def _conv2d(rng):
    from ..nn import Conv2d

    conv = _randomised(Conv2d(2, 3, 3, stride=2, padding=1), rng)
    return module_as_function(conv, rng.standard_normal((2, 2, 5, 5)))


def _conv2d_groups(rng):
    from ..nn import Conv2d

    return module_as_function(_randomised(Conv2d(4, 6, 3, padding=1, groups=2), rng), rng.standard_normal((1, 4, 4, 4)))


def _conv2d_dilation(rng):
    from ..nn import Conv2d

    conv = _randomised(Conv2d(2, 3, 2, stride=(1, 2), padding=((0, 1), (2, 1)), dilation=2), rng)
    return module_as_function(conv, rng.standard_normal((1, 2, 4, 5)))


def _conv1d(rng):
    from ..nn import Conv1d

    conv = _randomised(Conv1d(4, 2, 3, padding=((2, 1),), dilation=2, groups=2), rng)
    return module_as_function(conv, rng.standard_normal((2, 4, 6)))


def _max_pool(rng):
    from ..nn import MaxPool2d

    return module_as_function(MaxPool2d(2), _distinct(rng, (2, 2, 4, 4)))


def _avg_pool(rng):
    from ..nn import AvgPool2d

    return module_as_function(AvgPool2d(3, stride=2, padding=1), rng.standard_normal((1, 2, 5, 5)))


def _max_pool_options(rng):
    from ..nn import MaxPool2d

    return module_as_function(MaxPool2d(3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
                              _distinct(rng, (1, 2, 6, 7)))


def _avg_pool_options(rng):
    from ..nn import AvgPool2d

    pool = AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    return module_as_function(pool, rng.standard_normal((1, 2, 6, 5)))


def _max_pool_1d(rng):
    from ..nn import MaxPool1d

    return module_as_function(MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), _distinct(rng, (2, 2, 8)))


def _avg_pool_1d(rng):
    from ..nn import AvgPool1d

    return module_as_function(AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                              rng.standard_normal((2, 2, 6)))


def _flatten(rng):
    from ..nn import Flatten

    return module_as_function(Flatten(), rng.standard_normal((2, 3, 2, 2)))


def _dropout(rng):
    from ..engine.random import manual_seed
    from ..nn import Dropout

    fn, arrays = module_as_function(Dropout(0.4), rng.standard_normal((4, 5)))

    def with_one_mask(*tensors):
        manual_seed(0)  # every evaluation draws the same mask (this reseeds the package generator)
        return fn(*tensors)

    return with_one_mask, arrays


def _activation(name, **options):
    def build(rng):
        from .. import nn

        return module_as_function(getattr(nn, name)(**options), _off_kinks(rng, (3, 4)))

    return build


def _mlp(rng):
    from ..nn import MLP

    return module_as_function(MLP([3, 5, 4, 3], ["relu", "relu", "softmax"]), rng.standard_normal((4, 3)))


def _perceptron(rng):
    from ..nn import Perceptron

    return module_as_function(_randomised(Perceptron(3), rng), rng.standard_normal((4, 3)))


def _probabilities(rng, shape):
    values = rng.uniform(0.1, 1.0, shape)
    return values / values.sum(axis=-1, keepdims=True)


def _cross_entropy_indices(rng):
    from ..nn.functional import cross_entropy

    labels = np.array([0, 2, 1, 2])
    return (lambda logits: cross_entropy(logits, labels)), [rng.standard_normal((4, 3))]


def _cross_entropy_probabilities(rng):
    from ..nn.functional import cross_entropy

    # soft targets may be learned too, so the check moves them as well as the logits
    return cross_entropy, [rng.standard_normal((4, 3)), _probabilities(rng, (4, 3))]


def _nll_loss(rng):
    from ..nn.functional import nll_loss

    labels = np.array([1, 0, 2, 2])
    return (lambda log_probs: nll_loss(log_probs, labels, reduction="sum")), [-rng.uniform(0.1, 3.0, (4, 3))]


def _labels_with_ignored(rng, shape, classes):
    labels = rng.integers(0, classes, shape)
    labels.flat[::3] = -100  # every third target ignored
    return labels


def _cross_entropy_k_dim(rng):
    from ..nn.functional import cross_entropy

    labels = rng.integers(0, 3, (2, 2, 2))  # a class per position of a 2x2 map
    return (lambda logits: cross_entropy(logits, labels)), [rng.standard_normal((2, 3, 2, 2))]


def _cross_entropy_weight_ignore_index(rng):
    from ..nn.functional import cross_entropy

    labels, weight = _labels_with_ignored(rng, (5,), 3), np.array([0.5, 2.0, 1.0])
    return (lambda logits: cross_entropy(logits, labels, weight=weight)), [rng.standard_normal((5, 3))]


def _cross_entropy_label_smoothing(rng):
    from ..nn.functional import cross_entropy

    labels, weight = _labels_with_ignored(rng, (2, 3), 4), np.array([1.0, 0.5, 2.0, 1.5])
    return (lambda logits: cross_entropy(logits, labels, weight=weight, label_smoothing=0.2)), \
        [rng.standard_normal((2, 4, 3))]


def _cross_entropy_one_sample(rng):
    from ..nn.functional import cross_entropy

    return (lambda logits: cross_entropy(logits, np.array(1))), [rng.standard_normal(4)]


def _cross_entropy_soft_smoothed(rng):
    from ..nn.functional import cross_entropy

    weight = np.array([0.5, 2.0, 1.0])
    return (lambda logits, target: cross_entropy(logits, target, weight=weight, label_smoothing=0.1)), \
        [rng.standard_normal((2, 3, 2)), _probabilities(rng, (2, 2, 3)).transpose(0, 2, 1)]


def _nll_loss_k_dim(rng):
    from ..nn.functional import nll_loss

    labels, weight = _labels_with_ignored(rng, (2, 3), 3), np.array([0.5, 2.0, 1.0])
    return (lambda log_probs: nll_loss(log_probs, labels, weight=weight, reduction="none")), \
        [-rng.uniform(0.1, 3.0, (2, 3, 3))]


def _away_from(rng, shape, kink):
    """Differences |d| in [0.1, 2] kept at least 0.2 from ``kink``: the second derivative jumps there."""
    size = rng.uniform(0.1, 2.0, shape)
    size = np.where(np.abs(size - kink) < 0.2, size + 0.4, size)
    return size * rng.choice([-1.0, 1.0], shape)


def _huber_loss(rng):
    from ..nn.functional import huber_loss

    target = rng.standard_normal((4, 3))
    return (lambda x, t: huber_loss(x, t, delta=0.7)), [target + _away_from(rng, (4, 3), 0.7), target]


def _smooth_l1_loss(rng):
    from ..nn.functional import smooth_l1_loss

    target = rng.standard_normal((4, 3))
    return (lambda x, t: smooth_l1_loss(x, t, beta=0.7)), [target + _away_from(rng, (4, 3), 0.7), target]


def _kl_div(log_target):
    def build(rng):
        from ..nn.functional import kl_div

        log_q, p = np.log(_probabilities(rng, (3, 4))), _probabilities(rng, (3, 4))
        return (lambda x, t: kl_div(x, t, reduction="batchmean", log_target=log_target)), \
            [log_q, np.log(p) if log_target else p]

    return build


def _mse_loss(rng):
    from ..nn.functional import mse_loss

    return mse_loss, [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]


def _binary_cross_entropy(rng):
    from ..nn.functional import binary_cross_entropy

    return binary_cross_entropy, [rng.uniform(0.1, 0.9, (6,)), rng.uniform(0.0, 1.0, (6,))]


def _binary_cross_entropy_with_logits(rng):
    from ..nn.functional import binary_cross_entropy_with_logits

    return binary_cross_entropy_with_logits, [_off_kinks(rng, (6,)), rng.uniform(0.0, 1.0, (6,))]


def _l2_penalty(rng):
    from ..nn.functional import l2_penalty

    return (lambda w1, w2: l2_penalty([w1, w2], 0.1)), [rng.standard_normal((3, 2)), rng.standard_normal((2,))]


MODULE_CHECKS: list = [
    ModuleCheck("Linear", _in_float64(_linear)),
    ModuleCheck("BatchNorm1d:train", _in_float64(_batch_norm("BatchNorm1d", (5, 3), training=True))),
    ModuleCheck("BatchNorm1d:eval", _in_float64(_batch_norm("BatchNorm1d", (5, 3), training=False))),
    ModuleCheck("BatchNorm2d:train", _in_float64(_batch_norm("BatchNorm2d", (2, 3, 2, 2), training=True))),
    ModuleCheck("BatchNorm2d:eval", _in_float64(_batch_norm("BatchNorm2d", (2, 3, 2, 2), training=False))),
    ModuleCheck("LayerNorm", _in_float64(_layer_norm)),
    ModuleCheck("GroupNorm", _in_float64(_group_norm)),
    ModuleCheck("Embedding", _in_float64(_embedding)),
    ModuleCheck("Conv2d", _in_float64(_conv2d)),
    ModuleCheck("Conv2d:groups", _in_float64(_conv2d_groups)),
    ModuleCheck("Conv2d:dilation+uneven_padding", _in_float64(_conv2d_dilation)),
    ModuleCheck("Conv1d", _in_float64(_conv1d)),
    ModuleCheck("MaxPool2d", _in_float64(_max_pool)),
    ModuleCheck("MaxPool2d:ceil_mode+dilation", _in_float64(_max_pool_options)),
    ModuleCheck("AvgPool2d", _in_float64(_avg_pool)),
    ModuleCheck("AvgPool2d:ceil_mode+count_include_pad=False", _in_float64(_avg_pool_options)),
    ModuleCheck("MaxPool1d", _in_float64(_max_pool_1d)),
    ModuleCheck("AvgPool1d", _in_float64(_avg_pool_1d)),
    ModuleCheck("Flatten", _in_float64(_flatten)),
    ModuleCheck("Dropout", _in_float64(_dropout)),
    ModuleCheck("ReLU", _in_float64(_activation("ReLU"))),
    ModuleCheck("LeakyReLU", _in_float64(_activation("LeakyReLU", alpha=0.1))),
    ModuleCheck("Sigmoid", _in_float64(_activation("Sigmoid"))),
    ModuleCheck("Tanh", _in_float64(_activation("Tanh"))),
    ModuleCheck("Softmax", _in_float64(_activation("Softmax"))),
    ModuleCheck("LogSoftmax", _in_float64(_activation("LogSoftmax"))),
    ModuleCheck("Identity", _in_float64(_activation("Identity"))),
    ModuleCheck("MLP", _in_float64(_mlp)),
    ModuleCheck("Perceptron", _in_float64(_perceptron)),
    ModuleCheck("cross_entropy:indices", _cross_entropy_indices, kind="loss"),
    ModuleCheck("cross_entropy:probabilities", _cross_entropy_probabilities, kind="loss"),
    ModuleCheck("cross_entropy:k_dim", _cross_entropy_k_dim, kind="loss"),
    ModuleCheck("cross_entropy:weight+ignore_index", _cross_entropy_weight_ignore_index, kind="loss"),
    ModuleCheck("cross_entropy:label_smoothing", _cross_entropy_label_smoothing, kind="loss"),
    ModuleCheck("cross_entropy:one_sample", _cross_entropy_one_sample, kind="loss"),
    ModuleCheck("cross_entropy:probabilities+weight+smoothing", _cross_entropy_soft_smoothed, kind="loss"),
    ModuleCheck("nll_loss", _nll_loss, kind="loss"),
    ModuleCheck("nll_loss:k_dim+weight+ignore_index", _nll_loss_k_dim, kind="loss"),
    ModuleCheck("huber_loss", _huber_loss, kind="loss"),
    ModuleCheck("smooth_l1_loss", _smooth_l1_loss, kind="loss"),
    ModuleCheck("kl_div", _kl_div(log_target=False), kind="loss"),
    ModuleCheck("kl_div:log_target", _kl_div(log_target=True), kind="loss"),
    ModuleCheck("mse_loss", _mse_loss, kind="loss"),
    ModuleCheck("binary_cross_entropy", _binary_cross_entropy, kind="loss"),
    ModuleCheck("binary_cross_entropy_with_logits", _binary_cross_entropy_with_logits, kind="loss"),
    ModuleCheck("l2_penalty", _l2_penalty, kind="loss"),
]
"""One row per nn module with parameters or a differentiable function, and per loss;
``tinygrad-edu gradcheck`` sweeps them after the ops."""
