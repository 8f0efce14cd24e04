"""Stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """p <- p - lr * d, following PyTorch's rule (no dampening):

        g = grad + weight_decay * p                  (L2: the gradient of weight_decay/2 * |p|^2)
        momentum 0:  d = g                           (the tutorial's plain update)
        momentum mu: buf = g on the first step, then mu * buf + g
                     d = buf, or g + mu * buf with nesterov=True
    """

    state_arrays = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=bool(nesterov), weight_decay=weight_decay))
        if nesterov and any(group["momentum"] <= 0 for group in self.param_groups):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0, got momentum={momentum!r}")

    def _update(self, param, grad, state, group):
        lr, mu, weight_decay = float(group["lr"]), float(group["momentum"]), float(group["weight_decay"])
        if weight_decay:
            grad = grad + weight_decay * param.data
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= mu
                buf += grad
            grad = grad + mu * buf if group["nesterov"] else buf
        param.sub_(grad, alpha=lr)
