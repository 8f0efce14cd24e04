"""Datasets that need no download: iris (shipped with the package), moons and spirals (generated).

Each loader returns ``(X, y)``: float features in the package's default dtype and
int64 class indices.
"""
from .iris import load_iris
from .synthetic import make_moons, make_spirals

__all__ = ["load_iris", "make_moons", "make_spirals"]
