"""The tutorial's perceptron, sigmoid(x . w + b), as a Module trained by gradient descent.

It separates setosa from the other two iris species using the petal measurements
(a linearly separable problem, so one neuron is enough).

    python examples/perceptron.py [EPOCHS]
"""
import sys

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import optim
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import load_iris
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.train import fit


class Perceptron(Module):
    """x (n, features) -> probability (n,) of the positive class."""

    def __init__(self, n_features):
        super().__init__()
        self.weight = Parameter(tg.randn(n_features).numpy() * 0.01)  # small random weights, as the tutorial
        self.bias = Parameter(np.zeros((), dtype=np.float32))

    def forward(self, x):
        return (x @ self.weight + self.bias).sigmoid()


def binary_cross_entropy(p, y):
    p = p.clip(1e-7, 1 - 1e-7)  # keep log() finite
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
tg.manual_seed(0)
X, species = load_iris()
X, y = X[:, 2:], (species == 0).astype(np.float32)  # petal length and width; 1 for setosa
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

perceptron = Perceptron(n_features=2)
fit(perceptron, X_train, y_train, binary_cross_entropy, optim.SGD(perceptron.parameters(), lr=0.5),
    epochs=epochs, batch_size=16, seed=0, log_every=10)
with tg.no_grad():
    predicted = perceptron(tg.Tensor(X_test)).numpy() > 0.5
print(f"weights {perceptron.weight.numpy()}, bias {perceptron.bias.item():.3f}")
print(f"Testing Accuracy: {100 * np.mean(predicted == (y_test == 1)):.2f}%")
