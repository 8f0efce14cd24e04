"""Exercise 02: Sum over an axis.

Formula:   the gradient of a sum: each summed element counts once
Tutorial:  Concepts > Vector-Jacobian products (docs/concepts/vjp.md)
Hint:      g has out's shape: x's shape without the summed axis. Every element along that axis
           received the same g. Put the lost axis back where it was, then spread g along it
           to x's shape. axis may be negative.
Check:     tinygrad-edu exercises check . sum
"""
import numpy as np

from tinygrad_edu import Function


class Sum(Function):
    """out = x.sum(axis)"""

    def forward(self, x, axis):
        self.save(x.shape, axis)
        return x.sum(axis=axis)

    def backward(self, g, shape, axis):
        # Return (dx,), dx with x's shape (shape).
        raise NotImplementedError("exercise 02: write Sum.backward")
