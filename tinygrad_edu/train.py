"""The training loop: the tutorial's ``train`` method, for any model, loss and optimizer.

Each epoch shuffles the training data, walks it in mini-batches (forward, loss,
``backward()``, optimizer step), and records the mean batch loss, as the
tutorial does. ``fit`` relies only on this protocol, as PyTorch code does:

    model(x) -> output           a Module, any callable, or a bound method such as ``net.logits``
    model.train() / model.eval() used when present (on a bound method: on its owner)
    loss_fn(output, y) -> scalar Tensor
    optimizer.zero_grad(), optimizer.step()
    scheduler.step()             once per epoch, when a scheduler is given

``x`` is a Tensor holding a batch of rows of ``X``; ``y`` is the matching rows of
``y``, a Tensor if ``y`` was one, else an ndarray.

Accuracy is recorded for classification: an output of shape (n, classes) with
targets that are class indices (n,) or one-hot rows (n, classes); the predicted
class is the output's argmax. For other outputs only the loss is recorded.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import data as _data
from .compile import compile as compile_step
from .engine import events
from .engine import random as _random
from .engine.function import no_grad
from .engine.tensor import Tensor

__all__ = ["fit", "evaluate", "accuracy", "History", "Evaluation"]


@dataclass
class History:
    """What ``fit`` recorded, one entry per completed epoch.

    loss          mean of the epoch's batch losses (the tutorial's ``loss_history``)
    accuracy      fraction of training samples classified correctly during the epoch
                  (as the batches went by); empty when the task is not classification
    val_loss      loss on the validation data after each epoch (empty without validation)
    val_accuracy  accuracy on the validation data after each epoch
    interrupted   True when Ctrl-C stopped training early
    """

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.loss)

    def to_dict(self) -> dict:
        """Plain lists and numbers (JSON-ready)."""
        return {"epochs": self.epochs, "loss": list(self.loss), "accuracy": list(self.accuracy),
                "val_loss": list(self.val_loss), "val_accuracy": list(self.val_accuracy),
                "interrupted": self.interrupted}

    def __repr__(self):
        if not self.loss:
            return "History(no epochs)"
        parts = [f"{self.epochs} epochs", f"loss {self.loss[-1]:.4f}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[-1]:.2%}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4f}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.2%}")
        if self.interrupted:
            parts.append("interrupted")
        return f"History({', '.join(parts)})"


class Evaluation(NamedTuple):
    """``evaluate``'s result: the loss (None without a loss_fn) and the accuracy (None if not classification)."""

    loss: float | None
    accuracy: float | None


# ---------------------------------------------------------------------------- accuracy


def _correct_count(output: np.ndarray, y: np.ndarray):
    """How many rows of ``output`` pick the right class, or None when this is not classification."""
    if output.ndim != 2 or output.shape[1] < 2 or len(y) != len(output):
        return None
    if y.ndim == 1 and (y.dtype.kind in "iu"):
        return int(np.count_nonzero(output.argmax(axis=1) == y))
    if y.shape == output.shape:
        return int(np.count_nonzero(output.argmax(axis=1) == y.argmax(axis=1)))
    return None


def accuracy(output, y) -> float | None:
    """Fraction of rows whose argmax matches the target class, or None if not classification.

    output  (n, classes) scores, logits or probabilities
    y       (n,) integer class indices, or (n, classes) one-hot rows
    """
    output = np.asarray(output.data if isinstance(output, Tensor) else output)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    correct = _correct_count(output, y)
    return None if correct is None or len(y) == 0 else correct / len(y)


# ---------------------------------------------------------------------------- modes


def _mode_owner(model):
    """The object whose train()/eval() to switch: the model, or a bound method's owner, or None."""
    for candidate in (model, getattr(model, "__self__", None)):
        if callable(getattr(candidate, "train", None)) and callable(getattr(candidate, "eval", None)):
            return candidate
    return None


class _Mode:
    """Switch ``owner`` into training or evaluation mode; ``restore`` puts back what it was."""

    def __init__(self, owner):
        self.owner = owner
        self.was_training = bool(getattr(owner, "training", True)) if owner is not None else True

    def set(self, training: bool):
        if self.owner is None:
            return
        if training:
            self.owner.train()
        else:
            self.owner.eval()

    def restore(self):
        self.set(self.was_training)


def evaluate(model, X, y, loss_fn=None) -> Evaluation:
    """Loss and accuracy of ``model`` on ``(X, y)``, in evaluation mode and without recording a graph.

    The model's mode (train or eval) is restored afterwards.
    """
    X_array = _as_array(X, "X", "evaluate")
    if len(X_array) != len(y):
        raise ValueError(f"evaluate: X has {len(X_array)} samples but y has {len(y)}")
    mode = _Mode(_mode_owner(model))
    mode.set(False)
    try:
        with no_grad():
            output = model(Tensor._make(X_array))
            loss = float(loss_fn(output, y).data) if loss_fn is not None else None
    finally:
        mode.restore()
    return Evaluation(loss, accuracy(output, y))


