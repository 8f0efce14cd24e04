"""Gradient health: the tutorial's thresholds for vanishing and exploding gradients.

Shared by the gradient-flow report (``tg.utils.gradient_report``) and the graph
pictures (``tg.draw_graph(..., show_grads=True)``), so both always agree.
"""
from __future__ import annotations

import numpy as np

VANISHING_MEAN_ABS = 1e-7  # mean |grad| below this: vanishing
EXPLODING_MAX_ABS = 1000.0  # max |grad| above this: exploding


def classify(grad) -> str:
    """'nan', 'inf', 'vanishing', 'exploding' or 'ok' for a gradient array.

    A NaN (then an infinite) entry is its own verdict before any threshold: a broken
    gradient is neither small nor large. Then the tutorial's order: vanishing first.
    """
    magnitude = np.abs(np.asarray(grad, dtype=np.float64))
    if magnitude.size == 0:
        return "ok"
    if np.isnan(magnitude).any():
        return "nan"
    if np.isinf(magnitude).any():
        return "inf"
    if magnitude.mean() < VANISHING_MEAN_ABS:
        return "vanishing"
    if magnitude.max() > EXPLODING_MAX_ABS:
        return "exploding"
    return "ok"
