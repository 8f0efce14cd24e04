"""Anomaly detection: the first NaN/Inf, forward or backward, names the op, the shapes and the user's line."""
import threading
import warnings

import numpy as np
import pytest

import tinygrad_edu as tg


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings():  # NumPy warns about log(-1), 0/0, ...; the errors are what we test
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def leaf(values):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_off_by_default_and_nan_just_flows():
    assert not tg.is_anomaly_enabled()
    x = leaf([-1.0, 1.0])
    y = x.log()
    assert np.isnan(y.data[0])


def test_forward_nan_names_op_shapes_and_user_line():
    x = leaf([-1.0, 1.0, 2.0])
    with tg.detect_anomaly():
        with pytest.raises(tg.AnomalyError) as info:
            x.log()  # the line to find
    message = str(info.value)
    assert "Log" in message and "1 nan" in message
    assert "input shapes (3,)" in message and "output shape (3,)" in message
    assert f"{__file__}:" in message and "x.log()  # the line to find" in message


def test_forward_zero_over_zero():
    a, b = leaf([0.0, 1.0]), leaf([0.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"Div.*1 nan.*input shapes \(2,\), \(2,\)"):
        a / b


def test_forward_division_by_zero_is_inf():
    x = leaf([1.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"Div.*\+inf"):
        x / 0.0


def test_forward_inside_a_composed_op_points_at_the_user_line():
    x = leaf([[1.0, -4.0]])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        x.std(axis=0).log()  # std of one sample is 0, log(0) = -inf
    assert "Log" in str(info.value) and "-inf" in str(info.value)
    assert "x.std(axis=0).log()" in str(info.value)  # not a line inside tinygrad_edu


def test_backward_inf_names_the_op_whose_backward_made_it():
    x = leaf([0.0, 4.0])
    with tg.detect_anomaly():
        y = x.sqrt()  # forward is finite (0, 2); d sqrt/dx at 0 is inf
        loss = y.sum()
        with pytest.raises(tg.AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert "backward of Pow" in message and "+inf" in message and "input 0" in message
    assert "y = x.sqrt()" in message and f"{__file__}:" in message


def test_backward_nan_from_zero_times_inf():
    x = leaf([0.0, 1.0])
    with tg.detect_anomaly():
        loss = (x.sqrt() * 0.0).sum()  # forward finite; backward 0 * inf = nan
        with pytest.raises(tg.AnomalyError, match=r"backward of Pow.*nan"):
            loss.backward()


def test_backward_of_graph_built_outside_names_unknown_location():
    x = leaf([0.0])
    loss = x.sqrt().sum()
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="outside detect_anomaly"):
        loss.backward()


def test_create_graph_backward_names_the_op_being_differentiated():
    x = leaf([0.0, 1.0])
    with tg.detect_anomaly():
        y = x.sqrt().sum()  # sqrt's line
        with pytest.raises(tg.AnomalyError) as info:
            tg.grad(y, x, create_graph=True)  # its backward is recorded op by op: x ** -0.5 is inf
    message = str(info.value)
    assert "the backward of Pow produced 1 +inf in its Pow step" in message
    assert "y = x.sqrt().sum()  # sqrt's line" in message and "tg.grad" not in message


def test_normal_training_inside_detect_anomaly_passes_and_matches():
    def run():
        tg.manual_seed(3)
        w = tg.randn(3, 2, dtype=np.float64, requires_grad=True)
        x = tg.randn(5, 3, dtype=np.float64)
        for _ in range(3):
            loss = ((x @ w).tanh().log_softmax(axis=1) ** 2).mean()
            loss.backward()
            with tg.no_grad():
                w.sub_(w.grad, alpha=0.1)
            w.grad = None
        return w.data.copy()

    plain = run()
    with tg.detect_anomaly():
        checked = run()
    np.testing.assert_array_equal(plain, checked)


def test_state_restored_nested_and_on_error():
    with tg.detect_anomaly():
        assert tg.is_anomaly_enabled()
        with tg.detect_anomaly(False):
            assert not tg.is_anomaly_enabled()
        assert tg.is_anomaly_enabled()
    assert not tg.is_anomaly_enabled()
    with pytest.raises(tg.AnomalyError):
        with tg.detect_anomaly():
            leaf([-1.0]).log()
    assert not tg.is_anomaly_enabled()


def test_decorator():
    @tg.detect_anomaly()
    def step(x):
        return x.log()

    with pytest.raises(tg.AnomalyError):
        step(leaf([-1.0]))
    assert not tg.is_anomaly_enabled()
    assert step(leaf([1.0])).item() == 0.0


def test_per_thread():
    seen = {}

    def other():
        seen["other"] = tg.is_anomaly_enabled()
        seen["nan"] = np.isnan(leaf([-1.0]).log().data[0])  # no error in this thread

    with tg.detect_anomaly():
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == {"other": False, "nan": True}


def test_anomaly_error_is_a_runtime_error():
    assert issubclass(tg.AnomalyError, RuntimeError)


def test_creation_recorded_only_in_anomaly_mode():
    x = leaf([1.0])
    assert getattr((x * 2).grad_fn, "creation", None) is None
    with tg.detect_anomaly():
        y = x * 2
    filename, line, code = y.grad_fn.creation
    assert filename == __file__ and code == "y = x * 2"


def test_failed_op_releases_its_arrays_at_once():
    w = leaf([-1.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        w.log()
    assert info.value is not None  # the traceback is still alive here ...
    w.data[0] = 1.0  # ... but w is writeable again


def test_an_op_passing_on_a_minus_inf_its_input_held_is_not_blamed():
    logits = leaf([[-np.inf, 0.0, 1.0]])  # a masked logit, as attention masks make them
    with tg.detect_anomaly():
        log_probs = logits.log_softmax(axis=-1)
        log_probs[:, 1:].sum().backward()
    assert np.isneginf(log_probs.data[0, 0]) and np.isfinite(logits.grad.data).all()
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match=r"Mul.*1 nan.*already 1 -inf"):
        logits.log_softmax(axis=-1) * 0.0  # -inf * 0 makes a nan: a new kind of value, so Mul is blamed
