"""PyTorch weight exchange: state dicts with PyTorch's names and layouts, both ways.

A model built from tinygrad_edu's layers has a PyTorch twin built from the same
``torch.nn`` layers in the same places: ``nn.Sequential(nn.Linear(4, 16), nn.ReLU(), ...)``
becomes ``torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), ...)``, and an
``MLP`` a module whose ``layers`` attribute is a ``torch.nn.ModuleList`` of
``torch.nn.Linear``. The names match already (``layers.0.weight``); what differs is the
layout of a few tensors and one of PyTorch's buffers, and that is what this module
translates (``LAYOUTS`` and ``TORCH_ONLY_BUFFERS``):

| layer       | tinygrad_edu                        | PyTorch                                  |
|-------------|-------------------------------------|------------------------------------------|
| Linear      | ``weight`` (in, out)                | ``weight`` (out, in): transposed         |
| Perceptron  | ``weight`` (in,), ``bias`` ()       | ``torch.nn.Linear(in, 1)``: (1, in), (1,) |
| BatchNorm1d | ``running_mean``, ``running_var``   | the same, and ``num_batches_tracked``    |
| the others  | Conv2d, LayerNorm, Embedding, ...   | the same names and layouts               |

tinygrad_edu's BatchNorm1d does not count batches, so ``torch_state_dict`` gives
``num_batches_tracked`` as 0: PyTorch reads the count only with ``momentum=None`` (a
cumulative average, which tinygrad_edu does not offer). Loading ignores it.

Neither function needs torch: ``torch_state_dict`` returns ndarrays (wrap each with
``torch.from_numpy``), and ``load_torch_state_dict`` takes torch tensors or ndarrays.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .engine.function import no_grad
from .engine.tensor import Tensor
from .nn.layers import BatchNorm1d, Linear, Perceptron
from .nn.module import Module, Parameter

__all__ = ["torch_state_dict", "load_torch_state_dict", "Layout", "LAYOUTS", "TORCH_ONLY_BUFFERS"]


@dataclass(frozen=True)
class Layout:
    """How PyTorch stores one of a layer's tensors: ``to_torch(array)`` and its inverse ``from_torch(array)``."""

    to_torch: Callable
    from_torch: Callable


TRANSPOSED = Layout(lambda a: np.ascontiguousarray(a.T), lambda a: np.ascontiguousarray(a.T))

LAYOUTS = {
    Linear: {"weight": TRANSPOSED},  # x @ W (in, out) here; x @ W.T with W (out, in) in PyTorch
    Perceptron: {  # torch.nn.Linear(in, 1) followed by a sigmoid and a squeeze
        "weight": Layout(lambda a: a.reshape(1, -1), lambda a: a.reshape(-1)),
        "bias": Layout(lambda a: a.reshape(1), lambda a: a.reshape(())),
    },
}
"""Layer class -> {tensor name: Layout} for the tensors PyTorch lays out differently."""

TORCH_ONLY_BUFFERS = {
    BatchNorm1d: {"num_batches_tracked": lambda module: np.zeros((), dtype=np.int64)},
}
"""Layer class -> {buffer name: ``make(module) -> ndarray``} for buffers only PyTorch's layer has."""


@dataclass
class _Entry:
    """One key of PyTorch's state dict: the tensor it is (None for a PyTorch-only buffer) and its layout."""

    key: str
    target: Tensor | None
    layout: Layout | None
    torch_value: np.ndarray  # the value in PyTorch's layout (what torch_state_dict gives)


def _table_for(table, module) -> dict:
    return next((table[cls] for cls in type(module).__mro__ if cls in table), {})