def _as_array(values, name, fn):
    array = np.asarray(values.data if isinstance(values, Tensor) else values)
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"{fn}: {name} must hold at least one sample (one row each), got shape {array.shape}")
    return array


# ---------------------------------------------------------------------------- progress display


class _NoProgress:
    def update(self, epoch, loss):
        pass

    def write(self, line):
        print(line, flush=True)

    def close(self):
        pass


class _TqdmProgress(_NoProgress):
    """A tqdm bar advanced once per epoch (per-batch updates would cost more than a small model's step)."""

    def __init__(self, tqdm, epochs):
        # disable=None: tqdm hides itself when its stream is not a terminal
        self.bar = tqdm(total=epochs, unit="epoch", leave=False, disable=None, dynamic_ncols=True)

    def update(self, epoch, loss):
        self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)
        self.bar.update(1)

    def write(self, line):
        self.bar.write(line)

    def close(self):
        self.bar.close()


class _LineProgress(_NoProgress):
    """A single self-overwriting line on a terminal, redrawn at most ~10 times a second."""

    WIDTH = 30

    def __init__(self, epochs, stream):
        self.epochs, self.stream = epochs, stream
        self.last_draw = -1.0
        self.shown = False

    def update(self, epoch, loss):
        now = time.monotonic()
        if now - self.last_draw < 0.1 and epoch < self.epochs:
            return
        self.last_draw = now
        done = int(self.WIDTH * epoch / max(self.epochs, 1))
        bar = "#" * done + "." * (self.WIDTH - done)
        self.stream.write(f"\r[{bar}] epoch {epoch}/{self.epochs}  loss {loss:.4f}")
        self.stream.flush()
        self.shown = True

    def _clear(self):
        if self.shown:
            self.stream.write("\r" + " " * (self.WIDTH + 50) + "\r")
            self.stream.flush()
            self.shown = False

    def write(self, line):
        self._clear()
        print(line, flush=True)

    def close(self):
        self._clear()


def _make_progress(epochs, enabled):
    """tqdm when installed; otherwise a plain line, only on a terminal (piped output stays clean)."""
    if not enabled:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        return _TqdmProgress(tqdm, epochs)
    if sys.stdout.isatty():
        return _LineProgress(epochs, sys.stdout)
    return _NoProgress()


# ---------------------------------------------------------------------------- Ctrl-C between steps


class _WholeSteps:
    """Ctrl-C that arrives inside ``optimizer.step()`` waits until the step is done.

    Otherwise some parameters (and their momentum or moment buffers) would hold the
    new step and others the old one. Outside a step Ctrl-C acts at once, as usual.
    Signals reach only the main thread, so elsewhere this changes nothing.
    """

    def __init__(self):
        self.in_step = False
        self.pending = None  # (signum, frame) of a Ctrl-C held back until the step ends
        self.previous = None

    def __enter__(self):
        # None: a handler installed outside Python, which could not be put back
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not None:
            self.previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False

    def _on_interrupt(self, signum, frame):
        if self.in_step:
            self.pending = (signum, frame)
        else:
            self._pass_on(signum, frame)

    def _pass_on(self, signum, frame):
        """What the handler we replaced would have done (normally: raise KeyboardInterrupt)."""
        if callable(self.previous):
            self.previous(signum, frame)
        elif self.previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    @events.replayed  # a compiled training step repeats it whole, Ctrl-C guard included
    def step(self, optimizer):
        self.in_step = True
        try:
            optimizer.step()
        finally:
            self.in_step = False
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._pass_on(*pending)


