"""The tutorial's iris network, rewritten on tinygrad_edu.

Same data, network ([4, 16, 8, 3], relu, relu, softmax), loss (cross-entropy),
optimizer (SGD, lr 0.1), batch size (16) and epochs (1000) as the tutorial; the
layers record a graph and backward() computes the gradients.

    python examples/iris.py [EPOCHS]
"""
import sys

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import load_iris
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import evaluate, fit

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
tg.manual_seed(42)

X, y = load_iris()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=42)
scaler = StandardScaler().fit(X_train)  # statistics of the training part only
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

network = nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
optimizer = optim.SGD(network.parameters(), lr=0.1)

print("Training Neural Network...")
print("-" * 50)
# cross_entropy takes logits; network(x) would give the softmax probabilities
fit(network.logits, X_train, y_train, cross_entropy, optimizer, epochs=epochs, batch_size=16, seed=42)
print("-" * 50)
print(f"Training Accuracy: {100 * evaluate(network.logits, X_train, y_train).accuracy:.2f}%")
print(f"Testing Accuracy: {100 * evaluate(network.logits, X_test, y_test).accuracy:.2f}%")
