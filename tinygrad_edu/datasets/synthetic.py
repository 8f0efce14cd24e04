"""Two-dimensional toy data for decision-boundary pictures: moons and spirals.

Both are generated, not shipped, from an explicitly seeded NumPy Generator
(``seed=None`` draws from the package generator, so ``tg.manual_seed`` decides).
"""
from __future__ import annotations

import numpy as np

from ..engine import random as _random
from ..engine.tensor import dtype_or_default


def _check_count(value, name, fn, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_noise(noise, fn):
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{fn}: noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def make_moons(n=200, noise=0.1, seed=None, dtype=None):
    """Two interleaving half circles, one per class.

    Class 0 lies on the upper arc (cos t, sin t), class 1 on the lower arc
    (1 - cos t, 0.5 - sin t), for t in [0, pi]; Gaussian noise of standard
    deviation ``noise`` is added to both coordinates, then the samples are shuffled.

    Returns X (n, 2) in ``dtype`` (default: the package's default dtype) and y (n,) int64;
    class 0 gets ceil(n/2) samples.
    """
    n = _check_count(n, "n", "make_moons", minimum=2)
    noise = _check_noise(noise, "make_moons")
    rng = _random.generator(seed)
    n_upper = n - n // 2
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n // 2)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n // 2, np.int64)])
    order = rng.permutation(n)
    return X[order].astype(dtype_or_default(dtype)), y[order]


def make_spirals(n_classes=3, n_per_class=100, noise=0.2, seed=None, dtype=None):
    """``n_classes`` spiral arms winding out from the origin, one arm per class.

    Point i of arm k sits at radius r = i / (n_per_class - 1) and angle
    2 pi k / n_classes + 4 r + noise * N(0, 1) (radians), so ``noise`` blurs each
    arm sideways; larger noise makes the arms overlap.

    Returns X (n_classes * n_per_class, 2) in ``dtype`` (default: the package's
    default dtype), with coordinates in [-1, 1], and y int64, shuffled.
    """
    n_classes = _check_count(n_classes, "n_classes", "make_spirals", minimum=2)
    n_per_class = _check_count(n_per_class, "n_per_class", "make_spirals", minimum=2)
    noise = _check_noise(noise, "make_spirals")
    rng = _random.generator(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    angle = 2 * np.pi * y / n_classes + 4.0 * radius + noise * rng.standard_normal(radius.shape)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    order = rng.permutation(len(y))
    return X[order].astype(dtype_or_default(dtype)), y[order]
