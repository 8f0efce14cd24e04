"""One training step, written four ways over the same data and initial weights.

A *step* is forward, softmax cross-entropy on the logits, backward and a plain SGD
update of a multi-layer perceptron with ReLU hidden layers. Every implementation here
is a callable object: ``step()`` trains once and returns the loss before the update,
``reset()`` writes the initial weights back in place (each timed repeat starts from
them), ``parameters()`` lists ``(W (in, out), b (out,))`` as ndarrays.

* ``FloorStep``: the least NumPy work the step needs, written by hand: the floor.
* ``ReferenceStep``: the tutorial's network, ``reference.MLP`` (one-hot targets,
  probabilities, a clipped log), a row of its own.
* ``TinygradStep``: ``nn.MLP``, ``nn.functional.cross_entropy``, ``optim.SGD``.
* ``CompiledStep``: the same step under ``tg.compile``: captured once, then replayed.
* ``TorchStep``: PyTorch eager, when it is importable (it is never a dependency).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict

import numpy as np

FLOOR = "numpy"
REFERENCE = "reference"
OURS = "tinygrad_edu"
COMPILED = "compiled"
TORCH = "torch"

LEARNING_RATE = 0.01


def torch_available() -> bool:
    """True when PyTorch can be found, without importing it (a second or two)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None


def import_torch():
    """PyTorch, given as many threads as the BLAS environment variables say (see ``harness``)."""
    import torch

    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0 and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))
    return torch


@dataclass
class Problem:
    """One training step's inputs, shared by every implementation: the same data and initial weights.

    x (batch, sizes[0]); labels (batch,) class indices; onehot (batch, sizes[-1]) the same
    labels one-hot (the reference network's target format); weights[i] (sizes[i], sizes[i+1])
    and biases[i] (sizes[i+1],) as ``reference.MLP`` draws them (He for the ReLU layers).
    """

    sizes: tuple
    batch: int
    dtype: np.dtype
    x: np.ndarray
    labels: np.ndarray
    onehot: np.ndarray
    weights: list
    biases: list
    lr: float = LEARNING_RATE

    @property
    def name(self) -> str:
        return f"{'-'.join(map(str, self.sizes))}, batch {self.batch}, {self.dtype.name}"


def make_problem(sizes, batch, dtype, seed=0) -> Problem:
    """Random inputs and labels, and the reference network's initial weights (ReLU hidden layers)."""
    from .. import reference

    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], size=batch)
    onehot = np.eye(sizes[-1], dtype=dtype)[labels]
    initial = reference.MLP(sizes, dtype=dtype, rng=rng)
    return Problem(tuple(sizes), batch, dtype, x, labels, onehot, initial.weights, initial.biases)


class _NumpyWeights:
    """Weights held as plain arrays, reset in place from the problem's."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.weights = [W.copy() for W in problem.weights]
        self.biases = [b.copy() for b in problem.biases]

    def reset(self):
        """Back to the problem's initial weights (written in place)."""
        for W, b, W0, b0 in zip(self.weights, self.biases, self.problem.weights, self.problem.biases):
            W[...], b[...] = W0, b0

    def parameters(self):
        """[(W (in, out), b (out,)), ...] as ndarrays."""
        return list(zip(self.weights, self.biases))


class FloorStep(_NumpyWeights):
    """The floor: every array operation the step needs, and no more, in plain NumPy.

    Each result is a fresh array, as ordinary NumPy code makes it; an operation writes
    in place only into an array it has just made (``z += b`` into the product ``a @ W``,
    ReLU into ``z``, the softmax into ``exp``'s result) or into the weights it updates.
    Nothing is kept from one step to the next but the weights: no buffer is reused.

    Forward, per layer: ``z = a @ W; z += b``, then ReLU in place for hidden layers
    (its output is positive exactly where ``z`` is, so backward needs no other mask).
    Loss: ``z -= max(z)`` row-wise, ``e = exp(z)``, ``s = sum(e)`` row-wise,
    ``loss = (sum(log s) - sum(z[i, label_i])) / N``.
    Backward: ``dz = (e / s - onehot) / N`` built in ``e``; per layer ``dW = a.T @ dz``,
    ``db = sum(dz)``, and below the top layer ``dz = (dz @ W.T) * (a > 0)``; the input
    layer's input needs no gradient. Update: ``W -= lr * dW``, ``b -= lr * db``.
    """

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.rows = np.arange(problem.batch)

    def __call__(self) -> float:
        p, rows = self.problem, self.rows
        last = len(self.weights) - 1
        inputs = []  # each layer's input: x, then the ReLU outputs
        z = p.x
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(z)
            z = z @ W
            z += b
            if i < last:
                np.maximum(z, 0, out=z)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = (np.log(s).sum() - z[rows, p.labels].sum()) / p.batch
        e /= s
        e[rows, p.labels] -= 1
        e *= 1 / p.batch
        dz, grads = e, []
        for i in range(last, -1, -1):
            a = inputs[i]
            grads.append((a.T @ dz, dz.sum(axis=0)))
            if i:
                dz = dz @ self.weights[i].T
                dz *= a > 0
        for W, b, (dW, db) in zip(self.weights, self.biases, reversed(grads)):
            W -= p.lr * dW
            b -= p.lr * db
        return float(loss)


