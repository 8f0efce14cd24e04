"""The 8x8 handwritten digits: 1,797 small grey images of the digits 0-9, shipped with the package.

Source: the test set of "Optical Recognition of Handwritten Digits" (E. Alpaydin
and C. Kaynak, 1998) from the UCI Machine Learning Repository, licensed under
Creative Commons Attribution 4.0 (CC BY 4.0). 32x32 bitmaps of digits written by
13 people were cut into 4x4 blocks and the ink in each block counted, so every
pixel is an integer 0..16. The compressed CSV in ``data/`` names its source and
licence in its header; nothing is downloaded.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..engine.tensor import dtype_or_default

__all__ = ["load_digits"]

_FILE = Path(__file__).with_name("data") / "digits.csv.gz"


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    """The whole file as one read-only (1797, 65) int64 array: 64 pixels, then the label."""
    with gzip.open(_FILE, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", comments="#", dtype=np.int64)
    table.flags.writeable = False
    return table


def load_digits(images: bool = False, dtype=None):
    """Return ``(X, y)``: the 1,797 digit images and their labels.

    X   (1797, 64) pixel counts 0..16, each image row by row; with ``images=True``
        shaped (1797, 8, 8) instead. Floating, in ``dtype`` (default: the package's
        default dtype, float32 unless ``tg.set_default_dtype`` says otherwise).
    y   (1797,) int64 digits 0..9 (174 to 183 of each).

    Both are fresh arrays: changing them does not change the next call's.
    """
    table = _table()
    X = table[:, :64].astype(dtype_or_default(dtype))
    y = table[:, 64].copy()
    return (X.reshape(-1, 8, 8) if images else X), y
