"""The from-scratch network in plain NumPy, every derivative written out by hand.

This module is the project's oracle: the tests check the graph's gradients and
updates against these formulas (and both against finite differences), and the
benchmarks use ``MLP`` as the floor that a framework cannot beat. It follows the
classic tutorial's math, in its own code:

* activations and their derivatives with respect to the pre-activation ``z``;
* the dense layer: ``z = X W + b``, ``a = f(z)``; backward ``dZ = dA * f'(z)``,
  ``dW = X.T dZ / m``, ``db = mean(dZ)``, ``dA_prev = dZ W.T``;
* softmax + cross-entropy, whose gradient at the scores is ``y_pred - y_true``;
* L2 regularisation (``dW += lambda W``), the inverted-dropout mask, batch
  normalisation's forward and its hand-derived backward;
* the optimizer update rules and the learning-rate schedules, as closed forms.

Gradient convention of the dense layer (the tutorial's): ``dA`` holds one row per
sample, the derivative of *that sample's* loss, so the softmax + cross-entropy
start is ``y_pred - y_true`` without a 1/m; ``dW`` and ``db`` are averaged over the
batch (the 1/m), i.e. they are the gradients of the *mean* loss. Biases are 1-D,
shape (n,); the tutorial keeps them as (1, n) rows. Other functions here take and
return plain derivatives of one scalar.

Nothing here imports the Tensor graph.
"""
from __future__ import annotations

import math

import numpy as np

# ----------------------------------------------------------------------------- activations
# Each derivative takes the pre-activation z (as the tutorial's do) and returns f'(z).


