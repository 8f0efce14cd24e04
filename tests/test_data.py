"""Splitting, standardising, one-hot encoding and batching."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.data import StandardScaler, batches, one_hot, train_test_split
from tinygrad_edu.datasets import load_iris


def _rows(X):
    return {tuple(row) for row in np.asarray(X).reshape(len(X), -1).tolist()}


# ---------------------------------------------------------------------------- train_test_split


def test_split_iris_is_stratified_disjoint_and_complete():
    X, y = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=42)
    assert X_train.shape == (120, 4) and X_test.shape == (30, 4)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    # iris has one duplicate row, so compare with indices through a unique key column
    key = np.arange(150.0)[:, None]
    Xk = np.concatenate([key, X], axis=1)
    K_train, K_test, _, _ = train_test_split(Xk, y, test_size=0.2, seed=42)
    assert sorted(K_train[:, 0].tolist() + K_test[:, 0].tolist()) == list(range(150))
    # rows and labels stay together
    for rows, labels in ((K_train, y_train), (K_test, y_test)):
        np.testing.assert_array_equal(y[rows[:, 0].astype(int)], labels)
        np.testing.assert_array_equal(X[rows[:, 0].astype(int)], rows[:, 1:])


def test_split_is_deterministic_by_seed_and_shuffled():
    X, y = np.arange(100.0)[:, None], np.repeat([0, 1], 50)
    first = train_test_split(X, y, seed=5)
    again = train_test_split(X, y, seed=5)
    other = train_test_split(X, y, seed=6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    assert (np.diff(first[2]) != 0).sum() > 2  # training labels are not grouped by class


def test_split_uneven_classes_keeps_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100.0)[:, None]
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    assert len(y_test) == 20
    assert np.bincount(y_test).tolist() == [12, 6, 2]


def test_split_rounds_the_test_part_up_and_accepts_a_count():
    X, y = np.zeros((11, 1)), np.arange(11) % 2
    assert len(train_test_split(X, y, test_size=0.25, seed=0)[1]) == 3  # ceil(2.75)
    assert len(train_test_split(X, y, test_size=4, seed=0)[1]) == 4


@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=5), fraction=st.floats(0.05, 0.95),
       seed=st.integers(0, 1000))
def test_stratified_counts_follow_each_class_share(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    n_test = int(np.ceil(fraction * n))
    if not 0 < n_test < n:
        return
    X = np.arange(n, dtype=float)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=fraction, seed=seed)
    assert len(y_test) == n_test and len(y_train) == n - n_test
    got = np.bincount(y_test, minlength=len(counts))
    quota = n_test * np.array(counts) / n
    assert (np.abs(got - quota) < 1).all()
    assert sorted(X_train[:, 0].tolist() + X_test[:, 0].tolist()) == list(range(n))


def test_split_one_hot_targets_and_tensors():
    X, y = load_iris()
    Y = one_hot(y)
    _, X_test, _, Y_test = train_test_split(tg.Tensor(X), Y, seed=0)
    assert isinstance(X_test, np.ndarray)
    assert Y_test.shape == (30, 3) and Y_test.sum(axis=0).tolist() == [10, 10, 10]


def test_split_regression_targets_need_stratify_false():
    X, y = np.arange(20.0)[:, None], np.linspace(0, 1, 20)
    with pytest.raises(ValueError, match="stratify=False"):
        train_test_split(X, y, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0, stratify=False)
    assert len(X_test) == 4
    np.testing.assert_array_equal(X_test[:, 0] / 19, y_test)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 10, -0.2, "0.2", True])
def test_split_rejects_bad_test_sizes(test_size):
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros((10, 1)), np.zeros(10, dtype=int), test_size=test_size)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        train_test_split(np.zeros((10, 1)), np.zeros(9, dtype=int))


# ---------------------------------------------------------------------------- StandardScaler


def test_scaler_uses_training_statistics_only():
    train = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
    test = np.array([[5.0, 50.0]], dtype=np.float32)
    scaler = StandardScaler().fit(train)
    np.testing.assert_allclose(scaler.mean_, [2.0, 20.0])
    np.testing.assert_allclose(scaler.scale_, [1.0, 10.0])
    out = scaler.transform(train)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]])
    np.testing.assert_allclose(scaler.transform(test), [[3.0, 3.0]])  # not re-centred on the test data


def test_scaler_standardises_iris_and_inverts():
    X, _ = load_iris(dtype=np.float64)
    scaler = StandardScaler()
    Z = scaler.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, atol=1e-12)
    assert "4 features" in repr(scaler)


def test_scaler_constant_feature_is_only_centred():
    X = np.array([[1.0, 7.0], [3.0, 7.0]])
    Z = StandardScaler().fit_transform(X)
    np.testing.assert_array_equal(Z[:, 1], [0.0, 0.0])


def test_scaler_integer_input_gives_default_float():
    assert StandardScaler().fit_transform(np.array([[1, 2], [3, 4]])).dtype == np.float32


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        StandardScaler().transform(np.zeros((2, 2)))
    scaler = StandardScaler().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="X has 3 features, but the scaler was fitted on 2"):
        scaler.transform(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        StandardScaler().fit(np.zeros(3))


# ---------------------------------------------------------------------------- one_hot


def test_one_hot_basic_and_dtypes():
    encoded = one_hot(np.array([2, 0, 1, 2]))
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, np.eye(3)[[2, 0, 1, 2]])
    assert one_hot([1], num_classes=4, dtype=np.float64).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert one_hot(np.array([0.0, 1.0])).tolist() == [[1, 0], [0, 1]]
    np.testing.assert_array_equal(one_hot(tg.Tensor(np.array([1, 0]))), [[0, 1], [1, 0]])


@pytest.mark.parametrize("labels, kwargs, message", [
    ([0, -1], {}, ">= 0"),
    ([0, 3], {"num_classes": 3}, "does not fit num_classes=3"),
    ([0.5, 1.0], {}, "whole-number"),
    ([[0, 1]], {}, "1-D"),
])
def test_one_hot_errors(labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        one_hot(np.array(labels), **kwargs)


# ---------------------------------------------------------------------------- batches


def test_batches_cover_every_sample_once():
    X, y = np.arange(50.0)[:, None], np.arange(50)
    parts = list(batches(X, y, 16, seed=0))
    assert [len(xb) for xb, _ in parts] == [16, 16, 16, 2]
    seen = np.concatenate([yb for _, yb in parts])
    assert sorted(seen.tolist()) == list(range(50))
    assert seen.tolist() != list(range(50))  # shuffled
    for xb, yb in parts:
        np.testing.assert_array_equal(xb[:, 0], yb)  # rows stay aligned


def test_batches_without_shuffle_keep_order():
    y = np.arange(10)
    assert [yb.tolist() for _, yb in batches(np.zeros((10, 1)), y, 4, shuffle=False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_seed_and_generator():
    X, y = np.zeros((20, 1)), np.arange(20)
    order = lambda seed: np.concatenate([yb for _, yb in batches(X, y, 8, seed=seed)]).tolist()  # noqa: E731
    assert order(3) == order(3) and order(3) != order(4)
    rng = np.random.default_rng(0)
    assert order(rng) != order(rng)  # a Generator is drawn from: each pass is a new permutation


def test_batches_keep_tensors_as_tensors():
    X, y = tg.Tensor(np.ones((5, 2))), np.arange(5)
    xb, yb = next(batches(X, y, 2))
    assert isinstance(xb, tg.Tensor) and not xb.requires_grad and xb.shape == (2, 2)
    assert isinstance(yb, np.ndarray)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batches_reject_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        next(batches(np.zeros((4, 1)), np.zeros(4), batch_size))


def test_batches_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        next(batches(np.zeros((4, 1)), np.zeros(3), 2))
