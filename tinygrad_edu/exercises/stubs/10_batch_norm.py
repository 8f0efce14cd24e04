"""Exercise 10: Batch normalisation.

Formula:   the batch-norm backward, through x_hat = (X - mean) * inv_std and out = gamma * x_hat + beta
Tutorial:  Batch normalisation (docs/tutorial/batch-norm.md)
Hint:      gamma and beta are easy: each is used once per sample, so their gradients add up over
           the batch. X is the hard one: the mean and the variance depend on every sample, so
           besides the direct path each sample's gradient gets a share through the mean and
           one through the variance. Write dx_hat = dout * gamma first; the answer needs the
           batch sums of dx_hat and of dx_hat * x_hat.
Check:     tinygrad-edu exercises check . batch_norm
"""
import numpy as np


def batch_norm_forward(X, gamma, beta, eps=1e-5):
    """(out, cache) for X (m, n): normalise each feature over the batch, then scale and shift."""
    mean = X.mean(axis=0)
    var = X.var(axis=0)  # biased: divided by m
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (X - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)


def batch_norm_backward(dout, cache):
    """(dX, dgamma, dbeta) for dout (m, n), the gradient arriving at out; cache from the forward pass."""
    x_hat, inv_std, gamma = cache
    raise NotImplementedError("exercise 10: write batch_norm_backward")
