"""Exercise 03: MatMul.

Formula:   the matrix product's vector-Jacobian product, out = x @ y with x (n, k), y (k, m)
Tutorial:  Concepts > Vector-Jacobian products (docs/concepts/vjp.md); the dense layer's dW and
           dA_prev (docs/tutorial/dense-layer.md)
Hint:      Write out one element, out[i, j] = sum over k of x[i, k] * y[k, j], and ask which
           elements of out each x[i, k] reaches. Then let the shapes guide you: dx must be
           (n, k) and can only be built from g (n, m) and y (k, m) one way.
Check:     tinygrad-edu exercises check . matmul
"""
import numpy as np

from tinygrad_edu import Function


class MatMul(Function):
    """out = x @ y"""

    def forward(self, x, y):
        self.save(x, y)
        return x @ y

    def backward(self, g, x, y):
        # g is (n, m). Return (dx, dy): dx (n, k), dy (k, m).
        raise NotImplementedError("exercise 03: write MatMul.backward")
