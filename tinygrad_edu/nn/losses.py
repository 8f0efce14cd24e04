"""Loss functions (and their Module forms): the scalar that ``backward()`` starts from.

Every loss takes ``reduction``: ``"mean"`` (the default: the average over the batch,
as the tutorial's ``/ m``), ``"sum"``, or ``"none"`` (one value per sample).

Cross-entropy is computed from the *logits* through the max-shifted log-softmax
primitive (``ops.LogSoftmax``), never as ``log(softmax(x))``: the
latter underflows to ``log(0) = -inf`` once two logits differ by more than ~100
(float32), which is why the tutorial has to clip its probabilities to 1e-15.
The gradient with respect to the logits is still ``(softmax(x) - y) / N``: the
tutorial's ``y_pred - y_true``.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import events
from ..engine.function import ShapeError
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


@events.replayed
def _check_class_indices(op: str, scores: Tensor, data: np.ndarray) -> None:
    """Class indices (N,) must be integers in [0, C) for scores (N, C) (checked again at every compiled replay)."""
    n, c = scores.shape
    _check_finite(op, data)
    if data.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: a 1-D target holds class indices and must have an integer dtype, got {data.dtype} "
            f"(shape {data.shape}); use target.astype(int), or pass one-hot/probabilities of shape {(n, c)}"
        )
    if data.shape[0] != n:
        raise ShapeError(f"{op}: target has {data.shape[0]} class indices for a batch of {n} "
                         f"(logits shape {scores.shape})")
    if n and (data.min() < 0 or data.max() >= c):  # a negative index would silently count from the end
        bad = sorted(set(data[(data < 0) | (data >= c)].tolist()))[:5]
        raise ValueError(
            f"{op}: target class indices {bad} are out of range for {c} classes (logits shape {scores.shape}); "
            f"indices must lie in [0, {c - 1}]"
        )


@events.replayed
def _class_probabilities(op: str, scores: Tensor, target):
    """The target as an (N, C) array or Tensor of class probabilities, checked against ``scores`` (N, C).

    Accepts one-hot/probabilities (N, C); class indices (N,) go through ``_check_class_indices`` instead.
    """
    data = _target_array(target)
    n, c = scores.shape
    _check_finite(op, data)
    if data.ndim != 2 or data.shape != scores.shape:
        raise ShapeError(
            f"{op}: target of shape {data.shape} does not fit logits of shape {scores.shape}; "
            f"give class indices of shape ({n},) or probabilities of shape {scores.shape}"
        )
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{op}: target has unsupported dtype {data.dtype}")
    if isinstance(target, Tensor) and target.requires_grad:  # soft targets may be learned too
        return target if target.dtype == scores.dtype else target.astype(scores.dtype)
    return data.astype(scores.dtype, copy=False)


def _check_scores(op: str, scores: Tensor) -> None:
    if scores.ndim != 2:
        raise ShapeError(f"{op}: expected scores of shape (N, C), got shape {scores.shape}")
    _check_batch(op, scores)
    if scores.shape[1] == 0:
        raise ShapeError(f"{op}: scores of shape {scores.shape} have no classes")


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from raw scores.

    logits  (N, C) unnormalised class scores
    target  class indices (N,) of an integer dtype, or one-hot / probabilities (N, C)
    returns a scalar (``"mean"``/``"sum"``) or (N,) for ``"none"``

    loss_i = logsumexp(logits_i) - sum_c target_ic * logits_ic, finite for logits of any size:
    composed as ``nll_loss(log_softmax(logits), target)``.
    """
    logits = _tensor(logits)
    _check_scores("cross_entropy", logits)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: unknown reduction {reduction!r}; use one of {sorted(_REDUCTIONS)}")
    return _nll("cross_entropy", logits.log_softmax(axis=1), logits, target, reduction)


def nll_loss(log_probs, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) (e.g. from ``log_softmax``).

    target: class indices (N,) or probabilities (N, C). loss_i = -sum_c target_ic * log_probs_ic.
    ``nll_loss(log_softmax(x), y)`` equals ``cross_entropy(x, y)``.
    """
    log_probs = _tensor(log_probs)
    _check_scores("nll_loss", log_probs)
    return _nll("nll_loss", log_probs, log_probs, target, reduction)


@events.replayed
def _rows(n: int) -> np.ndarray:
    """0, 1, ..., n-1: the row of each class index (a compiled step makes it again at every replay)."""
    return np.arange(n)


def _nll(op, log_probs, scores, target, reduction):
    """-log_probs picked at the target classes (indices: one gather), or weighted by target probabilities."""
    data = _target_array(target)
    if data.ndim == 1:  # class indices: pick one log-probability per row
        _check_class_indices(op, scores, data)
        return _reduce(-log_probs[_rows(data.shape[0]), data], reduction, op)
    return _reduce(-(log_probs * _class_probabilities(op, scores, target)).sum(axis=1), reduction, op)


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
    """A loss function with its ``reduction`` fixed at construction: ``criterion(input, target)``."""

    function = None

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; "
                             f"use one of {sorted(_REDUCTIONS)}")
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_Loss):
    """``cross_entropy(logits, target)`` as a module."""

    function = staticmethod(cross_entropy)


class NLLLoss(_Loss):
    """``nll_loss(log_probs, target)`` as a module."""

    function = staticmethod(nll_loss)


class MSELoss(_Loss):
    """``mse_loss(input, target)`` as a module."""

    function = staticmethod(mse_loss)


class BCELoss(_Loss):
    """``binary_cross_entropy(probabilities, target)`` as a module."""

    function = staticmethod(binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """``binary_cross_entropy_with_logits(logits, target)`` as a module."""

    function = staticmethod(binary_cross_entropy_with_logits)
