"""Loss functions (and their Module forms): the scalar that ``backward()`` starts from.

Every loss takes ``reduction``: ``"mean"`` (the default: the average over the batch,
as the tutorial's ``/ m``), ``"sum"``, or ``"none"`` (one value per sample).

Cross-entropy is computed from the *logits* through ``log_softmax`` (a max-shifted
primitive), never as ``log(softmax(x))``: the latter underflows to ``log(0) = -inf``
once two logits differ by more than ~100 (float32), which is why the tutorial has to
clip its probabilities to 1e-15. The loss then weighs each log-probability by the
target's share of its class (``nll_loss``; a class index is a one-hot row) and sums,
so the gradient with respect to the logits is still ``(softmax(x) - y) / N``: the
tutorial's ``y_pred - y_true``.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

from ..engine import events
from ..engine.function import ShapeError, raw
from ..engine.composed import maximum, where
from ..engine.tensor import Tensor
from .module import Module

# How a per-sample loss becomes what the caller asked for.
_REDUCTIONS = {
    "mean": lambda losses: losses.mean(),
    "sum": lambda losses: losses.sum(),
    "none": lambda losses: losses,
}


def _reduce(losses: Tensor, reduction: str, op: str) -> Tensor:
    try:
        return _REDUCTIONS[reduction](losses)
    except (KeyError, TypeError):
        raise ValueError(f"{op}: unknown reduction {reduction!r}; use one of {sorted(_REDUCTIONS)}") from None


def _check_reduction(op: str, reduction, allowed=tuple(_REDUCTIONS)) -> None:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"{op}: unknown reduction {reduction!r}; use one of {sorted(allowed)}")


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_batch(op: str, x: Tensor) -> None:
    if x.ndim == 0:
        raise ShapeError(f"{op}: expected a batch (at least 1-D input), got a 0-d tensor")
    if x.shape[0] == 0:
        raise ValueError(f"{op}: empty batch (input of shape {x.shape}); a loss over no samples is undefined")


def _target_array(target):
    return target.data if isinstance(target, Tensor) else np.asarray(target)


def _check_finite(op: str, data: np.ndarray) -> None:
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        bad = np.argwhere(~np.isfinite(data))[:5].tolist()
        kind = "NaN" if np.isnan(data).any() else "infinite values"
        raise ValueError(f"{op}: target contains {kind} (first positions {bad}, target shape {data.shape})")


def _no_mass_at_minus_inf(log_probs: Tensor, coefficients) -> Tensor:
    """``log_probs`` with 0 where it is -inf and its coefficient is 0: so 0 * log(0) counts as 0.

    A class the target gives no mass adds nothing to the loss, even when its log-probability
    is -inf (a masked logit); the plain product would be 0 * -inf = nan.
    """
    data = log_probs.data
    if not data.size or np.minimum.reduce(data, axis=None) != -np.inf:  # one pass in the usual case
        return log_probs
    return where((data == -np.inf) & (raw(coefficients) == 0), 0.0, log_probs)


# ----------------------------------------------------------------------------- classification


def _class_axis(scores: Tensor) -> int:
    """Where the classes are: axis 0 of one sample's (C,) scores, else axis 1 of (N, C, d1, ...)."""
    return 0 if scores.ndim == 1 else 1


