"""Datasets that need no download: iris and digits (shipped with the package), moons and spirals (generated).

Each loader returns ``(X, y)``: float features in the package's default dtype and
int64 class indices.
"""
from .digits import load_digits
from .iris import load_iris
from .synthetic import make_moons, make_spirals

__all__ = ["load_iris", "load_digits", "make_moons", "make_spirals"]