def _entries(module: Module, prefix: str = ""):
    """The keys of the PyTorch twin's state dict, in its order: a module's parameters, its buffers, then
    each child's keys (a module used in two places appears under both names, as in PyTorch)."""
    layouts = _table_for(LAYOUTS, module)
    for name, value in module._members():
        if isinstance(value, Parameter):
            layout = layouts.get(name)
            yield _Entry(prefix + name, value, layout, layout.to_torch(value.data) if layout else value.data.copy())
    for name, value in module._buffers.items():
        if value is not None:
            yield _Entry(prefix + name, value, None, value.data.copy())
    for name, make in _table_for(TORCH_ONLY_BUFFERS, module).items():
        yield _Entry(prefix + name, None, None, make(module))
    for name, child in module.named_children():
        yield from _entries(child, f"{prefix}{name}.")


def torch_state_dict(module: Module) -> "OrderedDict[str, np.ndarray]":
    """The state dict of ``module``'s PyTorch twin: PyTorch's names, layouts and buffers, as ndarray copies.

    ``torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)``
    loads it. See the module docstring for what is translated.

    Examples:
        >>> import tinygrad_edu as tg
        >>> from tinygrad_edu.interop import torch_state_dict
        >>> model = tg.nn.Sequential(tg.nn.Linear(4, 16), tg.nn.ReLU(), tg.nn.BatchNorm1d(16))
        >>> {k: v.shape for k, v in torch_state_dict(model).items()}  # doctest: +NORMALIZE_WHITESPACE
        {'0.weight': (16, 4), '0.bias': (16,), '2.weight': (16,), '2.bias': (16,), '2.running_mean': (16,),
         '2.running_var': (16,), '2.num_batches_tracked': ()}
    """
    if not isinstance(module, Module):
        raise TypeError(f"torch_state_dict: expected a tinygrad_edu Module, got {type(module).__name__}")
    return OrderedDict((entry.key, entry.torch_value) for entry in _entries(module))


def _as_array(value, key) -> np.ndarray:
    """An ndarray from a torch tensor (detached, on the CPU), a Tensor or an array-like."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        try:
            return value.detach().cpu().numpy()
        except TypeError as error:  # bfloat16 and other dtypes NumPy lacks
            raise TypeError(f"load_torch_state_dict: {key}: {error}; convert it first, e.g. .float()") from None
    return np.asarray(value)


def load_torch_state_dict(module: Module, state_dict, strict: bool = True) -> dict:
    """Copy a PyTorch state dict (torch tensors or ndarrays) into ``module``, translating the layouts back.

    With ``strict`` every key of the PyTorch twin must be there (``num_batches_tracked`` may be
    missing) and no other. Each value must have the shape and dtype PyTorch's layout of the
    model's tensor has; a mismatch raises ValueError naming every key at fault and both shapes.
    Nothing is changed unless everything fits. Returns ``{"missing_keys": [...],
    "unexpected_keys": [...]}``, as ``Module.load_state_dict`` does.
    """
    if not isinstance(module, Module):
        raise TypeError(f"load_torch_state_dict: expected a tinygrad_edu Module, got {type(module).__name__}")
    entries = {entry.key: entry for entry in _entries(module)}
    given = {key: _as_array(value, key) for key, value in state_dict.items()}
    missing = [key for key, entry in entries.items() if entry.target is not None and key not in given]
    unexpected = [key for key in given if key not in entries]
    problems = []
    if strict and missing:
        problems.append(f"missing keys {missing}")
    if strict and unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for key, entry in entries.items():
        if entry.target is None or key not in given:
            continue
        value, want = given[key], entry.torch_value
        if value.shape != want.shape:
            layout = f" (tinygrad_edu keeps it as {entry.target.shape})" if entry.layout else ""
            problems.append(f"{key}: shape {value.shape} in the state dict, this model needs {want.shape}{layout}")
        elif value.dtype != want.dtype:
            problems.append(f"{key}: dtype {value.dtype} in the state dict, {want.dtype} in this model; convert "
                            "one of them first")
    if problems:
        raise ValueError(f"load_torch_state_dict into {type(module).__name__}: " + "; ".join(problems))
    with no_grad():
        for key, entry in entries.items():
            if entry.target is not None and key in given:
                value = given[key]
                entry.target.copy_(entry.layout.from_torch(value) if entry.layout else value)
    return {"missing_keys": missing, "unexpected_keys": unexpected}
