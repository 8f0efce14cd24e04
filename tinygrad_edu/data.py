"""Getting data ready for training: split, standardise, one-hot encode, batch.

Everything works on NumPy arrays (Tensors are accepted and read through
``np.asarray``) and returns NumPy arrays, except ``batches``, which hands back
the kind it was given. Randomness comes from explicitly seeded Generators:
``seed`` may be an int, a ``np.random.Generator`` (drawn from, so successive
calls differ), or None for the package generator that ``tg.manual_seed`` sets.
"""
from __future__ import annotations

import math

import numpy as np

from .engine import random as _random
from .engine.tensor import Tensor, dtype_or_default, get_default_dtype

__all__ = ["train_test_split", "StandardScaler", "one_hot", "batches"]


def _array(values, name, fn):
    array = np.asarray(values.data if isinstance(values, Tensor) else values)
    if array.ndim == 0:
        raise ValueError(f"{fn}: {name} must have at least one dimension (one row per sample), got a scalar")
    return array


def _labels_for_strata(y, fn):
    """Class labels to stratify on: integer labels as they are, one-hot rows by their argmax."""
    if y.ndim == 2:
        return y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(f"{fn}: stratify needs 1-D class labels or 2-D one-hot rows, got y of shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"{fn}: y holds non-integer values, so it has no classes to stratify by; "
                         "pass stratify=False for regression targets")
    return y


def _test_count(test_size, n, fn):
    if isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        count = math.ceil(test_size * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        count = int(test_size)
    else:
        raise ValueError(f"{fn}: test_size must be a fraction in (0, 1) or a sample count, got {test_size!r}")
    if not 0 < count < n:
        raise ValueError(f"{fn}: test_size={test_size!r} leaves {count} of {n} samples for testing; "
                         "both parts must be non-empty")
    return count


def _stratified_test_indices(labels, n_test, rng):
    """Pick ``n_test`` indices so each class is represented in proportion to its size.

    Each class gets floor(n_test * share); the samples left over go to the classes
    with the largest remainders (ties broken at random), so the total is exact.
    """
    classes, counts = np.unique(labels, return_counts=True)
    quotas = n_test * counts / len(labels)
    taken = np.floor(quotas).astype(int)
    leftover = n_test - taken.sum()
    tie_break = rng.random(len(classes))
    by_remainder = np.lexsort((tie_break, -(quotas - taken)))
    taken[by_remainder[:leftover]] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, taken)]
    return np.concatenate(picked)


def train_test_split(X, y, test_size=0.2, seed=None, stratify=True):
    """Split ``(X, y)`` at random into training and test parts.

    X          (n, ...) features; y (n,) labels or (n, C) one-hot rows
    test_size  fraction in (0, 1) of the samples (rounded up) or a sample count
    stratify   keep each class's share equal in both parts (classes from y; one-hot rows by argmax)

    Returns ``X_train, X_test, y_train, y_test`` (in that order), each shuffled.

    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    >>> sorted(y_test.tolist())
    [0, 1]
    """
    fn = "train_test_split"
    X, y = _array(X, "X", fn), _array(y, "y", fn)
    if len(X) != len(y):
        raise ValueError(f"{fn}: X has {len(X)} samples but y has {len(y)}")
    n = len(X)
    n_test = _test_count(test_size, n, fn)
    rng = _random.generator(seed)
    if stratify:
        test = rng.permutation(_stratified_test_indices(_labels_for_strata(y, fn), n_test, rng))
    else:
        test = rng.permutation(n)[:n_test]
    in_test = np.zeros(n, dtype=bool)
    in_test[test] = True
    train = rng.permutation(np.flatnonzero(~in_test))
    return X[train], X[test], y[train], y[test]


