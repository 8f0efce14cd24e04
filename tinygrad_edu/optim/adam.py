"""Adam (moment estimates with bias correction) and AdamW (Adam with decoupled weight decay)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """Adaptive moments, following PyTorch's rule:

        g = grad + weight_decay * p            (L2 added to the gradient, as the tutorial's L2 term)
        m = beta1 * m + (1 - beta1) * g        first moment
        v = beta2 * v + (1 - beta2) * g**2     second moment
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)

    ``t`` counts this parameter's updates: it rises by one per ``step()``. (The tutorial's
    ``AdamOptimizer`` raises its one shared ``t`` on every *parameter* update, so with k
    parameters it runs k times too fast and the bias correction fades too early.)
    """

    state_arrays = ("exp_avg", "exp_avg_sq")
    state_counts = ("step",)
    state_required = ("step", "exp_avg", "exp_avg_sq")

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if weight_decay:
            if self.decoupled_weight_decay:
                param.mul_(1.0 - lr * weight_decay)
            else:
                grad = grad + weight_decay * param.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * (grad * grad)
        denom = np.sqrt(v / (1.0 - beta2**t))
        denom += eps
        param.sub_(m / denom, alpha=lr / (1.0 - beta1**t))


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p * (1 - lr * weight_decay), then the Adam step without L2.

    Unlike L2 in Adam, the decay is not divided by sqrt(v_hat), so every weight shrinks at
    the same rate whatever its gradient history (Loshchilov and Hutter).
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
