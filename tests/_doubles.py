"""Test doubles shared by several test files."""
import numpy as np

from tinygrad_edu.engine.function import Function


class WrongExp(Function):
    """out = exp(x);  dx = 2 * g * out (deliberately wrong: the gradient is twice the true one)"""

    def forward(self, x):
        out = np.exp(x)
        self.save(out)
        return out

    def backward(self, g, out):
        return (2 * g * out,)
