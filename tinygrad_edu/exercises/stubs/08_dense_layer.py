"""Exercise 08: The dense layer's four backward lines.

Formula:   the chain rule through a = tanh(z), z = X @ W + b, in the tutorial's convention
Tutorial:  The dense layer, forward and backward (docs/tutorial/dense-layer.md)
Hint:      dA holds one row per sample: the gradient of that sample's loss at a. Go back one
           step at a time: first through the activation (dZ), then to W, b and the layer's input.
           dW and db are the gradients of the *mean* over the batch; dA_prev, the gradient sent
           down to the layer below, stays one row per sample. Shapes: X (m, n_in),
           W (n_in, n_out), b (n_out,).
Check:     tinygrad-edu exercises check . dense_layer
"""
import numpy as np


def tanh_derivative(z):
    """f'(z) for f = tanh."""
    return 1 - np.tanh(z) ** 2


def dense_forward(X, W, b):
    """(a, z): the layer's output a = tanh(z) and its pre-activation z = X @ W + b."""
    z = X @ W + b
    return np.tanh(z), z


def dense_backward(dA, X, z, W):
    """(dW, db, dA_prev) for dA, the gradient arriving at a (m, n_out)."""
    raise NotImplementedError("exercise 08: write dense_backward, four lines")
