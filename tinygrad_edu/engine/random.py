"""One seeded NumPy Generator behind all randomness in the package.

``tg.manual_seed(n)`` makes every random draw (initialisation, dropout masks,
shuffling, ``tg.randn``) repeatable. Draws take a lock, so several threads may
share the generator safely (NumPy's Generator is not thread-safe on its own).
"""
from __future__ import annotations

import threading

import numpy as np

_lock = threading.RLock()
_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the package's generator; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    with _lock:
        _generator = np.random.default_rng(int(seed))
    return _generator


def draw(method: str, *args, **kwargs):
    """Call ``Generator.<method>(*args, **kwargs)`` on the shared generator, under the lock."""
    with _lock:
        return getattr(_generator, method)(*args, **kwargs)


def generator(seed=None) -> np.random.Generator:
    """A fresh Generator for ``seed``, or (seed None) one spawned from the shared generator."""
    if seed is not None:
        return np.random.default_rng(seed)
    with _lock:
        return np.random.default_rng(_generator.integers(2**63))
