"""The tutorial's perceptron, sigmoid(x . w + b), trained by gradient descent.

It separates setosa from the other two iris species using the petal measurements
(a linearly separable problem, so one neuron is enough).

    python examples/perceptron.py [--epochs N]
"""
import argparse

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import load_iris
from tinygrad_edu.nn.functional import binary_cross_entropy
from tinygrad_edu.train import fit


def main(epochs=100):
    """Train the perceptron; returns its test accuracy in percent."""
    tg.manual_seed(0)  # small random weights (std 0.01), as the tutorial's
    X, species = load_iris()
    X, y = X[:, 2:], (species == 0).astype(np.float32)  # petal length and width; 1 for setosa
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    perceptron = nn.Perceptron(input_size=2)  # the probability of setosa, (n,)
    fit(perceptron, X_train, y_train, binary_cross_entropy, optim.SGD(perceptron.parameters(), lr=0.5),
        epochs, batch_size=16, seed=0, log_every=max(1, epochs // 10))
    with tg.no_grad():
        predicted = perceptron(tg.Tensor(X_test)).numpy() > 0.5
    accuracy = 100 * np.mean(predicted == (y_test == 1))
    print(f"weights {perceptron.weight.numpy()}, bias {perceptron.bias.item():.3f}")
    print(f"Testing Accuracy: {accuracy:.2f}%")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    main(**vars(parser.parse_args()))
