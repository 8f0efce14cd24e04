"""In-place protection: a value a graph saved for backward can never change behind its back.

Two guards, both watching the engine's events (``engine/events.py``):

* **read-only saved arrays** (``op_recorded``): the arrays a node saved that belong to
  a tensor or a constant operand are made read-only while a graph holds them, so
  ``y.data[:] = 0`` fails at once, naming nothing but NumPy's "read-only" (stronger than
  PyTorch, which finds out only at backward). The base of a view is held too: writing
  through it would change the view. ``Tensor``'s in-place methods (the optimizers')
  write into a fresh array instead. Several graphs may hold one array (a weight used by
  two losses), so each array counts its holders and becomes writeable again only when
  the last lets go: at ``node_released``, or when an unused graph is dropped.
* **version checks** (``sweep_started``): each saved tensor's version is noted when
  the op is recorded; every in-place method bumps it, and backward refuses a graph
  whose saved tensors changed, naming the op and the input. Under ``create_graph``
  the saved tensors themselves are used, so replacing one's ``.data`` is refused too.

An op that saves nothing (``Add``: dx = g) costs this guard nothing but one call.
"""
from __future__ import annotations

import threading

import numpy as np

from ..engine import events

_holders = {}  # id(array) -> number of graph nodes holding it (each node keeps its arrays alive)
_holders_lock = threading.RLock()  # reentrant: a dropped node may let go inside lock()


class _Held(list):
    """The arrays one node holds read-only; dropped unreleased (a graph that never ran backward),
    it lets go of them."""

    __slots__ = ()

    def __del__(self):
        if self:
            try:
                unlock(self)
            except Exception:  # interpreter shutdown: the module may already be torn down
                pass


def lock(arrays) -> _Held:
    """Make ``arrays`` (and the bases they are views of) read-only; returns what was taken, for ``unlock``."""
    held = _Held()
    with _holders_lock:
        for array in arrays:
            while type(array) is np.ndarray:  # the array, then the base it is a view of, if any
                key = id(array)
                if key in _holders:
                    _holders[key] += 1
                    held.append(array)
                elif array.flags.writeable:
                    array.setflags(False)  # positional: cheaper than flags.writeable = False
                    _holders[key] = 1
                    held.append(array)
                # else read-only by its owner (a broadcast view, a user's choice): never ours to unlock
                array = array.base
    return held


def unlock(held) -> None:
    """Let go of arrays ``lock`` took (and empty ``held``); each is writeable again when its last holder is gone."""
    with _holders_lock:
        # bases before views (NumPy makes a view writeable only if its base already is): lock put
        # each base after its view, so going backwards frees the base first
        for array in reversed(held):
            key = id(array)
            count = _holders[key]
            if count > 1:
                _holders[key] = count - 1
                continue
            del _holders[key]
            try:
                array.setflags(True)
            except ValueError:  # its base is still held by another graph (or read-only by its owner)
                pass
        held.clear()


class InplaceGuard(events.Observer):
    """Holds what each node saved read-only and checks versions before backward (see the module docstring)."""

    def op_recorded(self, node, out):
        """Lock the arrays ``node`` saved that belong to a tensor or constant; note the tensors' versions."""
        saved = node.saved
        if not saved:
            return
        arrays, checks, inputs, result = [], [], node.inputs, out._data
        for value in saved:
            if value is result:
                arrays.append(value)
                checks.append((-1, 0, value))
                continue
            for position, x in enumerate(inputs):
                if x is value:  # a constant operand (an ndarray)
                    arrays.append(value)
                    break
                if getattr(x, "_data", None) is value:  # a tensor: remember its version and array
                    arrays.append(value)
                    checks.append((position, x._version, value))
                    break
        node.held, node.checks = lock(arrays), checks

    def sweep_started(self, nodes, create_graph, roots, root_grads, accumulate):
        """Refuse the sweep if a saved tensor changed since its op was recorded."""
        for out in nodes:
            node = out._ctx
            for position, version, array in getattr(node, "checks", ()):
                tensor = out if position < 0 else node.inputs[position]
                if tensor._version != version or (create_graph or position < 0) and tensor._data is not array:
                    _refuse(node, position, tensor, version)

    def node_released(self, node):
        """Let go of what ``node`` held."""
        held = getattr(node, "held", None)
        if held:
            unlock(held)


def _refuse(node, position, tensor, version):
    label = f"'{tensor.name}'" if tensor.name else f"of shape {tensor.shape}"
    what = f"the output of {node.name}" if position < 0 else f"input {position} of {node.name}"
    change = ("changed" if position < 0 else "modified") + " in place" if tensor._version != version else "given new .data"
    raise RuntimeError(
        f"backward: {what} (a tensor {label}) was {change} after the op saved it for backward "
        f"(version {version} -> {tensor._version}); the gradient would be wrong. Run backward() before "
        "changing it (e.g. before optimizer.step()), or change a copy instead")


GUARD = events.attach(InplaceGuard())
"""The guard, attached when ``tinygrad_edu`` is imported; ``events.detach(GUARD)`` switches it off."""
