"""A small MLP learns the two moons; the picture shows the boundary it found.

    python examples/decision_boundary.py [--epochs N] [--out PICTURE]

Writes PICTURE (default decision_boundary.png) when matplotlib is installed.
"""
import argparse

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, plots
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import make_moons
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import evaluate, fit


def main(epochs=300, out="decision_boundary.png"):
    """Train on the moons, print the test accuracy, draw the boundary; returns the accuracy in percent."""
    tg.manual_seed(0)
    X, y = make_moons(300, noise=0.2, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    network = nn.MLP([2, 16, 16, 2], ["relu", "relu", "softmax"])
    fit(network.logits, X_train, y_train, cross_entropy, optim.Adam(network.parameters(), lr=0.01),
        epochs, batch_size=32, seed=0, log_every=max(1, epochs // 5))
    accuracy = 100 * evaluate(network.logits, X_test, y_test).accuracy
    print(f"Testing Accuracy: {accuracy:.2f}%")

    if plots.have_matplotlib():
        plots.plot_decision_boundary(network.predict, X_test, y_test, out, title="Two moons: test samples")
        print(f"Wrote {out}")
    else:
        print(f"No picture: {plots.INSTALL_HINT}")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--out", default="decision_boundary.png")
    main(**vars(parser.parse_args()))
