"""Containers: ``ModuleList`` (an indexable list of modules) and ``Sequential`` (a pipeline).

Both keep their modules as attributes named "0", "1", ..., so parameter names
read ``0.weight`` inside a bare ``Sequential`` and ``layers.0.weight`` when the
container is an attribute called ``layers``.
"""
from __future__ import annotations

import functools

import numpy as np

from .module import Module


@functools.lru_cache(maxsize=None)
def _index_names(length: int) -> tuple:
    """("0", "1", ..., str(length - 1)): a container's attribute names, made once per length."""
    return tuple(map(str, range(length)))


class ModuleList(Module):
    """A list of modules whose parameters the parent module finds: ``layers[i]``, ``len``, iteration."""

    def __init__(self, modules=()):
        super().__init__()
        self._length = 0  # an int, so the attribute walk never mistakes it for a member
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end (named by its index); returns the list."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: expected a Module, got {type(module).__name__}")
        setattr(self, str(self._length), module)
        self._length += 1
        return self

    def __len__(self):
        return self._length

    def __iter__(self):
        # direct lookups, not an attribute walk: models iterate their layers on every forward
        items = self.__dict__
        return iter([items[name] for name in _index_names(self._length)])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self)[index])
        if not isinstance(index, (int, np.integer)) or not -self._length <= index < self._length:
            raise IndexError(f"{type(self).__name__}: index {index!r} out of range for {self._length} modules")
        return self.__dict__[str(int(index) % self._length)]

    def forward(self, *args, **kwargs):
        """Not defined: a ModuleList only holds modules (``Sequential`` chains them)."""
        raise NotImplementedError("ModuleList holds modules but has no forward(); call its items, or use Sequential")


class Sequential(ModuleList):
    """Modules applied one after another: ``Sequential(Linear(4, 16), ReLU(), Linear(16, 3))(x)``."""

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        super().__init__(modules)

    def forward(self, x):
        """Each module applied to the previous one's output, in order."""
        for module in self:
            x = module(x)
        return x
