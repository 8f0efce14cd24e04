"""Exercise 12: The L2 term.

Formula:   the gradient of the L2 penalty l2_lambda / 2 * sum(W ** 2)
Tutorial:  L2 regularisation and dropout > L2 (docs/tutorial/regularisation.md)
Hint:      Each weight appears once in the sum, squared. Mind the 1/2 in front: it is there to
           make the gradient simple.
Check:     tinygrad-edu exercises check . l2
"""
import numpy as np


def l2_term(W, l2_lambda):
    """The penalty added to the loss: l2_lambda / 2 * sum(W ** 2)."""
    return 0.5 * l2_lambda * np.sum(W * W)


def l2_backward(W, l2_lambda):
    """dW, the penalty's gradient, with W's shape: what the L2 term adds to a layer's dW."""
    raise NotImplementedError("exercise 12: write l2_backward")
