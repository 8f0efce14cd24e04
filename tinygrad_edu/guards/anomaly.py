"""Anomaly detection: find the first op whose result turns NaN or infinite, and the line that made it.

    with tg.detect_anomaly():
        loss = model(x)          # each op remembers the user's line that created it
        loss.backward()          # the first NaN/Inf, forward or backward, raises AnomalyError

Inside ``detect_anomaly`` every recorded op notes where it was created (the first
frame outside this package: file, line, code) and checks its result; the backward
sweep checks every gradient an op's backward passes to its inputs. The first
non-finite value raises ``AnomalyError`` naming the op, its input shapes and the
user's line. A forward result is blamed only for a kind of value (nan, +inf, -inf)
none of the op's inputs held: ``log_softmax`` of logits masked with ``-inf`` passes
the ``-inf`` on, and is not at fault.

An observer of the engine's events (``op_recorded``, ``node_starting``,
``node_swept``), attached only while some thread is inside ``detect_anomaly``:
off, it costs the engine nothing.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
import threading

import numpy as np

from ..engine import events
from ..engine.function import raw

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class AnomalyError(RuntimeError):
    """A forward result or a gradient became NaN or infinite inside ``tg.detect_anomaly()``."""


class _ThreadState(threading.local):
    enabled = False
    backward_of = None  # the node whose backward is running (its create_graph ops are blamed on it)


_state = _ThreadState()
_active = [0]  # how many detect_anomaly blocks are switched on, in all threads
_active_lock = threading.Lock()


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on for the current thread.

    ``detect_anomaly(False)`` turns it off inside an enclosing block. The previous
    setting comes back on exit, so blocks nest.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self._previous = []  # a stack, so one instance can be entered again while active

    def __enter__(self):
        self._previous.append(_state.enabled)
        _state.enabled = self.enabled
        _count(+1 if self.enabled else 0)
        return self

    def __exit__(self, *exc):
        _state.enabled = self._previous.pop()
        _count(-1 if self.enabled else 0)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    """True inside ``tg.detect_anomaly()`` (per thread)."""
    return _state.enabled


def _count(step):
    """Attach the observer while any block is on, detach it when the last one ends."""
    with _active_lock:
        _active[0] += step
        (events.attach if _active[0] else events.detach)(OBSERVER)


class AnomalyObserver(events.Observer):
    """Checks results and gradients for NaN and Inf in the threads where detection is on."""

    def op_recorded(self, node, out):
        """Note where ``node`` was created; raise if its result is not finite."""
        if not _state.enabled:
            return
        blamed = _state.backward_of  # set while a create_graph backward records its ops
        node.creation = _user_frame() if blamed is None else getattr(blamed, "creation", None)
        made = _nonfinite_counts(out.data)
        # An op only passing on a kind of value its input already held (log_softmax keeping a
        # -inf mask) made nothing new: the blame belongs to whatever made that input, if anything.
        if not made or made.keys() <= {kind for x in node.inputs for kind in _nonfinite_counts(raw(x))}:
            return
        bad = _describe_nonfinite(out.data)
        node.release()  # the node dies with the error: let go of what it holds now, not with the traceback
        if blamed is None:
            raise AnomalyError(
                f"detect_anomaly: the forward result of {node.name} has {bad} (output shape {out.shape}); "
                f"{_describe_inputs(node.inputs)}; created at {_where(node)}")
        raise AnomalyError(
            f"detect_anomaly: the backward of {blamed.name} produced {bad} in its {node.name} step "
            f"(output shape {out.shape}); {_describe_inputs(node.inputs)}; {blamed.name} was created at {_where(blamed)}")

    def node_starting(self, node):
        """Blame the ops a create_graph backward records now on ``node``."""
        _state.backward_of = node if _state.enabled else None

    def node_swept(self, node, out, g, grads):
        """Raise if a gradient ``node`` passed back is not finite."""
        _state.backward_of = None
        if not _state.enabled:
            return
        for i, grad in enumerate(grads):
            bad = "" if grad is None else _describe_nonfinite(raw(grad))
            if bad:
                raise AnomalyError(
                    f"detect_anomaly: the backward of {node.name} returned a gradient with {bad} for its "
                    f"input {i} (gradient shape {np.shape(raw(grad))}, output shape {out.shape}); "
                    f"{_describe_inputs(node.inputs)}; {node.name} was created at {_where(node)}")


OBSERVER = AnomalyObserver()


# ---------------------------------------------------------------------------- messages


def _user_frame():
    """(filename, line, code) of the innermost frame outside this package, or None."""
    frame = sys._getframe(1)
    while frame is not None and _in_package(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    return filename, line, linecache.getline(filename, line).strip()


@functools.lru_cache(maxsize=None)
def _in_package(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def _where(ctx) -> str:
    if getattr(ctx, "creation", None) is None:
        return "an unknown line (the op ran outside detect_anomaly, so no location was recorded)"
    filename, line, code = ctx.creation
    return f"{filename}:{line}: {code}" if code else f"{filename}:{line}"


def _nonfinite_counts(array) -> dict:
    """{'nan': 2, '+inf': 1} for the non-finite entries of a floating array, {} when all are finite."""
    array = np.asarray(array)
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return {}
    counts = {"nan": np.isnan(array).sum(), "+inf": np.isposinf(array).sum(), "-inf": np.isneginf(array).sum()}
    return {kind: int(n) for kind, n in counts.items() if n}


def _describe_nonfinite(array) -> str:
    """'2 nan, 1 +inf' for the non-finite entries of a floating array, '' when all are finite."""
    return ", ".join(f"{n} {kind}" for kind, n in _nonfinite_counts(array).items())


def _describe_inputs(inputs) -> str:
    parts = []
    for x in inputs:
        data = raw(x)
        bad = _describe_nonfinite(data)
        parts.append(f"{np.shape(data)}" + (f" (already {bad})" if bad else ""))
    return "input shapes " + ", ".join(parts)
