"""Exercise 04: ReLU.

Formula:   the ReLU's derivative, relu'(z): 1 where z > 0, else 0
Tutorial:  Activations and their derivatives (docs/tutorial/activations.md)
Hint:      forward saved the output. Where was the input positive? There the gradient passes
           through unchanged; elsewhere nothing passes.
Check:     tinygrad-edu exercises check . relu
"""
import numpy as np

from tinygrad_edu import Function


class ReLU(Function):
    """out = max(x, 0)"""

    def forward(self, x):
        out = np.maximum(x, 0)
        self.save(out)
        return out

    def backward(self, g, out):
        # Return (dx,), dx with x's shape.
        raise NotImplementedError("exercise 04: write ReLU.backward")
