"""Exercise 01: Mul with broadcasting.

Formula:   the product rule, out = x * y
Tutorial:  Concepts > Broadcasting and why gradients are reduced (docs/concepts/broadcasting.md)
Hint:      x and y may have different shapes that broadcast: (4, 3) * (3,), or (2, 1) * (1, 5).
           Each gradient must come back in its own input's shape. Where an input was broadcast
           (an axis it did not have, or a size-1 axis that grew), the one value was used many
           times, so its gradient adds up every use.
Check:     tinygrad-edu exercises check . mul
"""
import numpy as np

from tinygrad_edu import Function


class Mul(Function):
    """out = x * y"""

    def forward(self, x, y):
        self.save(x, y)
        return x * y

    def backward(self, g, x, y):
        # g has out's (broadcast) shape. Return (dx, dy): dx in x's shape, dy in y's shape.
        # (The engine would sum a broadcast gradient for you; here, that sum is the exercise.)
        raise NotImplementedError("exercise 01: write Mul.backward")
