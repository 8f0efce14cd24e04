"""Exercise 09: Dropout.

Formula:   inverted dropout, out = x * mask
Tutorial:  L2 regularisation and dropout > Dropout (docs/tutorial/regularisation.md)
Hint:      The mask was drawn in the forward pass and is a constant: 0 for a dropped unit, and for
           a kept one the factor that keeps the expected value unchanged. What the forward pass did
           to each unit, the backward pass does to that unit's gradient.
Check:     tinygrad-edu exercises check . dropout
"""
import numpy as np

from tinygrad_edu import Function


def dropout_mask(shape, p, rng):
    """The mask for dropping each unit with probability p: 0, or 1 / (1 - p) for a unit kept."""
    return rng.binomial(1, 1 - p, shape) / (1 - p)


class Dropout(Function):
    """out = x * mask"""

    def forward(self, x, mask):
        self.save(mask)
        return x * mask

    def backward(self, g, mask):
        # Return (dx, None): dx with x's shape; the mask takes no gradient.
        raise NotImplementedError("exercise 09: write Dropout.backward")