class StandardScaler:
    """Standardise each feature to mean 0 and standard deviation 1.

    Fit it on the training split only, then transform both splits with the same
    ``mean_`` and ``scale_``: the test data must not leak into the statistics.
    A feature that is constant in the training data has ``scale_`` 1 (it is only
    centred). Statistics are computed in float64; results keep the input's float dtype.
    """

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    def fit(self, X) -> "StandardScaler":
        """Learn each feature's mean and standard deviation from ``X`` (n, features)."""
        X = self._check(X, "fit")
        if len(X) == 0:
            raise ValueError("StandardScaler.fit: X has no samples")
        data = X.astype(np.float64)
        self.mean_ = data.mean(axis=0)
        std = data.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        """``(X - mean_) / scale_``, in X's float dtype (the default dtype for integer input)."""
        X = self._check(X, "transform")
        self._check_fitted(X, "transform")
        return ((X - self.mean_) / self.scale_).astype(self._dtype(X))

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)``, then ``transform(X)``: X standardised with its own statistics."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """``X * scale_ + mean_``: undo ``transform``."""
        X = self._check(X, "inverse_transform")
        self._check_fitted(X, "inverse_transform")
        return (X * self.scale_ + self.mean_).astype(self._dtype(X))

    @staticmethod
    def _dtype(X):
        return X.dtype if X.dtype.kind == "f" else get_default_dtype()

    @staticmethod
    def _check(X, method):
        X = _array(X, "X", f"StandardScaler.{method}")
        if X.ndim != 2:
            raise ValueError(f"StandardScaler.{method}: X must be 2-D (samples, features), got shape {X.shape}")
        return X

    def _check_fitted(self, X, method):
        if self.mean_ is None:
            raise RuntimeError(f"StandardScaler.{method}: call fit() first (on the training split)")
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"StandardScaler.{method}: X has {X.shape[1]} features, "
                             f"but the scaler was fitted on {len(self.mean_)}")

    def __repr__(self):
        fitted = f"{len(self.mean_)} features" if self.mean_ is not None else "not fitted"
        return f"StandardScaler({fitted})"


def one_hot(y, num_classes=None, dtype=None) -> np.ndarray:
    """Class indices (n,) -> one-hot rows (n, num_classes).

    ``num_classes`` defaults to ``max(y) + 1``; ``dtype`` to the package's default dtype.

    >>> one_hot([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    labels = _array(y, "y", "one_hot")
    if labels.ndim != 1:
        raise ValueError(f"one_hot: y must be 1-D class indices, got shape {labels.shape}")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        raise ValueError("one_hot: y must hold whole-number class indices")
    if labels.dtype.kind not in "iuf" and labels.size:
        raise ValueError(f"one_hot: y must hold class indices, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {labels.min()}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(f"one_hot: class index {labels.max()} does not fit num_classes={num_classes}")
    encoded = np.zeros((len(labels), num_classes), dtype=dtype_or_default(dtype))
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def batches(X, y, batch_size, shuffle=True, seed=None):
    """Yield ``(X_batch, y_batch)`` mini-batches covering every sample once.

    The last batch is smaller when ``batch_size`` does not divide n. With
    ``shuffle`` the order is a fresh permutation drawn from ``seed``'s Generator.
    Tensors in give Tensors out (no graph is recorded); arrays in give arrays.

    Examples:
        >>> [len(xb) for xb, _ in batches(np.zeros((10, 2)), np.zeros(10), 4, shuffle=False)]
        [4, 4, 2]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive integer, got {batch_size!r}")
    X_array, y_array = _array(X, "X", "batches"), _array(y, "y", "batches")
    if len(X_array) != len(y_array):
        raise ValueError(f"batches: X has {len(X_array)} samples but y has {len(y_array)}")
    wrap_x = Tensor._make if isinstance(X, Tensor) else _same
    wrap_y = Tensor._make if isinstance(y, Tensor) else _same
    n = len(X_array)
    order = _random.generator(seed).permutation(n) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            rows = slice(start, start + batch_size)
        else:
            rows = order[start:start + batch_size]
        yield wrap_x(X_array[rows]), wrap_y(y_array[rows])


def _same(array):
    return array
