"""Fisher's iris data, shipped with the package: 150 flowers, 4 measurements, 3 species.

The table lives in ``data/iris.csv``; its header cites the source (R. A. Fisher,
1936, via the UCI Machine Learning Repository, CC BY 4.0) and lists the two UCI
transcription errors this copy has corrected. Nothing is downloaded.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from ..engine.tensor import dtype_or_default

FEATURE_NAMES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
CLASS_NAMES = ("setosa", "versicolor", "virginica")


def load_iris(dtype=None):
    """The iris data as ``(X, y)``.

    X  (150, 4) measurements in cm, in ``dtype`` (default: the package's default dtype, float32)
    y  (150,) int64 species index: 0 setosa, 1 versicolor, 2 virginica (50 of each, in that order)

    >>> X, y = load_iris()
    >>> X.shape, y.shape, np.bincount(y).tolist()
    ((150, 4), (150,), [50, 50, 50])
    """
    text = (resources.files(__package__) / "data" / "iris.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    # lines[0] holds the column names; the rest are samples
    table = np.loadtxt(lines[1:], delimiter=",", dtype=np.float64, ndmin=2)
    X = table[:, :4].astype(dtype_or_default(dtype))
    y = table[:, 4].astype(np.int64)
    return X, y
