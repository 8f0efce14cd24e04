"""Exercise 11: The Adam update.

Formula:   Adam: moving averages of the gradient and its square, bias-corrected
Tutorial:  Adam (docs/tutorial/adam.md)
Hint:      Update m with beta1 and v with beta2 first. Both start at zero, so early on they are
           too small: divide each by one minus its beta to the power t (t counts the updates,
           starting at 1). The step divides the corrected m by the square root of the corrected
           v, plus eps, and moves against the gradient.
Check:     tinygrad-edu exercises check . adam
"""
import numpy as np


def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """(param, m, v) after the t-th update; returns new arrays and leaves its arguments unchanged."""
    raise NotImplementedError("exercise 11: write adam_update")
