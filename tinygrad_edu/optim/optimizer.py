"""The ``Optimizer`` base: parameter groups, per-parameter state, ``step``, ``zero_grad``, saving.

Why weights are updated here and not inside ``backward`` (the tutorial's
``Layer.backward(dA, learning_rate)`` updates its weights as the gradient passes):

* ``backward`` then only computes gradients, so they can be inspected (the gradient
  report), checked against finite differences, clipped, or accumulated over several
  batches before anything changes.
* A weight used twice (shared between layers) gets one update from its summed
  gradient, instead of one partial update per use in the middle of the sweep.
* The update rule is one object: swapping SGD for Adam changes one line, not every
  layer, and its state (momentum, moment estimates) lives in one place that
  ``state_dict`` can save and restore.

Subclasses define ``_update(param, grad, state, group)``: ``grad`` is the ndarray of
``param.grad``, ``state`` the parameter's own dict of buffers, ``group`` its
hyperparameters. Updates run under ``no_grad`` through the in-place Tensor methods
(``sub_``, ``mul_``), which bump the parameter's version: a graph recorded before the
step refuses a later backward instead of giving a silently wrong gradient.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine import events
from ..engine.function import enable_grad, no_grad
from ..engine.tensor import Tensor


def _non_negative(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value >= 0


def _betas(value) -> bool:
    try:
        return len(value) == 2 and all(_non_negative(b) and b < 1 for b in value)
    except TypeError:
        return False


# Hyperparameter -> (what it is called in an error, the test it must pass, what the test means).
_RULES = {
    "lr": ("learning rate", _non_negative, "it must be a finite number >= 0"),
    "momentum": ("momentum", _non_negative, "it must be a finite number >= 0"),
    "weight_decay": ("weight_decay", _non_negative, "it must be a finite number >= 0"),
    "eps": ("eps", _non_negative, "it must be a finite number >= 0"),
    "alpha": ("alpha", _non_negative, "it must be a finite number >= 0"),
    "betas": ("betas", _betas, "they must be two numbers in [0, 1)"),
}


class Optimizer:
    """Base class: holds ``param_groups`` (lists of parameters with their hyperparameters) and ``state``.

    params  an iterable of Tensors (e.g. ``model.parameters()``), or of dicts
            ``{"params": [...], "lr": ...}`` to give groups their own hyperparameters

    A subclass names the per-parameter state it keeps, so ``load_state_dict`` can refuse
    another optimizer's: ``state_arrays`` (buffers shaped like the parameter),
    ``state_counts`` (step counters) and ``state_required`` (present whenever any is).
    """

    state_arrays: tuple = ()
    state_counts: tuple = ()
    state_required: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state = {}  # parameter -> dict of its buffers (keyed by identity)
        self.param_groups = []
        groups = [params] if isinstance(params, Tensor) else list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list; pass e.g. model.parameters()")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add parameters with their own hyperparameters (missing ones come from the defaults)."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list; pass e.g. model.parameters()")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} (shape {p.shape}) must be a leaf tensor with requires_grad=True, "
                    "or it never gets a gradient to follow"
                )
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears more than once")
            seen.add(id(p))
        settings = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check(settings)
        settings["params"] = params
        self.param_groups.append(settings)

    def _check(self, settings: dict, where: str = "") -> None:
        for key, value in settings.items():
            if key in _RULES:
                label, valid, meaning = _RULES[key]
                if not valid(value):
                    raise ValueError(f"{type(self).__name__}{where}: invalid {label} {value!r}; {meaning}")

    # ------------------------------------------------------------------ updating

    @events.replayed
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._check_gradient_shapes()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        state = self.state.get(p)
                        if state is None:
                            state = self.state[p] = {}
                        self._update(p, p.grad.data, state, group)
        return loss

    def _check_gradient_shapes(self) -> None:
        """Refuse, before any parameter changes, a ``.grad`` whose shape is not its parameter's.

        Broadcasting it into the update would silently apply a wrong step (anti-pattern 6).
        """
        for i, p in enumerate(self._indexed_params()):
            if p.grad is not None and p.grad.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i} has shape {p.shape} but its .grad has shape "
                    f"{p.grad.shape}; a gradient must have its parameter's shape (was .grad set by hand?)"
                )

    def _update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    @events.replayed
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``) before the next backward."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @property
    def lr(self) -> float:
        """The learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        self._check({"lr": value})
        for group in self.param_groups:
            group["lr"] = value

    # ------------------------------------------------------------------ saving

    def _indexed_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """{"state": {index: {buffer: ndarray copy}}, "param_groups": [{hyperparameters, "params": [index]}]}.

        Parameters are named by their position across the groups, so the dict can be
        loaded into a fresh optimizer over a fresh copy of the model.
        """
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        groups = []
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in buffers.items()}
                 for p, buffers in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore buffers and hyperparameters saved by ``state_dict``.

        Everything is checked before anything changes: the layout (groups, parameters per
        group, buffer shapes), the hyperparameter names (another optimizer's state has
        other ones), the buffer names and kinds, and the hyperparameter values. A
        malformed state or another optimizer's raises ``ValueError`` and changes nothing.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups' (what state_dict() "
                             f"returns), got {keys}")
        groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not isinstance(saved_state, dict):
            raise ValueError(f"{name}: 'param_groups' must be a list and 'state' a dict, got "
                             f"{type(groups).__name__} and {type(saved_state).__name__}")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}: the saved state has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        new_settings = [self._checked_group(name, i, saved, own)
                        for i, (saved, own) in enumerate(zip(groups, self.param_groups))]
        params = self._indexed_params()
        new_state = {}
        for index, buffers in saved_state.items():
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(params):
                raise ValueError(f"{name}: state for parameter {index!r}, but the parameters are numbered "
                                 f"0 to {len(params) - 1}")
            p = params[int(index)]
            new_state[p] = self._checked_buffers(name, int(index), p, buffers)
        for settings, own in zip(new_settings, self.param_groups):
            own.update(settings)
        self.state = new_state

    def _checked_group(self, name, i, saved, own) -> dict:
        """The hyperparameters of saved group ``i``, once they fit this optimizer's group ``own``."""
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
            raise ValueError(f"{name}: parameter group {i} must be a dict with a 'params' list, got {saved!r:.80}")
        if len(saved["params"]) != len(own["params"]):
            raise ValueError(f"{name}: parameter group {i} has {len(own['params'])} "
                             f"parameters, the saved group has {len(saved['params'])}")
        settings = {k: v for k, v in saved.items() if k != "params"}
        expected = {k for k in own if k != "params"} - {"initial_lr"}  # a scheduler may have added it
        missing, unknown = expected - set(settings), set(settings) - expected - {"initial_lr"}
        if missing or unknown:
            raise ValueError(
                f"{name}: parameter group {i} has hyperparameters {sorted(settings)}, but "
                f"{type(self).__name__} has {sorted(expected)}: is this another optimizer's state?"
            )
        self._check(settings, where=f".load_state_dict: parameter group {i}")
        return settings

    def _checked_buffers(self, name, index, p, buffers) -> dict:
        """Copies of parameter ``index``'s saved buffers, once each is one this optimizer keeps, of its kind."""
        if not isinstance(buffers, dict):
            raise ValueError(f"{name}: the state of parameter {index} must be a dict, got {type(buffers).__name__}")
        kept = self.state_arrays + self.state_counts
        unknown = sorted(set(buffers) - set(kept), key=str)
        if unknown:
            keeps = ", ".join(kept) or "no state"
            raise ValueError(f"{name}: the state of parameter {index} has {unknown}, which {type(self).__name__} "
                             f"does not keep (it keeps {keeps}): is this another optimizer's state?")
        missing = [key for key in self.state_required if key not in buffers]
        if buffers and missing:
            raise ValueError(f"{name}: the state of parameter {index} lacks {missing}")
        copies = {}
        for key, value in buffers.items():
            if key in self.state_counts:
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                    raise ValueError(f"{name}: {key!r} of parameter {index} must be a whole number >= 0, "
                                     f"got {value!r}")
                copies[key] = int(value)
            elif not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
                got = f"an array of {value.dtype}" if isinstance(value, np.ndarray) else f"{value!r:.60}"
                raise ValueError(f"{name}: buffer {key!r} of parameter {index} must be an array of real "
                                 f"numbers, got {got}")
            elif value.shape != p.shape:
                raise ValueError(f"{name}: buffer {key!r} of parameter {index} has shape {value.shape}, "
                                 f"the parameter has shape {p.shape}")
            else:
                copies[key] = np.array(value, dtype=p.dtype)
        return copies

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"  group {i}: {len(group['params'])} parameters")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        lines.append(")")
        return "\n".join(lines)
