"""Stateless layer functions: ``F.relu(x)``, ``F.linear(x, w, b)``, ``F.dropout(x, p)``, losses.

The modules in ``nn`` hold weights and call these. Each is a line or two of
Tensor ops, so its gradient comes from the graph: nothing here writes a
derivative by hand (``tinygrad_edu.reference`` does, and the tests compare the two).
"""
from __future__ import annotations

import numpy as np

from ..engine import events
from ..engine import random as _random
from ..engine.function import ShapeError, no_grad
from ..engine.tensor import Tensor
from .losses import (  # noqa: F401  (re-exported: the losses are functional too)
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l2_penalty,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .conv import avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d  # noqa: F401  (image layers, kept with their modules)
from .embedding import embedding  # noqa: F401
from .normalization import group_norm, layer_norm  # noqa: F401


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ----------------------------------------------------------------------------- dense layer


def linear(x, weight, bias=None) -> Tensor:
    """x @ weight + bias: x (..., in), weight (in, out), bias (out,) -> (..., out).

    The weight is laid out (in, out) as in the tutorial (``np.dot(X, W)``), which is
    the transpose of PyTorch's (out, in).
    """
    if not isinstance(weight, Tensor):
        x = _tensor(x)
    out = x @ weight  # an ndarray x is cast to the weight's dtype (no silent upcast of the model)
    return out if bias is None else out + bias


# ----------------------------------------------------------------------------- activations


def relu(x) -> Tensor:
    """max(x, 0); gradient 1 where x > 0, else 0."""
    return _tensor(x).relu()


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow; gradient s (1 - s)."""
    return _tensor(x).sigmoid()


def tanh(x) -> Tensor:
    """tanh(x); gradient 1 - tanh(x)**2."""
    return _tensor(x).tanh()


def leaky_relu(x, alpha: float = 0.01) -> Tensor:
    """x where x > 0, else alpha * x; gradient 1 or alpha."""
    return _tensor(x).leaky_relu(alpha)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (max-shifted, so it never overflows)."""
    return _tensor(x).softmax(axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x): finite where softmax underflows to 0."""
    return _tensor(x).log_softmax(axis=axis)


def identity(x) -> Tensor:
    """x unchanged (a 'linear' activation)."""
    return _tensor(x)


# ----------------------------------------------------------------------------- dropout


@events.replayed
def dropout_mask(shape, p: float, dtype) -> np.ndarray:
    """Inverted-dropout mask: each entry 1 / (1 - p) with probability 1 - p, else 0.

    Drawn as Bernoulli(1 - p) from the package's seeded generator (``tg.manual_seed``).
    """
    keep = 1.0 - p
    if keep == 0.0:
        return np.zeros(shape, dtype=dtype)
    return _random.draw("binomial", 1, keep, shape).astype(dtype) / keep


def dropout(x, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each entry with probability p and scale the rest by 1 / (1 - p).

    The scaling keeps the expected activation unchanged, so evaluation (``training=False``)
    is simply the identity. The gradient is the same mask times the upstream gradient.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p!r}")
    x = _tensor(x)
    if not training or p == 0.0:
        return x
    return x * dropout_mask(x.shape, p, x.dtype)


# ----------------------------------------------------------------------------- batch normalisation


def _channel_axes(op: str, x: Tensor):
    """Axes to average over: every axis but the channels' (axis 1): (0,) for (N, C), (0, 2, 3) for (N, C, H, W)."""
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected input of shape (N, C, ...) (channels on axis 1), got shape {x.shape}")
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x: Tensor):
    """A (C,) tensor shaped to broadcast against x (N, C, ...): (C,) for (N, C), (C, 1, 1) for (N, C, H, W)."""
    return v if x.ndim == 2 or v is None else v.reshape((-1,) + (1,) * (x.ndim - 2))


@events.replayed
def _update_running_statistics(running_mean, running_var, mean, var, momentum, count):
    """Move the running statistics towards the batch mean and unbiased variance (in place, outside the graph)."""
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1.0 - momentum).add_(mean.data.reshape(-1), alpha=momentum)
        if running_var is not None:
            unbiased = var.data.reshape(-1) * (count / (count - 1))
            running_var.mul_(1.0 - momentum).add_(unbiased, alpha=momentum)


@events.replayed
def _inverse_std(running_var, eps, dtype) -> np.ndarray:
    """1 / sqrt(running_var + eps) in ``dtype``: a constant in evaluation, read from the running variance."""
    return (1.0 / np.sqrt(running_var.data + eps)).astype(dtype, copy=False)


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, op: str = "batch_norm") -> Tensor:
    """Normalise each feature (channel) to zero mean and unit variance, then scale and shift.

    x             (N, C, ...): (N, C), (N, C, L), (N, C, H, W), ...; statistics per channel (axis 1)
    running_*     (C,) Tensors of running statistics (or None); updated in place when training
    weight, bias  (C,) learnable scale gamma and shift beta (or None)
    op            the name errors use (``BatchNorm1d`` passes its own repr)

    The batch statistics of a channel are over every axis but axis 1 (over N*H*W values
    for images). training: x_hat = (x - mean_batch) / sqrt(var_batch + eps) with the *biased* batch variance;
    the running statistics move by ``momentum`` towards the batch mean and the *unbiased*
    batch variance: running = (1 - momentum) * running + momentum * batch.
    evaluation: x_hat = (x - running_mean) / sqrt(running_var + eps).
    out = weight * x_hat + bias.
    """
    x = _tensor(x)
    axes = _channel_axes(op, x)
    # ndarrays are wrapped without a copy, so the in-place update below reaches the caller's arrays
    running_mean, running_var = (Tensor._make(np.asarray(r)) if r is not None and not isinstance(r, Tensor) else r
                                 for r in (running_mean, running_var))
    if training:
        count = int(np.prod([x.shape[a] for a in axes]))
        if count <= 1:
            raise ValueError(
                f"{op}: training needs more than one value per channel to estimate a variance, got input of "
                f"shape {x.shape}; use a larger batch, or call .eval() to use the running statistics"
            )
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)  # biased, as in the normalisation
        x_hat = centered * (var + eps) ** -0.5
        if running_mean is not None or running_var is not None:
            _update_running_statistics(running_mean, running_var, mean, var, momentum, count)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: evaluation mode needs running_mean and running_var")
        mean = _per_channel(running_mean, x)
        x_hat = (x - mean) * _inverse_std(_per_channel(running_var, x), eps, x.dtype)
    if weight is not None:
        x_hat = x_hat * _per_channel(weight, x)
    if bias is not None:
        x_hat = x_hat + _per_channel(bias, x)
    return x_hat
