"""The shipped iris data and the generated moons and spirals."""
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.datasets import load_iris, make_moons, make_spirals
from tinygrad_edu.datasets.iris import CLASS_NAMES, FEATURE_NAMES


def test_iris_shape_classes_and_dtypes():
    X, y = load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert (np.diff(y) >= 0).all()  # stored in class order
    assert len(FEATURE_NAMES) == 4 and CLASS_NAMES == ("setosa", "versicolor", "virginica")


def test_iris_values_are_fishers():
    X, y = load_iris(dtype=np.float64)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(X[-1], [5.9, 3.0, 5.1, 1.8])
    # the two samples the UCI file has wrong, as its own notes correct them
    np.testing.assert_array_equal(X[34], [4.9, 3.1, 1.5, 0.2])
    np.testing.assert_array_equal(X[37], [4.9, 3.6, 1.4, 0.1])
    # the well-known summary statistics
    np.testing.assert_allclose(X.mean(axis=0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-4)
    np.testing.assert_allclose(X.min(axis=0), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_allclose(X.max(axis=0), [7.9, 4.4, 6.9, 2.5])
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [5.006, 3.428, 1.462, 0.246], atol=1e-9)


def test_iris_follows_the_default_dtype():
    tg.set_default_dtype(np.float64)
    assert load_iris()[0].dtype == np.float64


def test_iris_file_cites_its_source():
    text = (resources.files("tinygrad_edu.datasets") / "data" / "iris.csv").read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for needle in ("Fisher", "1936", "UCI Machine Learning Repository", "CC BY 4.0"):
        assert needle in header


def test_iris_data_file_is_package_data():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"datasets/data/*"' in pyproject


def test_moons_shape_balance_and_geometry():
    X, y = make_moons(101, noise=0.0, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 50]
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    # without noise every point lies exactly on its arc
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_moons_noise_spreads_points():
    X, y = make_moons(400, noise=0.3, seed=1)
    radius = np.hypot(*X[y == 0].astype(np.float64).T)
    assert 0.2 < radius.std() < 0.45


def test_spirals_shape_and_geometry():
    X, y = make_spirals(4, 50, noise=0.0, seed=0, dtype=np.float64)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert np.bincount(y).tolist() == [50] * 4
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.max() <= 1.0 + 1e-12
    # without noise the angle is 2 pi k / K + 4 r exactly
    angle = np.arctan2(X[:, 1], X[:, 0])
    expected = 2 * np.pi * y / 4 + 4.0 * radius
    keep = radius > 1e-9  # the centre point has no angle
    np.testing.assert_allclose(np.cos(angle[keep] - expected[keep]), 1.0, atol=1e-9)


@pytest.mark.parametrize("make", [lambda seed: make_moons(60, 0.2, seed), lambda seed: make_spirals(3, 20, 0.2, seed)])
def test_same_seed_same_data_and_samples_are_shuffled(make):
    X1, y1 = make(7)
    X2, y2 = make(7)
    X3, _ = make(8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert (np.diff(y1) != 0).sum() > 2  # not sorted by class


def test_no_seed_follows_manual_seed():
    tg.manual_seed(3)
    a = make_moons(20, 0.1)
    tg.manual_seed(3)
    b = make_moons(20, 0.1)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("call, message", [
    (lambda: make_moons(1), "n must be an integer >= 2"),
    (lambda: make_moons(10.5), "n must be an integer"),
    (lambda: make_moons(10, noise=-0.1), "noise must be a finite number >= 0"),
    (lambda: make_spirals(1, 10), "n_classes must be an integer >= 2"),
    (lambda: make_spirals(3, 0), "n_per_class must be an integer >= 2"),
    (lambda: make_spirals(3, 10, noise=float("nan")), "noise"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
