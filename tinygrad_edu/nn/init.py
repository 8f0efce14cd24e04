"""Weight initialisation: where a network's first random numbers come from.

Each function takes a shape and returns a fresh ndarray. For a weight of shape
(fan_in, fan_out) (the layout ``Linear`` uses), the scale depends on fan_in so
that activations keep roughly the same size from layer to layer:

=================  ============================================  ===========================
name               distribution                                  suits
=================  ============================================  ===========================
``he``             normal, std sqrt(2 / fan_in)                  ReLU layers
``xavier``         normal, std sqrt(1 / fan_in)                  sigmoid, tanh, softmax layers
``glorot_uniform`` uniform, limit sqrt(6 / (fan_in + fan_out))   sigmoid, tanh (Glorot's form)
``normal``         normal, std 0.01                              small networks, perceptrons
``zeros``          all zeros                                     biases
=================  ============================================  ===========================

``xavier`` is the "Xavier" of the classic from-scratch recipe (variance 1/fan_in,
sometimes called LeCun normal); ``glorot_uniform`` is the original paper's
uniform form, which also looks at fan_out.

All draws use the package's seeded generator (``tg.manual_seed``) in float64 and
are then cast, so a float32 model and a float64 model built after the same seed
start from the same weights, up to rounding.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import random as _random
from ..engine.tensor import dtype_or_default


def _fans(shape) -> tuple:
    shape = tuple(shape)
    if not shape:
        raise ValueError("init: a weight needs at least one dimension to have a fan-in, got shape ()")
    fan_in = shape[0]
    fan_out = shape[1] if len(shape) > 1 else 1
    if fan_in <= 0:
        raise ValueError(f"init: fan-in must be positive, got shape {shape}")
    return fan_in, fan_out


def _cast(values: np.ndarray, dtype) -> np.ndarray:
    return values.astype(dtype_or_default(dtype), copy=False)


def _standard_normal(shape) -> np.ndarray:
    return _random.draw("standard_normal", tuple(shape))


def he_normal(shape, dtype=None) -> np.ndarray:
    """Normal with std sqrt(2 / fan_in) (He et al.), for layers followed by ReLU."""
    fan_in, _ = _fans(shape)
    return _cast(_standard_normal(shape) * math.sqrt(2.0 / fan_in), dtype)


def xavier_normal(shape, dtype=None) -> np.ndarray:
    """Normal with std sqrt(1 / fan_in): the tutorial's "Xavier", for sigmoid/tanh/softmax layers."""
    fan_in, _ = _fans(shape)
    return _cast(_standard_normal(shape) * math.sqrt(1.0 / fan_in), dtype)


def glorot_uniform(shape, dtype=None) -> np.ndarray:
    """Uniform on [-limit, limit] with limit = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio)."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _cast(_random.draw("uniform", -limit, limit, tuple(shape)), dtype)


def normal(shape, std=0.01, dtype=None) -> np.ndarray:
    """Normal with a fixed std (0.01 by default), whatever the layer's size."""
    if not std >= 0:
        raise ValueError(f"init.normal: std must be >= 0, got {std!r}")
    return _cast(_standard_normal(shape) * std, dtype)


def zeros(shape, dtype=None) -> np.ndarray:
    """All zeros (biases start here)."""
    return np.zeros(tuple(shape), dtype=dtype_or_default(dtype))


# The names layers accept for ``init=``; each maps to a function (shape, dtype) -> ndarray.
INITIALIZERS = {
    "he": he_normal,
    "he_normal": he_normal,
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "glorot_uniform": glorot_uniform,
    "normal": normal,
    "zeros": zeros,
}


def get(name):
    """The initialiser called ``name`` (see ``INITIALIZERS``); a callable is returned unchanged."""
    if callable(name):
        return name
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"init: unknown initialisation {name!r}; choose one of {sorted(INITIALIZERS)}") from None


def initialize(shape, method="he", dtype=None) -> np.ndarray:
    """A weight of ``shape`` drawn by ``method`` ('he', 'xavier', 'glorot_uniform', 'normal', 'zeros')."""
    return get(method)(shape, dtype=dtype)
