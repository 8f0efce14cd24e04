"""RMSprop: divide each gradient by a running root-mean-square of its recent values."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """Following PyTorch's rule:

        g = grad + weight_decay * p
        s = alpha * s + (1 - alpha) * g**2
        centered: a = alpha * a + (1 - alpha) * g;  r = sqrt(s - a**2) + eps   else r = sqrt(s) + eps
        momentum mu: buf = mu * buf + g / r;  p <- p - lr * buf      else p <- p - lr * g / r
    """

    state_arrays = ("square_avg", "grad_avg", "momentum_buffer")
    state_counts = ("step",)
    state_required = ("step", "square_avg")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=bool(centered)))

    def _update(self, param, grad, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, mu = float(group["weight_decay"]), float(group["momentum"])
        if weight_decay:
            grad = grad + weight_decay * param.data
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state.setdefault("grad_avg", np.zeros_like(param.data))
            grad_avg *= alpha
            grad_avg += (1.0 - alpha) * grad
            rms = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            rms = np.sqrt(square_avg)
        rms += eps
        if mu:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param.data))
            buf *= mu
            buf += grad / rms
            param.sub_(buf, alpha=lr)
        else:
            param.sub_(grad / rms, alpha=lr)
