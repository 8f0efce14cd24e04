"""Layers: the tutorial's building blocks as Modules.

A layer holds its weights as ``Parameter``s and describes only the forward
computation; the graph records it, so ``loss.backward()`` fills every
``weight.grad`` without a hand-written derivative. Updating the weights is the
optimizer's job, never the layer's (see ``tinygrad_edu.optim``).
"""
from __future__ import annotations

import numpy as np

from ..engine.function import ShapeError
from ..engine.tensor import Tensor, dtype_or_default
from . import functional as F
from . import init as initializers
from .module import Module, Parameter, layer_input


def _dtype(dtype) -> np.dtype:
    dtype = dtype_or_default(dtype)
    if dtype.kind != "f":
        raise TypeError(f"layers need a floating dtype, got {dtype}")
    return dtype


def _shape_of(x) -> tuple:
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


# ----------------------------------------------------------------------------- dense


class Linear(Module):
    """A dense layer: ``x @ weight + bias``.

    in_features, out_features  sizes of the input and output
    weight                     (in_features, out_features), the tutorial's layout
    bias                       (out_features,), zeros at the start (the tutorial keeps (1, out))
    init                       'he' (default; for ReLU), 'xavier' (sqrt(1/n); for sigmoid, tanh,
                               softmax), 'glorot_uniform', 'normal' (std 0.01), 'zeros', or a
                               callable (shape, dtype) -> ndarray; see ``nn.init``

    x: (..., in_features) -> (..., out_features)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="he", dtype=None):
        super().__init__()
        for name, size in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(size, (int, np.integer)) or size <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer, got {size!r}")
        dtype = _dtype(dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.weight = Parameter(initializers.get(init)((self.in_features, self.out_features), dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x):
        shape = _shape_of(x)
        if len(shape) == 0 or shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear({self.in_features}, {self.out_features}): expected input with {self.in_features} "
                f"features, got shape {tuple(shape)}"
            )
        return F.linear(layer_input(x, self.weight, self), self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, init={self.init!r}")

    def short_repr(self):
        """``Linear(4, 16)``: the sizes only, for labels in pictures."""
        return f"Linear({self.in_features}, {self.out_features})"


class Perceptron(Module):
    """The simplest unit: ``sigmoid(x @ weight + bias)``, one probability per sample.

    weight (input_size,) starts at small random values (std 0.01), bias () at 0, as in
    the tutorial. x: (N, input_size) -> (N,). Train it with ``binary_cross_entropy``
    and an optimizer (the tutorial's learning rate belongs to the optimizer here).
    """

    def __init__(self, input_size: int, dtype=None):
        super().__init__()
        if not isinstance(input_size, (int, np.integer)) or input_size <= 0:
            raise ValueError(f"Perceptron: input_size must be a positive integer, got {input_size!r}")
        dtype = _dtype(dtype)
        self.input_size = int(input_size)
        self.weight = Parameter(initializers.normal((self.input_size,), std=0.01, dtype=dtype))
        self.bias = Parameter(np.zeros((), dtype=dtype))

    def logits(self, x) -> Tensor:
        """The score before the sigmoid, (N,): use it with ``binary_cross_entropy_with_logits``."""
        return self._in_scope(self._score, x)

    def _score(self, x):
        shape = _shape_of(x)
        if len(shape) == 0 or shape[-1] != self.input_size:
            raise ShapeError(f"Perceptron({self.input_size}): expected input with {self.input_size} features, "
                             f"got shape {tuple(shape)}")
        return F.linear(layer_input(x, self.weight, self), self.weight, self.bias)

    def forward(self, x):
        return self._score(x).sigmoid()

    def extra_repr(self):
        return str(self.input_size)


# ----------------------------------------------------------------------------- activations


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    """x where x > 0, else alpha * x (alpha = 0.01 by default, as in the tutorial)."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.leaky_relu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softmax(Module):
    """Probabilities along ``axis`` (default: the last)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """Log-probabilities along ``axis``: pair with ``NLLLoss``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.log_softmax(x, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class Identity(Module):
    """Returns its input (the tutorial's 'linear' activation)."""

    def forward(self, x):
        return F.identity(x)


# ----------------------------------------------------------------------------- regularisation


class Dropout(Module):
    """Inverted dropout with drop probability ``p``: active in ``train()`` mode, identity in ``eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    """Shared by the batch-norm layers: arguments, parameters, buffers; ``layout`` names the inputs it takes."""

    layout = {2: "(N, C)", 3: "(N, C, L)"}  # input ndim -> how errors show it

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive integer, got {num_features!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        dtype = _dtype(dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine else None
        self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
        self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))

    def forward(self, x):
        x = layer_input(x, self.running_mean, repr(self))
        if x.ndim not in self.layout:
            raise ShapeError(f"{self!r}: expected input of shape {' or '.join(self.layout.values())}, "
                             f"got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(f"{self!r}: expected input with {self.num_features} features (channels), "
                             f"got shape {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.eps, op=repr(self))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over the batch axis of (N, C) (or (N, C, L)) input, with PyTorch's semantics.

    training   normalise with the batch mean and *biased* batch variance; move the running
               statistics towards the batch mean and *unbiased* variance by ``momentum``:
               running = (1 - momentum) * running + momentum * batch
    evaluation normalise with the running statistics
    Learnable ``weight`` (gamma, ones) and ``bias`` (beta, zeros), shape (C,); buffers
    ``running_mean`` (zeros) and ``running_var`` (ones) are saved in ``state_dict``.

    The tutorial's ``momentum=0.9`` weighs the *old* statistic (0.9 * old + 0.1 * new); that is
    ``momentum=0.1`` here, which weighs the new one. The tutorial also uses eps 1e-8 and the
    biased variance for the running statistic; this layer follows PyTorch (eps 1e-5, unbiased).
    Training needs more than one value per feature: a batch of one raises ValueError.
    """


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W): per channel, over the batch and every pixel.

    As ``BatchNorm1d`` (PyTorch's semantics, running statistics, ``weight`` and ``bias`` of
    shape (C,)), with each channel's statistics taken over its N*H*W values, as a
    convolution's output needs: every pixel of a channel is one more sample of it.
    """

    layout = {4: "(N, C, H, W)"}
