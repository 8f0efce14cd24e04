"""A small MLP learns the two moons; the picture shows the boundary it found.

    python examples/decision_boundary.py [EPOCHS] [PICTURE]

Writes PICTURE (default decision_boundary.png) when matplotlib is installed.
"""
import sys

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, plots
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import make_moons
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import evaluate, fit

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 300
picture = sys.argv[2] if len(sys.argv) > 2 else "decision_boundary.png"
tg.manual_seed(0)

X, y = make_moons(300, noise=0.2, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

network = nn.MLP([2, 16, 16, 2], ["relu", "relu", "softmax"])
fit(network.logits, X_train, y_train, cross_entropy, optim.Adam(network.parameters(), lr=0.01),
    epochs=epochs, batch_size=32, seed=0)
print(f"Testing Accuracy: {100 * evaluate(network.logits, X_test, y_test).accuracy:.2f}%")


def predict(points):
    with tg.no_grad():
        return network.logits(tg.Tensor(points)).numpy().argmax(axis=1)


if plots.have_matplotlib():
    plots.plot_decision_boundary(predict, X_test, y_test, picture, title="Two moons: test samples")
    print(f"Wrote {picture}")
else:
    print(f"No picture: {plots.INSTALL_HINT}")
