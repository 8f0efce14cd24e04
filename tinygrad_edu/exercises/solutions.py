"""The answers: each exercise's file with its backward written.

Only the project's tests and the checker use these (the checker compares a student's
gradients with them where ``tinygrad_edu.reference`` has no hand-written formula);
``exercises init`` never copies this file. Each Function answer subclasses the
exercise's own class, so its forward is the very one the student was given.
"""
from __future__ import annotations

import numpy as np

from .. import reference as ref
from ..engine.autograd import sum_to_shape
from . import STUBS, load


def _stub(file):
    return load(STUBS / file, name=f"tinygrad_edu.exercises.stubs.{file[:-3]}")


_mul, _sum, _matmul = _stub("01_mul.py"), _stub("02_sum.py"), _stub("03_matmul.py")
_relu, _sigmoid, _tanh = _stub("04_relu.py"), _stub("05_sigmoid.py"), _stub("06_tanh.py")
_cross_entropy, _dropout = _stub("07_softmax_cross_entropy.py"), _stub("09_dropout.py")


class Mul(_mul.Mul):
    """out = x * y;  dx = g * y,  dy = g * x, each summed back to its input's shape"""

    def backward(self, g, x, y):
        return sum_to_shape(g * y, np.shape(x)), sum_to_shape(g * x, np.shape(y))


class Sum(_sum.Sum):
    """out = x.sum(axis);  dx = g, put back along the summed axis and broadcast to x's shape"""

    def backward(self, g, shape, axis):
        return (np.broadcast_to(np.expand_dims(g, axis), shape),)


class MatMul(_matmul.MatMul):
    """out = x @ y;  dx = g @ y.T,  dy = x.T @ g"""

    def backward(self, g, x, y):
        return g @ y.T, x.T @ g


class ReLU(_relu.ReLU):
    """out = max(x, 0);  dx = g * (out > 0)"""

    def backward(self, g, out):
        return (g * (out > 0),)


class Sigmoid(_sigmoid.Sigmoid):
    """out = sigmoid(x);  dx = g * out * (1 - out)"""

    def backward(self, g, out):
        return (g * out * (1 - out),)


class Tanh(_tanh.Tanh):
    """out = tanh(x);  dx = g * (1 - out ** 2)"""

    def backward(self, g, out):
        return (g * (1 - out**2),)


class SoftmaxCrossEntropy(_cross_entropy.SoftmaxCrossEntropy):
    """loss = mean over rows of -sum(onehot * log(softmax(z)));  dz = g * (softmax(z) - onehot) / m"""

    def backward(self, g, probs, onehot):
        return g * (probs - onehot) / probs.shape[0], None


def dense_backward(dA, X, z, W):
    """(dW, db, dA_prev): the dense layer's four lines, as the tutorial writes them (``reference``)."""
    return ref.dense_backward(dA, X, z, W, "tanh")


class Dropout(_dropout.Dropout):
    """out = x * mask;  dx = g * mask"""

    def backward(self, g, mask):
        return g * mask, None


def batch_norm_backward(dout, cache):
    """(dX, dgamma, dbeta): the hand derivation of ``reference`` (the same cache layout)."""
    return ref.batch_norm_backward(dout, cache)


def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """(param, m, v) after Adam's t-th update, as ``reference`` writes it."""
    return ref.adam_update(param, grad, m, v, t, lr, beta1, beta2, eps)


def l2_backward(W, l2_lambda):
    """dW = l2_lambda * W: the 2 of the square cancels the 1/2 of the penalty."""
    return l2_lambda * W

