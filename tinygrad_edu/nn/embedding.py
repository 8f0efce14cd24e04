"""Embedding: a learned lookup table from integer ids to vectors.

``embedding(ids, weight)`` is ``weight[ids]``: row ``i`` of the table for every
id ``i``. Its gradient adds each upstream row back into the row it came from, so
an id that appears twice collects both contributions (the Index op's backward).
"""
from __future__ import annotations

import numpy as np

from ..engine import random as _random
from ..engine.tensor import Tensor, get_default_dtype
from .module import Module, Parameter

__all__ = ["embedding", "Embedding"]


def embedding(ids, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``ids`` of any shape -> ids.shape + (dim,)."""
    return _lookup(ids, weight, "embedding")


def _lookup(ids, weight, where):
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{where}: ids must be integers, got dtype {ids.dtype}")
    count = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= count):
        bad = ids[(ids < 0) | (ids >= count)].ravel()[0]
        raise IndexError(f"{where}: id {int(bad)} is out of range; ids must lie in [0, {count})")
    return weight[ids]


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``, initialised N(0, 1).

    ids (any shape, integers in [0, num_embeddings)) -> ids.shape + (embedding_dim,)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {value!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        self.weight = Parameter(_random.draw("standard_normal", shape, dtype=get_default_dtype()))

    def forward(self, ids):
        return _lookup(ids, self.weight, repr(self))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
