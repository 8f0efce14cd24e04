"""The engine's events: the few points where code outside the engine may watch it.

The engine itself only records ops and sweeps backward. Everything that *watches*
that work (in-place protection, anomaly detection, the backward tracer) is an
``Observer`` that lives outside ``engine/`` and is attached here. Each event is a
tuple of bound methods, rebuilt on attach and detach, so an event nobody watches
costs the engine one empty loop.

=================  ===========================================================
event              when the engine fires it
=================  ===========================================================
``op_recorded``    ``(node, out)``: an op was recorded; ``out`` is its result
``sweep_started``  ``(nodes, create_graph, roots, root_grads, accumulate)``: before
                   a backward computes anything (``accumulate``: into ``.grad``)
``node_starting``  ``(node)``: a node's backward is about to run
``node_swept``     ``(node, out, g, grads)``: it ran; ``grads`` are summed to
                   each input's shape and dtype (None where none flows)
``node_released``  ``(node)``: backward freed the node's saved values
``op_applied``     ``(node, inputs, attrs, out)``: an op ran, recorded or not
``host_call``      ``(fn, args, kwargs)``: a ``replayed`` function is called; the
                   observer makes the call itself and returns its result
=================  ===========================================================

The arrays an event hands over are the engine's own: an observer that keeps one
copies it, since the sweep may still add into it.

The last two, with ``sweep_started``'s roots, are what a tracing observer
(``tg.compile``) needs to capture a whole step: every op, every backward sweep,
and the calls it must repeat as they are (``replayed``) instead of looking inside.
"""
from __future__ import annotations

import functools

EVENTS = ("op_recorded", "sweep_started", "node_starting", "node_swept", "node_released", "op_applied", "host_call")

_observers = []
op_recorded = sweep_started = node_starting = node_swept = node_released = ()
op_applied = host_call = ()


class Observer:
    """Subclass it and define the events you watch (any of ``EVENTS``); then ``attach`` it."""


def attach(observer: Observer) -> Observer:
    """Start calling ``observer``'s event methods; returns it (attaching twice is a no-op)."""
    if observer not in _observers:
        _observers.append(observer)
        _rebuild()
    return observer


def detach(observer: Observer) -> None:
    """Stop calling ``observer`` (detaching one that is not attached is a no-op)."""
    if observer in _observers:
        _observers.remove(observer)
        _rebuild()


def _rebuild():
    for event in EVENTS:
        globals()[event] = tuple(getattr(o, event) for o in _observers if hasattr(o, event))


def replayed(fn):
    """Mark ``fn`` as a call a capture repeats whole, instead of the ops and array work inside it.

    An optimizer's ``step``, a dropout mask's draw, a batch-norm running-statistics
    update: work with effects or inputs beyond its array arguments, which a compiled
    step must redo at every replay, exactly as eager code does. Without an observer
    the decorated function is called straight through; with one, the latest observer
    of ``host_call`` makes the call, so it can watch it whole.
    """

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if host_call:  # the latest observer (the innermost capture) makes the call
            return host_call[-1](fn, args, kwargs)
        return fn(*args, **kwargs)

    return call