def _check_scores(op: str, scores: Tensor) -> None:
    if scores.ndim == 0:
        raise ShapeError(f"{op}: expected scores of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if scores.ndim > 1 and scores.shape[0] == 0:
        raise ValueError(f"{op}: empty batch (input of shape {scores.shape}); a loss over no samples is undefined")
    if scores.shape[_class_axis(scores)] == 0:
        raise ShapeError(f"{op}: scores of shape {scores.shape} have no classes")


def _check_class_options(op: str, ignore_index, label_smoothing) -> None:
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: ignore_index must be an int (a class index that no sample uses), got {ignore_index!r}")
    if not isinstance(label_smoothing, (int, float, np.floating)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be a number in [0, 1], got {label_smoothing!r}")


def _class_weight(op: str, weight, classes: int, dtype):
    """The per-class ``weight`` as a (C,) array of ``dtype`` (or None), checked."""
    if weight is None:
        return None
    if isinstance(weight, str):
        raise TypeError(f"{op}: weight must hold one number per class, got {weight!r}; "
                        f"pass the reduction by name: reduction={weight!r}")
    if isinstance(weight, Tensor):
        if weight.requires_grad:
            raise TypeError(f"{op}: class weights are constants (no gradient flows to them, as in PyTorch), "
                            "but the given weight requires grad; pass weight.detach()")
        weight = weight.data
    weight = np.asarray(weight)
    if weight.shape != (classes,) or weight.dtype.kind not in "fiu":
        raise ShapeError(f"{op}: weight must hold one number per class, shape ({classes},), "
                         f"got shape {weight.shape} of dtype {weight.dtype}")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError(f"{op}: class weights must be finite and non-negative, got {weight.tolist()}")
    return weight.astype(dtype)


def _probabilities_like(op: str, scores: Tensor, target, data: np.ndarray):
    """A target of the scores' shape: class probabilities, a float Tensor (if learned) or array of their dtype."""
    if data.dtype.kind != "f":
        index_shape = scores.shape[:1] + scores.shape[2:] if scores.ndim > 1 else ()
        raise TypeError(
            f"{op}: a target of the input's shape {scores.shape} holds class probabilities, which must be floats, "
            f"got {data.dtype}; give class indices of shape {index_shape}, or one-hot rows as floats "
            "(target.astype(float))"
        )
    if isinstance(target, Tensor) and target.requires_grad:  # soft targets may be learned too
        return target if target.dtype == scores.dtype else target.astype(scores.dtype)
    return data.astype(scores.dtype, copy=False)


def _class_indices(op: str, scores: Tensor, data: np.ndarray, ignore_index):
    """A target of class indices, checked: shape (N, d1, ...) (or () for (C,) scores), integers in [0, C)
    or ``ignore_index``. Returns (the indices, a mask of the targets that count, or None when all do)."""
    index_shape = scores.shape[:1] + scores.shape[2:] if scores.ndim > 1 else ()
    if data.shape != index_shape:
        raise ShapeError(
            f"{op}: target of shape {data.shape} does not fit logits of shape {scores.shape}; "
            f"give class indices of shape {index_shape} or probabilities of shape {scores.shape}"
        )
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: a target of shape {data.shape} holds class indices and must have an integer dtype, got "
            f"{data.dtype}; use target.astype(int), or pass one-hot/probabilities of shape {scores.shape}"
        )
    classes = scores.shape[_class_axis(scores)]
    # every index a class (the usual case): two passes, by the ufuncs themselves (ndarray.min costs more)
    if data.size and 0 <= np.minimum.reduce(data, axis=None) and np.maximum.reduce(data, axis=None) < classes:
        if not 0 <= ignore_index < classes:
            return data, None
        kept = data != ignore_index
        return data, (None if kept.all() else kept)
    kept = data != ignore_index
    wrong = kept & ((data < 0) | (data >= classes))
    if wrong.any():
        raise ValueError(
            f"{op}: target class indices {sorted(set(data[wrong].tolist()))[:5]} are out of range for {classes} "
            f"classes (logits shape {scores.shape}); indices must lie in [0, {classes - 1}]"
        )
    return data, kept


def _per_class(weight: np.ndarray, scores: Tensor) -> np.ndarray:
    """(C,) values shaped to broadcast along the class axis of (C,) or (N, C, d1, ...) scores."""
    return weight if scores.ndim <= 2 else weight.reshape((-1,) + (1,) * (scores.ndim - 2))


def _target_positions(labels: np.ndarray) -> tuple:
    """The index of each target's own entry in an array of the scores' shape: [n, labels[n, d...], d...]."""
    if labels.ndim == 0:  # one sample's (C,) scores
        return (labels,)
    if labels.ndim == 1:
        return (np.arange(labels.shape[0]), labels)
    positions = np.indices(labels.shape, sparse=True)  # open grids over N, d1, ...
    return (positions[0], labels) + tuple(positions[1:])


def _index_coefficients(log_probs: Tensor, labels: np.ndarray, kept, weight, smoothing: float):
    """Class indices as the distribution they stand for, times the class weights: an array of the
    scores' shape, and the summed weight of the targets that count (what "mean" divides by).

    Each target puts 1 - smoothing on its own class and smoothing / C on every class, each
    class's share times its weight, as PyTorch's label smoothing does; an ignored target
    (``kept`` False) puts nothing anywhere.
    """
    axis = _class_axis(log_probs)
    classes, dtype = log_probs.shape[axis], log_probs.dtype
    if kept is not None:
        labels = np.where(kept, labels, 0)
    if weight is None and kept is None:  # the usual case: every target counts once
        per_target, total = 1.0, labels.size
    else:
        per_target = (1.0 if weight is None else weight[labels]) * (True if kept is None else kept)
        total = np.sum(per_target)
    coefficients = np.zeros(log_probs.shape, dtype)
    if not smoothing:
        coefficients[_target_positions(labels)] = per_target  # one-hot rows (times the weights)
        return coefficients, total
    spread = np.full(classes, smoothing / classes, dtype) if weight is None else weight * (smoothing / classes)
    coefficients += _per_class(spread, log_probs)
    if kept is not None:
        coefficients *= np.expand_dims(kept, axis)
    coefficients[_target_positions(labels)] += per_target * (1.0 - smoothing)
    return coefficients, total


def _warn_if_probabilities(op: str, scores: Tensor, advice: str) -> None:
    """Warn (once per calling line) when every row along the class axis is non-negative and sums to 1."""
    data = scores.data
    axis = _class_axis(scores)
    if data.shape[axis] < 2 or not data.size or np.minimum.reduce(data, axis=None) < 0:
        return
    if np.abs(data.sum(axis=axis) - 1).max() <= 1e-3:
        warnings.warn(
            f"{op}: every row of the input is non-negative and sums to 1 along the class axis: it looks like "
            f"probabilities (such as the output of an MLP ending in softmax), but {op} {advice}",
            UserWarning, stacklevel=_caller_level(),
        )


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside tinygrad_edu: the user's line a warning is about."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _classification_loss(op, log_probs, target, weight, ignore_index, reduction, smoothing):
    """nll_loss's core: ``log_probs`` (C,) or (N, C, d1, ...) against class indices or probabilities.

    Either target becomes coefficients t_nc * weight_c of the scores' shape (a class index: a
    one-hot row), so the loss is one weighted sum: loss_n = -sum_c t_nc weight_c log_probs_nc.
    """
    scaled = _scaled_coefficients(op, log_probs, target, weight, ignore_index, reduction, smoothing)
    terms = _no_mass_at_minus_inf(log_probs, scaled) * scaled
    return terms.sum(axis=_class_axis(log_probs)) if reduction == "none" else terms.sum()


@events.replayed  # a compiled step builds them again from each batch's target
def _scaled_coefficients(op, log_probs, target, weight, ignore_index, reduction, smoothing):
    """The target checked and made into what multiplies ``log_probs``: t_nc * weight_c, times -1 / (the
    summed weights of the counted targets) for "mean", else -1."""
    data = _target_array(target)
    _check_finite(op, data)
    axis = _class_axis(log_probs)
    classes = log_probs.shape[axis]
    weight = _class_weight(op, weight, classes, log_probs.dtype)
    if data.shape == log_probs.shape:
        coefficients = _probabilities_like(op, log_probs, target, data)
        if smoothing:
            coefficients = coefficients * (1.0 - smoothing) + smoothing / classes
        if weight is not None:
            coefficients = coefficients * _per_class(weight, log_probs)
        count = log_probs.size // classes  # "mean": over the N*d1*... samples, as PyTorch
    else:
        labels, kept = _class_indices(op, log_probs, data, ignore_index)
        coefficients, count = _index_coefficients(log_probs, labels, kept, weight, smoothing)
        if reduction == "mean" and count == 0:  # "mean": over the counted targets' weights, as PyTorch
            raise ValueError(f"{op}: no target counts towards the mean (there are none, or each is ignore_index "
                             f"({ignore_index}) or has class weight 0), so the mean is undefined; use "
                             "reduction='sum' for such batches")
    return coefficients * (-1.0 / float(count) if reduction == "mean" else -1.0)


def cross_entropy(logits, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from raw scores, with PyTorch's options and semantics.

    logits           (N, C) unnormalised class scores; (N, C, d1, ...) for a class per position
                     (a pixel's class, a token's); or (C,) for one sample
    target           class indices of an integer dtype, shape (N,) / (N, d1, ...) / (), or
                     class probabilities (floats) of the logits' shape (one-hot rows included)
    weight           (C,) class weights, or None: each target's loss counts weight[class] times
    ignore_index     targets equal to it add nothing (class indices only); default -100
    reduction        "mean", "sum" or "none" (one loss per sample / position)
    label_smoothing  e in [0, 1]: the target becomes (1 - e) * target + e / C (uniform over classes)

    loss_n = -sum_c weight_c * t_nc * log_softmax(logits)_nc, for t the (smoothed) target
    distribution. "mean" divides by the summed weights of the targets that are not ignored
    (by N*d1*... for probability targets), as PyTorch does. Finite for logits of any size, and
    a -inf logit (a masked class) is fine unless it is a target's own class.
    Rows that look like probabilities (non-negative, summing to 1: a softmax's output) warn.
    """
    logits = _tensor(logits)
    _check_scores("cross_entropy", logits)
    _check_reduction("cross_entropy", reduction)
    _check_class_options("cross_entropy", ignore_index, label_smoothing)
    _warn_if_probabilities("cross_entropy", logits, "expects raw scores (logits) and applies log_softmax itself, "
                           "so the loss and its gradients are not the ones you want. Pass the scores before the "
                           "softmax: for an nn.MLP, MLP.logits(x)")
    log_probs = logits.log_softmax(axis=_class_axis(logits))
    return _classification_loss("cross_entropy", log_probs, target, weight, ignore_index, reduction,
                                float(label_smoothing))


def nll_loss(log_probs, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (e.g. from ``log_softmax``), as PyTorch's.

    log_probs: (N, C), (N, C, d1, ...) or (C,); target, weight, ignore_index and reduction as
    in ``cross_entropy``: loss_n = -weight[t_n] * log_probs[n, t_n] for class indices t
    (probabilities p of log_probs' shape give -sum_c weight_c p_c log_probs_c, which PyTorch's
    nll_loss does not offer). ``nll_loss(log_softmax(x, axis=1), y)`` equals ``cross_entropy(x, y)``.
    """
    log_probs = _tensor(log_probs)
    _check_scores("nll_loss", log_probs)
    _check_reduction("nll_loss", reduction)
    _check_class_options("nll_loss", ignore_index, 0.0)
    _warn_if_probabilities("nll_loss", log_probs, "expects log-probabilities (from log_softmax). Pass "
                           "probabilities.log(), or better cross_entropy on the scores before the softmax: for an "
                           "nn.MLP, MLP.logits(x)")
    return _classification_loss("nll_loss", log_probs, target, weight, ignore_index, reduction, 0.0)


def _check_same_shape(op: str, x: Tensor, target):
    """``target`` as a Tensor or ndarray, after checking that its shape is the input's."""
    target = target if isinstance(target, Tensor) else np.asarray(target)
    if target.shape != x.shape:
        raise ShapeError(f"{op}: input of shape {x.shape} and target of shape {np.shape(target)} must match")
    return target


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Squared error (input - target)**2; ``"mean"`` averages over every element, as PyTorch does."""
    input = _tensor(input)
    _check_batch("mse_loss", input)
    target = _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def _clamped_log(p: Tensor) -> Tensor:
    """log(p), clamped below at -100 (as PyTorch's binary cross-entropy does), with a zero gradient there."""
    floor = math.exp(-100.0)
    return where(p.data > floor, p.clip(lo=floor).log(), -100.0)


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1] (e.g. a sigmoid's output).

    Each log is clamped at -100, so p = 0 or 1 gives a large but finite loss. For raw
    scores prefer ``binary_cross_entropy_with_logits``: it is exact where this one saturates.
    """
    input = _tensor(input)
    _check_batch("binary_cross_entropy", input)
    target = _check_same_shape("binary_cross_entropy", input, target)
    _check_finite("binary_cross_entropy", _target_array(target))
    p = input.data
    if p.size and not ((p >= 0).all() and (p <= 1).all()):
        raise ValueError(
            f"binary_cross_entropy: input must hold probabilities in [0, 1], got values in "
            f"[{np.nanmin(p):.4g}, {np.nanmax(p):.4g}]; for raw scores use binary_cross_entropy_with_logits"
        )
    losses = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    return _reduce(losses, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits.

    loss = max(x, 0) - x t + log(1 + exp(-|x|)): exp never overflows, and no log(0) occurs.
    (At x = 0 the max shares its gradient equally, which gives the exact sigmoid(0) - t.)
    """
    logits = _tensor(logits)
    _check_batch("binary_cross_entropy_with_logits", logits)
    target = _check_same_shape("binary_cross_entropy_with_logits", logits, target)
    _check_finite("binary_cross_entropy_with_logits", _target_array(target))
    softplus = maximum(logits, 0.0) + ((-logits.abs()).exp() + 1).log()
    return _reduce(softplus - logits * target, reduction, "binary_cross_entropy_with_logits")


def _check_positive(op: str, name: str, value, allow_zero=False) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) or \
            not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{op}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Squared error near the target, absolute error far from it (robust to outliers), as PyTorch's.

    With d = input - target: 0.5 d**2 where |d| < delta, else delta * (|d| - 0.5 delta).
    The gradient, d or delta * sign(d), is continuous; the second derivative at |d| = delta
    is the outer side's 0, as in PyTorch.
    """
    delta = _check_positive("huber_loss", "delta", delta)
    input = _tensor(input)
    _check_batch("huber_loss", input)
    diff = input - _check_same_shape("huber_loss", input, target)
    size = diff.abs()
    losses = where(size.data < delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _reduce(losses, reduction, "huber_loss")


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """The Huber loss divided by ``beta``, as PyTorch's: 0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta.

    ``beta=0`` is the absolute error |d| (gradient sign(d), 0 at d = 0, as in PyTorch).
    """
    beta = _check_positive("smooth_l1_loss", "beta", beta, allow_zero=True)
    input = _tensor(input)
    _check_batch("smooth_l1_loss", input)
    diff = input - _check_same_shape("smooth_l1_loss", input, target)
    size = diff.abs()
    losses = size if beta == 0 else where(size.data < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return _reduce(losses, reduction, "smooth_l1_loss")


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(target || exp(input)) pointwise, as PyTorch's ``kl_div``.

    input       log-probabilities log q (e.g. from ``log_softmax``)
    target      probabilities p (or log p with ``log_target=True``), of input's shape; a Tensor
                that requires grad gets a gradient too
    reduction   "mean" (over every element, PyTorch's default), "batchmean" (the sum over
                the batch size N: the true KL divergence per sample), "sum" or "none"

    loss = p * (log p - log q), with 0 * log 0 = 0: a class of target probability 0 adds
    nothing, even where log q is -inf (PyTorch gives nan there). Negative target
    probabilities are refused.
    """
    input = _tensor(input)
    _check_batch("kl_div", input)
    _check_reduction("kl_div", reduction, _KL_REDUCTIONS)
    target = _check_same_shape("kl_div", input, target)
    data = _target_array(target)
    if np.isnan(data).any() or np.isposinf(data).any() or (not log_target and np.isneginf(data).any()):
        _check_finite("kl_div", data)
    if not isinstance(target, Tensor):
        target = data.astype(input.dtype, copy=False)
    if log_target:
        p = target.exp() if isinstance(target, Tensor) else np.exp(target)
        log_p = where(np.isneginf(data), 0.0, target) if isinstance(target, Tensor) else \
            np.where(np.isneginf(data), 0.0, target)
    else:
        if (data < 0).any():
            raise ValueError(f"kl_div: target probabilities must be >= 0, got {data.min():.4g}; "
                             "for log-probabilities pass log_target=True")
        positive = data > 0  # where p = 0, p * log p counts as 0
        if isinstance(target, Tensor):
            p, log_p = target, where(positive, target, 1.0).log()
        else:
            p, log_p = target, np.log(np.where(positive, target, 1.0))
    losses = p * log_p - _no_mass_at_minus_inf(input, p) * p
    if reduction == "batchmean":
        return losses.sum() * (1.0 / input.shape[0])
    return _reduce(losses, reduction, "kl_div")


def l2_penalty(params, lam: float) -> Tensor:
    """lam / 2 * (sum of squared entries of every tensor in ``params``).

    Its gradient with respect to each weight W is ``lam * W``: the tutorial's L2 term,
    added to the loss here instead of to ``dW`` by hand. Pass the weights (the tutorial
    leaves biases alone), e.g. ``l2_penalty([layer.weight for layer in model.layers], 0.01)``.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    if not params:
        raise ValueError("l2_penalty: no tensors given")
    if not lam >= 0:
        raise ValueError(f"l2_penalty: lam must be >= 0, got {lam!r}")
    total = None
    for w in params:
        squares = (w * w).sum()
        total = squares if total is None else total + squares
    return total * (lam / 2)


# ----------------------------------------------------------------------------- as modules


class _Loss(Module):
    """A loss function with its options fixed at construction: ``criterion(input, target)``.

    ``options`` are the function's keyword arguments besides ``reduction``; the repr shows
    the ones that differ from ``defaults``.
    """

    function = None
    defaults: dict = {}
    reductions = tuple(_REDUCTIONS)

    def __init__(self, reduction: str = "mean", **options):
        super().__init__()
        _check_reduction(type(self).__name__, reduction, self.reductions)
        self.reduction = reduction
        self.options = options

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction, **self.options)

    def extra_repr(self):
        shown = {name: value for name, value in self.options.items() if value is not self.defaults.get(name)
                 and not (np.ndim(value) == 0 and value == self.defaults.get(name))}
        if self.reduction != "mean":
            shown["reduction"] = self.reduction
        return ", ".join(f"{name}={value!r}" for name, value in shown.items())


class CrossEntropyLoss(_Loss):
    """``cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing)`` as a module."""

    function = staticmethod(cross_entropy)
    defaults = {"weight": None, "ignore_index": -100, "label_smoothing": 0.0}

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)


class NLLLoss(_Loss):
    """``nll_loss(log_probs, target, weight, ignore_index, reduction)`` as a module."""

    function = staticmethod(nll_loss)
    defaults = {"weight": None, "ignore_index": -100}

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index)


class MSELoss(_Loss):
    """``mse_loss(input, target)`` as a module."""

    function = staticmethod(mse_loss)


class BCELoss(_Loss):
    """``binary_cross_entropy(probabilities, target)`` as a module."""

    function = staticmethod(binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """``binary_cross_entropy_with_logits(logits, target)`` as a module."""

    function = staticmethod(binary_cross_entropy_with_logits)


class HuberLoss(_Loss):
    """``huber_loss(input, target, reduction, delta)`` as a module."""

    function = staticmethod(huber_loss)
    defaults = {"delta": 1.0}

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction, delta=delta)


class SmoothL1Loss(_Loss):
    """``smooth_l1_loss(input, target, reduction, beta)`` as a module."""

    function = staticmethod(smooth_l1_loss)
    defaults = {"beta": 1.0}

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction, beta=beta)


class KLDivLoss(_Loss):
    """``kl_div(log_probs, target, reduction, log_target)`` as a module (``reduction="batchmean"`` too)."""

    function = staticmethod(kl_div)
    defaults = {"log_target": False}
    reductions = _KL_REDUCTIONS

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction, log_target=log_target)
