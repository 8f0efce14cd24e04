"""The tutorial's iris network, rewritten on tinygrad_edu.

Same data, network ([4, 16, 8, 3], relu, relu, softmax), loss (cross-entropy),
optimizer (SGD, lr 0.1), batch size (16) and epochs (1000) as the tutorial; the
layers record a graph and backward() computes the gradients.

    python examples/iris.py [--epochs N] [--seed N]
"""
import argparse

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import load_iris
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import evaluate, fit


def main(epochs=1000, seed=2):
    """Train and print the tutorial's log; returns (training accuracy, test accuracy) in percent."""
    tg.manual_seed(seed)  # the initial weights
    X, y = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=seed)
    scaler = StandardScaler().fit(X_train)  # statistics of the training part only
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    network = nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    optimizer = optim.SGD(network.parameters(), lr=0.1)

    print("Training Neural Network...")
    print("-" * 50)
    # cross_entropy takes the logits; network(x) would give the softmax probabilities
    fit(network.logits, X_train, y_train, cross_entropy, optimizer, epochs, batch_size=16, seed=seed,
        log_every=max(1, epochs // 10))
    train_accuracy = 100 * evaluate(network.logits, X_train, y_train).accuracy
    test_accuracy = 100 * evaluate(network.logits, X_test, y_test).accuracy
    print("-" * 50)
    print(f"Training Accuracy: {train_accuracy:.2f}%")
    print(f"Testing Accuracy: {test_accuracy:.2f}%")
    return train_accuracy, test_accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2)
    main(**vars(parser.parse_args()))
