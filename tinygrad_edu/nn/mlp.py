"""``MLP``: the tutorial's ``NeuralNetwork(layer_sizes, activations)``, built from graph modules.

Training uses the scores before the final softmax, so the loss stays finite for
any logits: ``loss = F.cross_entropy(model.logits(x), y)``. Its gradient with
respect to those scores is the tutorial's ``y_pred - y_true`` (over the batch size).
``model(x)`` returns the probabilities, as the tutorial's ``forward`` does.

Examples:
    >>> import tinygrad_edu as tg
    >>> model = tg.nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    >>> [name for name, _ in model.named_parameters()][:2]
    ['layers.0.weight', 'layers.0.bias']
"""
from __future__ import annotations

import numpy as np

from ..engine.function import no_grad
from .containers import ModuleList
from .layers import Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .module import Module

# Activation names (as the tutorial spells them) -> module classes. None and 'linear' mean none.
ACTIVATIONS = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "linear": Identity,
    None: Identity,
}

# The tutorial's initialisation rule: He for ReLU layers, sqrt(1/n) "xavier" for every other.
_INIT_FOR_ACTIVATION = {"relu": "he"}


class MLP(Module):
    """A stack of dense layers, each followed by its activation.

    layer_sizes  [input, hidden1, ..., output], e.g. [4, 16, 8, 3]
    activations  one name per layer from ``ACTIVATIONS`` ('relu', 'sigmoid', 'tanh',
                 'leaky_relu', 'softmax', 'linear' or None); default: 'relu' for the
                 hidden layers and 'softmax' for the output, as in the tutorial
    dtype        parameter dtype (default: ``tg.get_default_dtype()``)

    Each layer is initialised as the tutorial does: He for 'relu' layers, "xavier"
    (std sqrt(1/fan_in)) for all others. ``layers[i]`` is the i-th ``Linear`` and
    ``activations[i]`` its activation module, so parameters are named
    ``layers.0.weight``, ``layers.0.bias``, ``layers.1.weight``, ...

    x: (N, layer_sizes[0]) -> (N, layer_sizes[-1])
    """

    def __init__(self, layer_sizes, activations=None, dtype=None):
        super().__init__()
        sizes = list(layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: layer_sizes needs an input and an output size, got {sizes}")
        if activations is None:
            activations = ["relu"] * (len(sizes) - 2) + ["softmax"]
        activations = list(activations)
        if len(activations) != len(sizes) - 1:
            raise ValueError(
                f"MLP: {len(sizes) - 1} layers ({sizes}) need {len(sizes) - 1} activations, got {len(activations)}"
            )
        unknown = [a for a in activations if not isinstance(a, (str, type(None))) or a not in ACTIVATIONS]
        if unknown:
            known = sorted(k for k in ACTIVATIONS if k is not None)
            raise ValueError(f"MLP: unknown activation(s) {unknown}; choose from {known} or None")
        self.layer_sizes = tuple(sizes)
        self.activation_names = tuple(activations)
        self.layers = ModuleList(
            Linear(n_in, n_out, init=_INIT_FOR_ACTIVATION.get(act, "xavier"), dtype=dtype)
            for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)
        )
        self.activations = ModuleList(ACTIVATIONS[act]() for act in activations)

    def logits(self, x):
        """Everything but the output activation: the scores a loss such as ``cross_entropy`` wants."""
        return self._in_scope(self._scores, x)

    def _scores(self, x):
        layers, activations = list(self.layers), list(self.activations)
        for i in range(len(layers) - 1):
            x = activations[i](layers[i](x))
        return layers[-1](x)

    def forward(self, x):
        """The network's output: probabilities when the last activation is 'softmax'."""
        return self.activations[-1](self._scores(x))

    def predict(self, x) -> np.ndarray:
        """Class indices (N,): argmax of the output, computed without recording a graph."""
        with no_grad():
            return np.argmax(self(x).data, axis=-1)