class ReferenceStep(_NumpyWeights):
    """The tutorial's network: ``reference.MLP``'s hand-written forward, loss, backward and SGD update."""

    def __init__(self, problem: Problem):
        from .. import reference

        super().__init__(problem)
        self.net = reference.MLP(problem.sizes, dtype=problem.dtype, rng=np.random.default_rng(0))
        self.net.weights, self.net.biases = self.weights, self.biases

    def __call__(self) -> float:
        p = self.problem
        return self.net.train_step(p.x, p.onehot, p.lr)


class TinygradStep:
    """tinygrad_edu: ``nn.MLP``, ``F.cross_entropy`` on the logits, ``optim.SGD``."""

    def __init__(self, problem: Problem):
        from .. import nn, optim

        self.problem = problem
        activations = ["relu"] * (len(problem.sizes) - 2) + ["softmax"]
        self.model = nn.MLP(problem.sizes, activations, dtype=problem.dtype)
        self.optimizer = optim.SGD(self.model.parameters(), lr=problem.lr)
        self.cross_entropy = nn.functional.cross_entropy
        self.reset()

    def reset(self):
        from .. import no_grad

        with no_grad():
            for layer, W0, b0 in zip(self.model.layers, self.problem.weights, self.problem.biases):
                layer.weight.copy_(W0)
                layer.bias.copy_(b0)

    def train(self, x, labels):
        """One step on (x, labels); returns the loss Tensor."""
        self.optimizer.zero_grad()
        loss = self.cross_entropy(self.model.logits(x), labels)
        loss.backward()
        self.optimizer.step()
        return loss

    def __call__(self) -> float:
        return self.train(self.problem.x, self.problem.labels).item()

    def parameters(self):
        return [(layer.weight.data, layer.bias.data) for layer in self.model.layers]


class CompiledStep(TinygradStep):
    """tinygrad_edu's step compiled with ``tg.compile``: the first call captures it, later calls replay it."""

    def __init__(self, problem: Problem):
        from ..compile import compile

        super().__init__(problem)
        self.compiled = compile(self.train)

    def __call__(self) -> float:
        return self.compiled(self.problem.x, self.problem.labels).item()


class TorchStep:
    """PyTorch eager: ``torch.nn.Linear`` layers with the same initial weights, ``F.cross_entropy``, SGD."""

    def __init__(self, problem: Problem):
        torch = import_torch()
        self.torch, self.problem = torch, problem
        dtype = getattr(torch, problem.dtype.name)
        layers = []
        for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])  # no ReLU after the last layer: the logits
        self.linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.lr)
        self.x = torch.from_numpy(problem.x)
        self.labels = torch.from_numpy(problem.labels)
        self.reset()

    def reset(self):
        with self.torch.no_grad():
            for linear, W0, b0 in zip(self.linears, self.problem.weights, self.problem.biases):
                linear.weight.copy_(self.torch.from_numpy(W0.T))  # torch keeps (out, in)
                linear.bias.copy_(self.torch.from_numpy(b0))

    def __call__(self) -> float:
        self.optimizer.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def parameters(self):
        return [(linear.weight.detach().numpy().T, linear.bias.detach().numpy()) for linear in self.linears]


# name -> the step class; the harness builds only the one its worker times
STEPS: Dict[str, type] = {FLOOR: FloorStep, REFERENCE: ReferenceStep, OURS: TinygradStep, COMPILED: CompiledStep,
                          TORCH: TorchStep}


def step_names() -> list:
    """The implementations that can run here: PyTorch's only when it is importable."""
    return [name for name in STEPS if name != TORCH or torch_available()]


def step_implementations(problem: Problem) -> Dict[str, object]:
    """name -> a training step over ``problem`` (callable; ``reset()`` and ``parameters()`` too)."""
    return {name: STEPS[name](problem) for name in step_names()}