# ---------------------------------------------------------------------------- fit


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"fit: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def fit(model, X, y, loss_fn, optimizer, epochs, batch_size=32, validation=None, scheduler=None,
        verbose=True, *, seed=None, log_every=100, progress=True, on_epoch_end=None, compile=False) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batch gradient descent; return the ``History``.

    model         callable on a Tensor batch (see the module docstring for the protocol)
    X, y          (n, ...) inputs and (n,) or (n, k) targets: arrays or Tensors
    loss_fn       ``loss_fn(output, y_batch) -> scalar Tensor``
    optimizer     has ``zero_grad()`` and ``step()``
    epochs        passes over the data (0 trains nothing)
    batch_size    rows per step; the last batch of an epoch may be smaller
    validation    optional ``(X_val, y_val)``, evaluated after every epoch in eval mode, without a graph
    scheduler     optional; ``scheduler.step()`` runs after every epoch
    verbose       print ``Epoch 100/1000, Loss: 0.5234`` every ``log_every`` epochs (the
                  tutorial's line; with validation, the validation loss and accuracy follow)
    seed          shuffling seed (int or Generator); None draws from the package generator
    progress      show a progress bar (tqdm if installed, else one line when stdout is a terminal)
    on_epoch_end  optional ``callback(epoch, history)`` after each epoch (epoch counts from 1)
    compile       True: run each batch's step (forward, loss, backward, update) through
                  ``tg.compile``: captured once per batch shape, then replayed, with the same
                  results as eager training ("How a JIT works" in the docs)

    The model is put in training mode for the batches and in eval mode for validation;
    afterwards it is back in the mode it had before. Ctrl-C stops training between two
    optimizer steps, never inside one (every parameter and the optimizer's state hold
    the same number of steps): the unfinished epoch is dropped, one line says so, and
    the history so far is returned (``history.interrupted`` is True).
    """
    epochs = _check_count(epochs, "epochs", 0)
    batch_size = _check_count(batch_size, "batch_size", 1)
    log_every = _check_count(log_every, "log_every", 1)
    X_array, y_array = _as_array(X, "X", "fit"), _as_array(y, "y", "fit")
    if len(X_array) != len(y_array):
        raise ValueError(f"fit: X has {len(X_array)} samples but y has {len(y_array)}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError("fit: validation must be a pair (X_val, y_val)")
        _as_array(validation[0], "validation X", "fit")
    # Batches of y keep the kind the caller gave (Tensor or array), as loss functions may care.
    y_source = Tensor._make(y_array) if isinstance(y, Tensor) else y_array
    rng = _random.generator(seed)
    history = History()
    mode = _Mode(_mode_owner(model))
    display = _make_progress(epochs, progress)
    epoch = 0
    steps = _WholeSteps()
    step = _training_step(model, loss_fn, optimizer, steps)
    if compile:
        step = compile_step(step)
    try:
        with steps:
            for epoch in range(1, epochs + 1):
                mode.set(True)
                loss, correct = _train_one_epoch(step, X_array, y_source, batch_size, rng)
                history.loss.append(loss)
                if correct is not None:
                    history.accuracy.append(correct / len(X_array))
                if validation is not None:
                    result = evaluate(model, validation[0], validation[1], loss_fn)
                    history.val_loss.append(result.loss)
                    if result.accuracy is not None:
                        history.val_accuracy.append(result.accuracy)
                if scheduler is not None:
                    scheduler.step()
                display.update(epoch, loss)
                if verbose and epoch % log_every == 0:
                    display.write(_epoch_line(epoch, epochs, history))
                if on_epoch_end is not None:
                    on_epoch_end(epoch, history)
    except KeyboardInterrupt:
        history.interrupted = True
        display.close()  # clear the progress line before saying why training stopped
        print(f"Training interrupted during epoch {epoch}/{epochs}; "
              f"returning the history of {history.epochs} completed epoch(s).", flush=True)
    finally:
        display.close()
        mode.restore()
    return history


def _training_step(model, loss_fn, optimizer, steps):
    """The step of one batch: forward, loss, backward, update (never cut short by Ctrl-C); returns (loss, output)."""

    def step(X_batch, y_batch):
        output = model(X_batch)
        loss = loss_fn(output, y_batch)
        if not isinstance(loss, Tensor) or loss.data.size != 1:
            raise TypeError(f"fit: loss_fn must return a scalar Tensor, got {_describe(loss)}")
        optimizer.zero_grad()
        loss.backward()
        steps.step(optimizer)
        return loss, output

    return step


def _train_one_epoch(step, X, y, batch_size, rng):
    """One shuffled pass: returns (mean batch loss, number classified correctly or None)."""
    total_loss = 0.0
    n_batches = 0
    correct = 0
    for X_batch, y_batch in _data.batches(X, y, batch_size, shuffle=True, seed=rng):
        loss, output = step(Tensor._make(X_batch), y_batch)
        total_loss += float(loss.data)
        n_batches += 1
        if correct is not None:
            batch_correct = _correct_count(output.data, y_batch.data if isinstance(y_batch, Tensor) else y_batch)
            correct = None if batch_correct is None else correct + batch_correct
    return total_loss / n_batches, correct


def _describe(value):
    if isinstance(value, Tensor):
        return f"a Tensor of shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:80]


def _epoch_line(epoch, epochs, history):
    line = f"Epoch {epoch}/{epochs}, Loss: {history.loss[-1]:.4f}"
    if history.val_loss:
        line += f", Val Loss: {history.val_loss[-1]:.4f}"
    if history.val_accuracy:
        line += f", Val Accuracy: {history.val_accuracy[-1]:.2%}"
    return line
