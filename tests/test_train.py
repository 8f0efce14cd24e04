"""The training loop, with small stand-ins for a model, a loss and an optimizer (the protocol only)."""
import io
import os
import signal
import sys
import threading
import types

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import one_hot
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.train import History, accuracy, evaluate, fit


class TinyNet(Module):
    """x (n, d) -> logits (n, k): one hidden tanh layer; records each call's mode."""

    def __init__(self, d=2, hidden=8, k=3, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w1 = Parameter((rng.standard_normal((d, hidden)) / np.sqrt(d)).astype(np.float32))
        self.b1 = Parameter(np.zeros(hidden, np.float32))
        self.w2 = Parameter((rng.standard_normal((hidden, k)) / np.sqrt(hidden)).astype(np.float32))
        self.b2 = Parameter(np.zeros(k, np.float32))
        self.calls = []  # (training, grad enabled, batch rows)

    def forward(self, x):
        self.calls.append((self.training, tg.is_grad_enabled(), len(x)))
        return (x @ self.w1 + self.b1).tanh() @ self.w2 + self.b2

    def logits(self, x):
        return self(x)


class TinySGD:
    """Plain gradient descent; counts its calls."""

    def __init__(self, params, lr=0.5):
        self.params, self.lr = list(params), lr
        self.log = []

    def zero_grad(self):
        self.log.append("zero_grad")
        for p in self.params:
            p.grad = None

    def step(self):
        self.log.append("step")
        assert all(p.grad is not None for p in self.params), "step() before backward()"
        with tg.no_grad():
            for p in self.params:
                p.sub_(p.grad, alpha=self.lr)


def cross_entropy(logits, y):
    """Mean cross-entropy for integer labels (ndarray) or one-hot rows (ndarray or Tensor)."""
    log_p = logits.log_softmax(axis=1)
    labels = y.data if isinstance(y, tg.Tensor) else np.asarray(y)
    if labels.ndim == 1:
        labels = one_hot(labels, logits.shape[1])
    return -(log_p * labels).sum(axis=1).mean()


def blobs(n_per_class=20, seed=0):
    """Three well separated Gaussian blobs in the plane."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    X = np.concatenate([c + 0.5 * rng.standard_normal((n_per_class, 2)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per_class)
    return X, y


def test_fit_learns_and_records_history():
    X, y = blobs()
    net = TinyNet()
    history = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=30, batch_size=16, verbose=False,
                  seed=0)
    assert isinstance(history, History) and history.epochs == 30 and not history.interrupted
    assert len(history.accuracy) == 30 and history.val_loss == [] and history.val_accuracy == []
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert history.accuracy[-1] == 1.0
    assert evaluate(net, X, y).accuracy == 1.0
    assert set(history.to_dict()) == {"epochs", "loss", "accuracy", "val_loss", "val_accuracy", "interrupted"}
    assert "30 epochs" in repr(history)


def test_each_epoch_is_a_shuffled_pass_in_minibatches():
    X, y = blobs(n_per_class=10)  # 30 samples: batches 8, 8, 8, 6
    X[:, 0] = np.arange(30)  # a row id in the first column (tiny values keep tanh unsaturated)
    X[:, 0] *= 1e-3
    seen = []

    def model(x):
        seen.append(np.rint(x.data[:, 0] * 1e3).astype(int).tolist())
        return net(x)

    net = TinyNet()
    optimizer = TinySGD(net.parameters(), lr=0.01)
    fit(model, X, y, cross_entropy, optimizer, epochs=3, batch_size=8, verbose=False, seed=0)
    assert [len(b) for b in seen] == [8, 8, 8, 6] * 3
    epochs = [sum(seen[i:i + 4], []) for i in range(0, 12, 4)]
    for order in epochs:
        assert sorted(order) == list(range(30))
    assert epochs[0] != epochs[1] != epochs[2] and epochs[0] != list(range(30))
    assert optimizer.log == ["zero_grad", "step"] * 12


def test_epoch_loss_is_the_mean_of_batch_losses():
    X, y = blobs(n_per_class=10)
    batch_losses = []

    def recording_loss(output, target):
        loss = cross_entropy(output, target)
        batch_losses.append(loss.item())
        return loss

    net = TinyNet()
    history = fit(net, X, y, recording_loss, TinySGD(net.parameters()), epochs=2, batch_size=7, verbose=False)
    per_epoch = np.array(batch_losses).reshape(2, 5).mean(axis=1)  # 30 samples -> 5 batches (the tutorial's mean)
    np.testing.assert_allclose(history.loss, per_epoch, rtol=1e-12)


def test_same_seed_same_training():
    X, y = blobs()
    runs = []
    for _ in range(2):
        net = TinyNet()
        history = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), 5, 16, verbose=False, seed=11)
        runs.append((history.loss, net.w1.data.copy()))
    net = TinyNet()
    other = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), 5, 16, verbose=False, seed=12)
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert other.loss != runs[0][0]


def test_seed_none_follows_manual_seed():
    X, y = blobs()
    losses = []
    for _ in range(2):
        tg.manual_seed(4)
        net = TinyNet()
        losses.append(fit(net, X, y, cross_entropy, TinySGD(net.parameters()), 3, 16, verbose=False).loss)
    assert losses[0] == losses[1]


def test_tutorial_log_lines(capsys):
    X, y = blobs(n_per_class=4)
    net = TinyNet()
    history = fit(net, X, y, cross_entropy, TinySGD(net.parameters(), 0.05), epochs=250, batch_size=16,
                  progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Epoch 100/250, Loss: {history.loss[99]:.4f}", f"Epoch 200/250, Loss: {history.loss[199]:.4f}"]


def test_log_every_and_quiet(capsys):
    X, y = blobs(n_per_class=4)
    net = TinyNet()
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=4, batch_size=16, log_every=2)
    assert [line.split(",")[0] for line in capsys.readouterr().out.splitlines()] == ["Epoch 2/4", "Epoch 4/4"]
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=4, batch_size=16, verbose=False)
    assert capsys.readouterr().out == ""


def test_validation_runs_in_eval_mode_without_a_graph(capsys):
    X, y = blobs()
    X_val, y_val = blobs(n_per_class=5, seed=1)
    net = TinyNet()
    history = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=3, batch_size=32,
                  validation=(X_val, y_val), log_every=1)
    assert len(history.val_loss) == 3 and len(history.val_accuracy) == 3
    training_calls = [c for c in net.calls if c[2] != 15]
    validation_calls = [c for c in net.calls if c[2] == 15]
    assert len(validation_calls) == 3
    assert all(training and grad for training, grad, _ in training_calls)
    assert all(not training and not grad for training, grad, _ in validation_calls)
    assert net.training  # back in the mode it had
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"Epoch 1/3, Loss: {history.loss[0]:.4f}, Val Loss: {history.val_loss[0]:.4f}, "
                     f"Val Accuracy: {history.val_accuracy[0]:.2%}")
    np.testing.assert_allclose(history.val_loss[-1], evaluate(net, X_val, y_val, cross_entropy).loss, rtol=1e-6)


def test_model_mode_is_restored_and_bound_methods_switch_their_owner():
    X, y = blobs(n_per_class=5)
    X_val, y_val = blobs(n_per_class=3, seed=1)
    net = TinyNet().eval()
    fit(net.logits, X, y, cross_entropy, TinySGD(net.parameters()), epochs=2, batch_size=8,
        validation=(X_val, y_val), verbose=False)
    assert not net.training
    assert {c[0] for c in net.calls if c[2] != 9} == {True}  # trained in training mode
    assert {c[0] for c in net.calls if c[2] == 9} == {False}


def test_a_plain_function_works_as_the_model():
    X, y = blobs(n_per_class=5)
    w = tg.Tensor(np.zeros((2, 3), np.float32), requires_grad=True)

    history = fit(lambda x: x @ w, X, y, cross_entropy, TinySGD([w], lr=0.1), epochs=20, batch_size=5, verbose=False)
    assert history.loss[-1] < history.loss[0] and history.accuracy[-1] > 0.9


def test_scheduler_steps_once_per_epoch_and_callback_sees_history():
    X, y = blobs(n_per_class=5)

    class Scheduler:
        steps = 0

        def step(self):
            Scheduler.steps += 1

    seen = []
    net = TinyNet()
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=4, batch_size=4, scheduler=Scheduler(),
        verbose=False, on_epoch_end=lambda epoch, history: seen.append((epoch, history.epochs)))
    assert Scheduler.steps == 4
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4)]


def test_ctrl_c_returns_the_history_so_far(capsys):
    X, y = blobs(n_per_class=5)  # 15 samples, batch 5: 3 calls per epoch
    net = TinyNet()

    def model(x):
        if len(net.calls) == 7:  # the second batch of epoch 3
            raise KeyboardInterrupt
        return net(x)

    net.eval()
    history = fit(model, X, y, cross_entropy, TinySGD(net.parameters()), epochs=10, batch_size=5, progress=False)
    assert history.interrupted and history.epochs == 2 and len(history.accuracy) == 2
    assert "Training interrupted during epoch 3/10; returning the history of 2 completed epoch(s)." in \
        capsys.readouterr().out
    assert not net.training  # its mode is restored even when interrupted


class InterruptedMomentum(tg.optim.SGD):
    """SGD with momentum that gets a real Ctrl-C (SIGINT) halfway through its 5th step."""

    def __init__(self, params):
        super().__init__(params, lr=0.1, momentum=0.9)
        self.updates = {}  # id(parameter) -> how many times it was updated
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)

    def _update(self, param, grad, state, group):
        super()._update(param, grad, state, group)
        self.updates[id(param)] = self.updates.get(id(param), 0) + 1
        if self.steps == 5 and not self.updates.get("signalled"):
            self.updates["signalled"] = True
            os.kill(os.getpid(), signal.SIGINT)  # arrives now: one parameter updated, three to go


def test_ctrl_c_inside_an_optimizer_step_stops_after_the_whole_step(capsys):
    assert threading.current_thread() is threading.main_thread()  # signals reach only the main thread
    X, y = blobs(n_per_class=5)  # 3 steps an epoch: the 5th step is the second of epoch 2
    net = TinyNet()
    optimizer = InterruptedMomentum(net.parameters())
    before = signal.getsignal(signal.SIGINT)
    history = fit(net, X, y, cross_entropy, optimizer, epochs=10, batch_size=5, progress=False, verbose=False)
    assert history.interrupted and history.epochs == 1
    assert "Training interrupted during epoch 2/10" in capsys.readouterr().out
    # every parameter took all 5 steps, and each has its momentum buffer: none is a step behind
    assert [optimizer.updates[id(p)] for p in net.parameters()] == [5, 5, 5, 5] and optimizer.steps == 5
    assert all(set(optimizer.state[p]) == {"momentum_buffer"} for p in net.parameters())
    assert signal.getsignal(signal.SIGINT) is before  # the usual Ctrl-C handling is back


def test_ctrl_c_from_a_callback_keeps_the_finished_epoch():
    X, y = blobs(n_per_class=5)
    net = TinyNet()

    def stop_at_two(epoch, history):
        if epoch == 2:
            raise KeyboardInterrupt

    history = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=5, batch_size=5, verbose=False,
                  on_epoch_end=stop_at_two)
    assert history.interrupted and history.epochs == 2


def test_targets_keep_their_kind():
    X, y = blobs(n_per_class=5)
    kinds = []

    def loss_fn(output, target):
        kinds.append(type(target))
        return cross_entropy(output, target)

    net = TinyNet()
    history = fit(net, X, tg.Tensor(one_hot(y)), loss_fn, TinySGD(net.parameters()), 2, 5, verbose=False)
    assert set(kinds) == {tg.Tensor} and len(history.accuracy) == 2  # one-hot targets: accuracy by argmax
    kinds.clear()
    fit(net, X, y, loss_fn, TinySGD(net.parameters()), 1, 5, verbose=False)
    assert set(kinds) == {np.ndarray}


def test_batches_keep_the_input_dtype():
    X, y = blobs(n_per_class=5)
    dtypes = []

    def model(x):
        dtypes.append(x.dtype)
        return net(x)

    net = TinyNet()
    fit(model, X, y, cross_entropy, TinySGD(net.parameters()), 1, 5, verbose=False)
    assert set(dtypes) == {np.dtype(np.float32)}


def test_regression_records_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    w = tg.Tensor(np.zeros((3, 1), np.float32), requires_grad=True)

    history = fit(lambda x: x @ w, X, y, lambda out, t: ((out - t) ** 2).mean(), TinySGD([w], lr=0.1), 30, 5,
                  validation=(X, y), verbose=False)
    assert history.accuracy == [] and history.val_accuracy == [] and len(history.val_loss) == 30
    assert history.loss[-1] < 0.01 * history.loss[0]


def test_zero_epochs_trains_nothing():
    X, y = blobs(n_per_class=2)
    net = TinyNet()
    history = fit(net, X, y, cross_entropy, TinySGD(net.parameters()), 0, 4)
    assert history.epochs == 0 and net.calls == [] and repr(history) == "History(no epochs)"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"epochs": -1}, ValueError, "epochs must be an integer >= 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
    ({"epochs": 2.0}, ValueError, "epochs must be an integer"),
    ({"validation": (np.zeros((2, 2)),)}, ValueError, "validation must be a pair"),
    ({"loss_fn": lambda out, y: out.sum(axis=1)}, TypeError, r"loss_fn must return a scalar Tensor, got a Tensor of shape \(5,\)"),
    ({"loss_fn": lambda out, y: 1.0}, TypeError, "loss_fn must return a scalar Tensor, got float"),
])
def test_bad_arguments(kwargs, error, message):
    X, y = blobs(n_per_class=5)
    net = TinyNet()
    arguments = dict(model=net, X=X, y=y, loss_fn=cross_entropy, optimizer=TinySGD(net.parameters()), epochs=1,
                     batch_size=5, verbose=False)
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        fit(**arguments)


def test_mismatched_lengths():
    net = TinyNet()
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        fit(net, np.zeros((4, 2)), np.zeros(3, int), cross_entropy, TinySGD(net.parameters()), 1)


def test_accuracy_and_evaluate():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(scores, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(tg.Tensor(scores), one_hot(np.array([1, 0, 1]))) == 1.0
    assert accuracy(scores[:, :1], np.array([1, 0, 0])) is None  # one column: not classification
    net = TinyNet()
    X, y = blobs(n_per_class=3)
    result = evaluate(net, X, y, cross_entropy)
    assert result.loss == pytest.approx(cross_entropy(net(tg.Tensor(X)), y).item(), rel=1e-6)
    assert evaluate(net, X, y).loss is None
    assert net.training and net.calls[0][:2] == (False, False)


# ---------------------------------------------------------------------------- progress display


def test_tqdm_bar_advances_once_per_epoch(monkeypatch, capsys):
    events = []

    class FakeTqdm:
        def __init__(self, total, **kwargs):
            events.append(("total", total, kwargs.get("disable", "missing")))

        def set_postfix_str(self, text, refresh=True):
            pass

        def update(self, n):
            events.append(("update", n))

        def write(self, line):
            events.append(("write", line))

        def close(self):
            events.append(("close",))

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    X, y = blobs(n_per_class=3)
    net = TinyNet()
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=4, batch_size=3, log_every=2)
    assert events[0] == ("total", 4, None)  # disable=None: tqdm hides itself off a terminal
    assert [e for e in events if e[0] == "update"] == [("update", 1)] * 4
    assert [e[1].split(",")[0] for e in events if e[0] == "write"] == ["Epoch 2/4", "Epoch 4/4"]
    assert events[-1] == ("close",)
    assert capsys.readouterr().out == ""  # lines went through the bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_plain_progress_line_on_a_terminal(monkeypatch):
    _without_tqdm(monkeypatch)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    X, y = blobs(n_per_class=3)
    net = TinyNet()
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=3, batch_size=3, log_every=3)
    text = terminal.getvalue()
    assert "\r[" in text and "epoch 3/3" in text  # the final state is always drawn
    last = text.split("\n")[-2].split("\r")[-1]
    assert last.startswith("Epoch 3/3, Loss: ")  # the log line is printed on a cleared line


def test_no_progress_line_when_piped(monkeypatch, capsys):
    _without_tqdm(monkeypatch)
    X, y = blobs(n_per_class=3)
    net = TinyNet()
    fit(net, X, y, cross_entropy, TinySGD(net.parameters()), epochs=3, batch_size=3, log_every=3)
    out = capsys.readouterr().out
    assert "\r" not in out and out.startswith("Epoch 3/3, Loss: ")


def test_tg_train_is_reachable():
    assert tg.train.fit is fit and tg.data.one_hot is one_hot and callable(tg.datasets.load_iris)


def test_evaluate_checks_lengths():
    with pytest.raises(ValueError, match="evaluate: X has 3 samples but y has 2"):
        evaluate(TinyNet(), np.zeros((3, 2), np.float32), np.zeros(2, int))