def sigmoid(z):
    """1 / (1 + e^-z), written with e^-|z| so it never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(z):
    """s (1 - s) with s = sigmoid(z)."""
    s = sigmoid(z)
    return s * (1 - s)


def relu(z):
    """max(z, 0)."""
    return np.maximum(z, 0)


def relu_derivative(z):
    """1 where z > 0, else 0 (0 at the kink itself, as the tutorial's)."""
    return (z > 0).astype(z.dtype)


def tanh(z):
    """tanh(z)."""
    return np.tanh(z)


def tanh_derivative(z):
    """1 - tanh(z)^2."""
    return 1 - np.tanh(z) ** 2


def leaky_relu(z, alpha=0.01):
    """z where z > 0, else alpha z."""
    return np.where(z > 0, z, alpha * z)


def leaky_relu_derivative(z, alpha=0.01):
    """1 where z > 0, else alpha."""
    return np.where(z > 0, 1.0, alpha).astype(z.dtype)


def identity(z):
    """z unchanged: the 'linear' activation."""
    return z


def identity_derivative(z):
    """Ones of z's shape."""
    return np.ones_like(z)


def softmax(z):
    """Row-wise probabilities, shifted by the row maximum so exp never overflows."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(dA, probs):
    """dZ for a softmax on its own: its Jacobian diag(p) - p p^T applied row by row."""
    return probs * (dA - (dA * probs).sum(axis=-1, keepdims=True))


# name -> (f, f'). Softmax has no entry for f': after cross-entropy, dZ = dA (= y_pred - y_true).
ACTIVATIONS = {
    "relu": (relu, relu_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "softmax": (softmax, None),
    "linear": (identity, identity_derivative),
    None: (identity, identity_derivative),
}


def _activation(name):
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        known = [k for k in ACTIVATIONS if k]
        raise ValueError(f"reference: unknown activation {name!r}; choose from {known}") from None


# ----------------------------------------------------------------------------- dense layer


def dense_forward(X, W, b, activation="relu"):
    """(a, z): z = X W + b, a = f(z)."""
    z = X @ W + b
    return _activation(activation)[0](z), z


def dense_backward(dA, X, z, W, activation="relu", l2_lambda=0.0, need_dA_prev=True):
    """(dW, db, dA_prev) of one dense layer, in the tutorial's convention (see the module docstring).

    dZ = dA * f'(z)  (dZ = dA for softmax, whose cross-entropy gradient is already folded in)
    dW = X.T dZ / m + l2_lambda * W,  db = mean of dZ over the batch,  dA_prev = dZ W.T
    ``need_dA_prev=False`` skips dA_prev (the first layer has no layer below to receive it).
    """
    derivative = _activation(activation)[1]
    dZ = dA if derivative is None else dA * derivative(z)
    m = X.shape[0]
    dW = X.T @ dZ / m
    if l2_lambda:
        dW = dW + l2_lambda * W
    db = dZ.sum(axis=0) / m
    return dW, db, (dZ @ W.T if need_dA_prev else None)


# ----------------------------------------------------------------------------- losses


def cross_entropy(probs, y_onehot, eps=1e-15):
    """Mean cross-entropy of probabilities, clipped to [eps, 1 - eps] so log never sees 0."""
    return float(-np.sum(y_onehot * np.log(np.clip(probs, eps, 1 - eps))) / y_onehot.shape[0])


def softmax_cross_entropy_backward(probs, y_onehot):
    """dZ at the softmax's input for the cross-entropy loss, one row per sample: y_pred - y_true."""
    return probs - y_onehot


def log_softmax(z):
    """Row-wise log-probabilities, z - max - log(sum(exp(z - max))): finite where softmax underflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# The losses below return (mean loss, gradient of the mean loss with respect to the input).


def nll_loss(log_probs, y_onehot):
    """-mean over samples of sum_c y log p;  d/dlog_probs = -y / m."""
    m = y_onehot.shape[0]
    return float(-np.sum(y_onehot * log_probs) / m), -y_onehot / m


def mse_loss(pred, target):
    """mean of (pred - target)^2 over every element;  gradient 2 (pred - target) / size."""
    diff = pred - target
    return float(np.mean(diff**2)), 2 * diff / diff.size


def binary_cross_entropy(probs, target):
    """mean of -(t log p + (1 - t) log(1 - p));  gradient (p - t) / (p (1 - p)) / size."""
    loss = -(target * np.log(probs) + (1 - target) * np.log(1 - probs))
    return float(np.mean(loss)), (probs - target) / (probs * (1 - probs)) / probs.size


def binary_cross_entropy_with_logits(logits, target):
    """The same loss from the scores x = logit(p);  gradient (sigmoid(x) - t) / size."""
    loss = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    return float(np.mean(loss)), (sigmoid(logits) - target) / logits.size


def l2_term(weights, l2_lambda):
    """lambda / 2 * sum of squared weights: the loss whose gradient is the L2 term lambda * W."""
    return 0.5 * l2_lambda * sum(float(np.sum(W * W)) for W in weights)


# ----------------------------------------------------------------------------- dropout


def dropout_mask(shape, p, rng):
    """Inverted dropout: Bernoulli(1 - p) draws divided by 1 - p (zeros when p = 1)."""
    keep = 1.0 - p
    if keep == 0.0:
        return np.zeros(shape)
    return rng.binomial(1, keep, shape) / keep


def dropout_forward(X, mask):
    """X * mask (the mask from ``dropout_mask``, already scaled by 1 / (1 - p))."""
    return X * mask


def dropout_backward(dA, mask):
    """dA * mask: the units that were dropped pass no gradient."""
    return dA * mask


# ----------------------------------------------------------------------------- batch normalisation


def batch_norm_forward(X, gamma, beta, eps=1e-5):
    """Training-mode batch norm of X (m, n) with batch statistics: (out, cache).

    x_hat = (X - mean) / sqrt(var + eps) with the biased variance; out = gamma x_hat + beta.
    """
    mean = X.mean(axis=0)
    var = X.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (X - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)


def batch_norm_backward(dout, cache):
    """(dX, dgamma, dbeta) for ``batch_norm_forward``, derived by hand.

    With x_hat = (x - mu) * s, s = (var + eps)^-1/2, and both mu and var depending on x:
      dgamma = sum(dout * x_hat),  dbeta = sum(dout),  dx_hat = dout * gamma
      dX = s / m * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    (the two sums are what the mean and the variance pass back.)
    """
    x_hat, inv_std, gamma = cache
    m = dout.shape[0]
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    dX = inv_std / m * (m * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dX, dgamma, dbeta


def batch_norm_running_update(running_mean, running_var, X, momentum=0.1):
    """New (running_mean, running_var): momentum weighs the new batch statistic, the variance is unbiased.

    The tutorial's momentum=0.9 weighs the old statistic instead; 0.9 there is 0.1 here.
    """
    m = X.shape[0]
    new_mean = (1 - momentum) * running_mean + momentum * X.mean(axis=0)
    new_var = (1 - momentum) * running_var + momentum * X.var(axis=0) * m / (m - 1)
    return new_mean, new_var


def batch_norm_inference(X, gamma, beta, running_mean, running_var, eps=1e-5):
    """Evaluation-mode batch norm: the running statistics replace the batch's."""
    return gamma * (X - running_mean) / np.sqrt(running_var + eps) + beta


def batch_norm_inference_backward(dout, X, gamma, running_mean, running_var, eps=1e-5):
    """(dX, dgamma, dbeta) in evaluation mode: the statistics are constants, so dX = dout * gamma / std."""
    inv_std = 1.0 / np.sqrt(running_var + eps)
    x_hat = (X - running_mean) * inv_std
    return dout * gamma * inv_std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


# ----------------------------------------------------------------------------- optimizer updates
# Each returns the new values and never changes its arguments.


def sgd_update(param, grad, lr, momentum=0.0, buf=None, nesterov=False, weight_decay=0.0):
    """(param, buf): p - lr * d with d = g, or the momentum buffer (Nesterov: g + mu * buf)."""
    g = grad + weight_decay * param
    if momentum:
        buf = g.copy() if buf is None else momentum * buf + g
        g = g + momentum * buf if nesterov else buf
    return param - lr * g, buf


def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """(param, m, v) after Adam's t-th update (t starts at 1) with the L2 term in the gradient."""
    g = grad + weight_decay * param
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adamw_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    """(param, m, v): decay the weight by lr * weight_decay, then Adam's step without L2."""
    return adam_update(param * (1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)


def rmsprop_update(param, grad, square_avg, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                   momentum=0.0, buf=None, centered=False, grad_avg=None):
    """(param, square_avg, buf, grad_avg) after one RMSprop update (buf/grad_avg None when unused)."""
    g = grad + weight_decay * param
    square_avg = alpha * square_avg + (1 - alpha) * g**2
    if centered:
        grad_avg = alpha * (np.zeros_like(g) if grad_avg is None else grad_avg) + (1 - alpha) * g
        rms = np.sqrt(square_avg - grad_avg**2) + eps
    else:
        rms = np.sqrt(square_avg) + eps
    if momentum:
        buf = momentum * (np.zeros_like(g) if buf is None else buf) + g / rms
        return param - lr * buf, square_avg, buf, grad_avg
    return param - lr * g / rms, square_avg, buf, grad_avg


# ----------------------------------------------------------------------------- learning-rate schedules


def step_decay(initial_lr, epoch, drop_rate=0.5, epochs_drop=100):
    """Multiply by drop_rate every epochs_drop epochs."""
    return initial_lr * drop_rate ** (epoch // epochs_drop)


def exponential_decay(initial_lr, epoch, decay_rate=0.96):
    """Multiply by decay_rate every epoch: initial_lr * decay_rate ** epoch."""
    return initial_lr * decay_rate**epoch


def cosine_annealing(initial_lr, epoch, total_epochs):
    """Half a cosine from initial_lr to 0 over total_epochs."""
    return initial_lr * (1 + math.cos(math.pi * epoch / total_epochs)) / 2


# ----------------------------------------------------------------------------- initialisation


def initial_weights(n_in, n_out, activation, rng, dtype=np.float64):
    """The tutorial's rule: He (std sqrt(2/n_in)) for relu layers, sqrt(1/n_in) for the others."""
    scale = math.sqrt((2.0 if activation == "relu" else 1.0) / n_in)
    return (rng.standard_normal((n_in, n_out)) * scale).astype(dtype)


# ----------------------------------------------------------------------------- the network


class MLP:
    """The tutorial's network: dense layers with hand-written forward, backward and SGD.

    layer_sizes  [input, hidden..., output];  activations  one name per layer (default:
    relu for hidden layers, softmax for the output);  ``weights[i]`` (n_i, n_i+1) and
    ``biases[i]`` (n_i+1,) are plain, settable arrays; ``rng`` draws the initial weights
    (default: spawned from the package's seeded generator).

    ``backward(y_onehot)`` starts from ``y_pred - y_true``: with a softmax output that is the
    cross-entropy gradient; with any other output activation it is the gradient of half
    the squared error, sum((y_pred - y)^2) / 2, per sample. ``l2_lambda`` adds lambda * W
    to every dW. Nothing updates weights except ``sgd_step``.
    """

    def __init__(self, layer_sizes, activations=None, dtype=np.float64, rng=None, l2_lambda=0.0):
        sizes = list(layer_sizes)
        if activations is None:
            activations = ["relu"] * (len(sizes) - 2) + ["softmax"]
        if len(activations) != len(sizes) - 1:
            raise ValueError(f"reference.MLP: {len(sizes) - 1} layers need {len(sizes) - 1} activations")
        if rng is None:
            from .engine.random import generator

            rng = generator()
        self._functions = [_activation(a) for a in activations]
        self.activations = list(activations)
        self.dtype = np.dtype(dtype)
        self.l2_lambda = l2_lambda
        self.weights = [initial_weights(n_in, n_out, a, rng, self.dtype)
                        for n_in, n_out, a in zip(sizes[:-1], sizes[1:], activations)]
        self.biases = [np.zeros(n_out, dtype=self.dtype) for n_out in sizes[1:]]
        self._inputs, self._zs, self._output = [], [], None
        self.dWs, self.dbs = None, None

    def forward(self, X):
        """Output of the last layer (probabilities for a softmax output); keeps what backward needs."""
        inputs, zs = [], []
        a = X
        for W, b, (f, _) in zip(self.weights, self.biases, self._functions):
            inputs.append(a)
            z = a @ W + b
            zs.append(z)
            a = f(z)
        self._inputs, self._zs, self._output = inputs, zs, a
        return a

    def backward(self, y_onehot):
        """(dWs, dbs) of the mean loss for the last ``forward``; also kept for ``sgd_step``."""
        dA = self._output - y_onehot
        last = len(self.weights) - 1
        dWs, dbs = [None] * (last + 1), [None] * (last + 1)
        for i in range(last, -1, -1):
            X, z, W = self._inputs[i], self._zs[i], self.weights[i]
            derivative = self._functions[i][1]
            dZ = dA if derivative is None else dA * derivative(z)
            m = X.shape[0]
            dW = X.T @ dZ / m
            if self.l2_lambda:
                dW += self.l2_lambda * W
            dWs[i], dbs[i] = dW, dZ.sum(axis=0) / m
            if i:  # the input layer passes nothing further down
                dA = dZ @ W.T
        self.dWs, self.dbs = dWs, dbs
        return dWs, dbs

    def sgd_step(self, lr):
        """W -= lr * dW and b -= lr * db for every layer, from the last ``backward``."""
        for W, b, dW, db in zip(self.weights, self.biases, self.dWs, self.dbs):
            W -= lr * dW
            b -= lr * db

    def loss(self, probs, y_onehot):
        """Mean cross-entropy (clipped, as the tutorial's) plus the L2 term when l2_lambda > 0."""
        value = cross_entropy(probs, y_onehot)
        return value + l2_term(self.weights, self.l2_lambda) if self.l2_lambda else value

    def train_step(self, X, y_onehot, lr):
        """One mini-batch of plain gradient descent; returns the loss before the update."""
        probs = self.forward(X)
        loss = self.loss(probs, y_onehot)
        self.backward(y_onehot)
        self.sgd_step(lr)
        return loss

    def predict(self, X):
        """Class indices (n,): the argmax of the output for each row of X."""
        return np.argmax(self.forward(X), axis=1)
