"""The shipped 8x8 digits data set: shape, values, labels, provenance, no shared state between calls."""
import gzip

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.datasets import digits, load_digits


def test_shapes_values_and_labels():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.sum() == 1797 and counts.min() >= 174
    # the first image is a zero: a ring of ink around an empty middle
    first = X[0].reshape(8, 8)
    assert y[0] == 0 and first[3:5, 3:5].max() <= 2 and first[:, 1:3].sum() > 30


def test_images_option_and_dtype():
    X, _ = load_digits()
    images, _ = load_digits(images=True, dtype=np.float64)
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    tg.set_default_dtype(np.float64)
    assert load_digits()[0].dtype == np.float64


def test_calls_do_not_share_arrays():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0 and y2.min() == 0


def test_the_file_names_its_source_and_licence():
    with gzip.open(digits._FILE, "rt") as fh:
        header = [line for line in fh.read(2000).splitlines() if line.startswith("#")]
    text = " ".join(header)
    assert "UCI Machine Learning Repository" in text and "Alpaydin" in text
    assert "CC BY 4.0" in text
    assert "CC BY 4.0" in digits.__doc__ and "UCI" in digits.__doc__
