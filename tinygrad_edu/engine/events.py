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
``sweep_started``  ``(nodes, create_graph)``: before a backward computes anything
``node_starting``  ``(node)``: a node's backward is about to run
``node_swept``     ``(node, out, g, grads)``: it ran; ``grads`` are summed to
                   each input's shape and dtype (None where none flows)
``node_released``  ``(node)``: backward freed the node's saved values
=================  ===========================================================

The arrays an event hands over are the engine's own: an observer that keeps one
copies it, since the sweep may still add into it.
"""
from __future__ import annotations

EVENTS = ("op_recorded", "sweep_started", "node_starting", "node_swept", "node_released")

_observers = []
op_recorded = sweep_started = node_starting = node_swept = node_released = ()


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
