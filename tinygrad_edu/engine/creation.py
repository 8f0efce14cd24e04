"""Creation functions: tensors from data, constants and random draws."""
from __future__ import annotations

import numpy as np

from . import random as _random
from .tensor import Tensor, dtype_or_default, get_default_dtype


def _shape_arg(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _new(array, requires_grad):
    t = Tensor._make(array)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, requires_grad=False, dtype=None, name=None) -> Tensor:
    """Same as ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array: np.ndarray, requires_grad=False) -> Tensor:
    """A Tensor sharing ``array``'s memory (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: unsupported data of dtype {array.dtype} (use numbers or booleans)")
    return _new(array, requires_grad)


def zeros(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``, in the default dtype unless ``dtype``."""
    return _new(np.zeros(_shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return _new(np.ones(_shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``shape`` (an int or a tuple) filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _new(np.full(shape, fill_value, dtype=dtype_or_default(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (a Tensor or an array)."""
    return _new(np.zeros(np.shape(t), dtype=dtype or _dtype_of(t)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    """Ones with the shape and dtype of ``t`` (a Tensor or an array)."""
    return _new(np.ones(np.shape(t), dtype=dtype or _dtype_of(t)), requires_grad)


def _dtype_of(t):
    return t.dtype if isinstance(t, (Tensor, np.ndarray)) else np.asarray(t).dtype


def arange(start, stop=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Like ``np.arange``; integer arguments give an integer tensor unless ``dtype`` says otherwise."""
    integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
    if dtype is None and not integral:
        dtype = get_default_dtype()
    args = (start, stop, step) if stop is not None else (0, start, step)
    return _new(np.arange(*args, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False) -> Tensor:
    """The (n, m) identity matrix (m defaults to n)."""
    return _new(np.eye(n, m, dtype=dtype_or_default(dtype)), requires_grad)


def randn(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples from the package's seeded generator (``tg.manual_seed``)."""
    return _new(_random.draw("standard_normal", _shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from the package's seeded generator."""
    return _new(_random.draw("random", _shape_arg(shape), dtype=dtype_or_default(dtype)), requires_grad)


__all__ = ["tensor", "from_numpy", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand"]
