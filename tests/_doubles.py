"""Test doubles shared by several test files."""
import numpy as np

from tinygrad_edu.engine.function import Function


class WrongExp(Function):
    """out = exp(x);  dx = 2 * g * out (deliberately wrong: the gradient is twice the true one)"""

    saves_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (2 * g * out,)
