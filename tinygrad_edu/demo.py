"""``tinygrad-edu demo``: the tutorial's iris network, trained on the graph engine, with pictures.

The run, top to bottom: load the data, split it 80/20 (stratified, seeded),
standardise it with statistics of the training part, build the MLP, train it
with ``train.fit`` (the tutorial's log lines), print the training and test
accuracy, then write the results to the output folder:

    loss_curve.png          loss per epoch, linear and log scale side by side
    decision_boundary.png   the classes over the plane (2-D data only)
    training_step.svg       the graph of one training step
    gradients.txt           the gradient-flow report after training
    weights.safetensors     the trained parameters
    history.json            loss and accuracy per epoch

Each dataset is one row of ``DATASETS``; each optimizer one entry of
``OPTIMIZERS``. Pictures need matplotlib and Graphviz's ``dot``: without them
the demo still trains and says in one line what to install.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import data, datasets
from .engine.random import manual_seed

RULE = "-" * 50  # the tutorial's separator line


@dataclass(frozen=True)
class DemoSpec:
    """One dataset the demo can train on.

    load         ``load(seed) -> (X, y)``: features (n, d) and class indices (n,)
    hidden       hidden layer sizes; the input and output sizes come from the data
    activations  one activation name per layer (the last is the output's)
    epochs, lr, batch_size   defaults when the command line does not give them
    """

    name: str
    description: str
    load: Callable
    hidden: tuple
    activations: tuple
    epochs: int = 1000
    lr: float = 0.1
    batch_size: int = 16

    def layer_sizes(self, n_features: int, n_classes: int) -> list:
        return [n_features, *self.hidden, n_classes]


DATASETS = {
    # The tutorial's network: [4, 16, 8, 3], relu, relu, softmax; SGD lr 0.1, batch 16, 1000 epochs.
    "iris": DemoSpec("iris", "Fisher's iris flowers: 4 measurements, 3 species",
                     lambda seed: datasets.load_iris(), hidden=(16, 8), activations=("relu", "relu", "softmax")),
    "moons": DemoSpec("moons", "two interleaving half circles in the plane",
                      lambda seed: datasets.make_moons(200, noise=0.2, seed=seed), hidden=(16, 8),
                      activations=("relu", "relu", "softmax")),
    "spirals": DemoSpec("spirals", "three spiral arms in the plane",
                        lambda seed: datasets.make_spirals(3, 100, noise=0.2, seed=seed), hidden=(32, 16),
                        activations=("relu", "relu", "softmax")),
}


def _sgd(params, lr):
    from . import optim

    return optim.SGD(params, lr=lr)


def _momentum(params, lr):
    from . import optim

    return optim.SGD(params, lr=lr, momentum=0.9)


def _adam(params, lr):
    from . import optim

    return optim.Adam(params, lr=lr)


OPTIMIZERS = {"sgd": _sgd, "momentum": _momentum, "adam": _adam}


def load_split(spec: DemoSpec, seed: int, test_size=0.2):
    """The dataset split 80/20 (stratified) and standardised with the training part's statistics.

    Returns X_train, X_test, y_train, y_test.
    """
    X, y = spec.load(seed)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=test_size, seed=seed, stratify=True)
    scaler = data.StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_demo(args) -> int:
    """Train and report; ``args`` has dataset, epochs, lr, batch_size, optimizer, seed, out.

    ``epochs``, ``lr`` and ``batch_size`` may be None (the dataset's defaults). ``out``
    must be a writable folder (the command line checks it before calling). Returns 0.
    """
    from . import nn
    from .nn.functional import cross_entropy
    from .train import evaluate, fit

    spec = DATASETS[args.dataset]
    epochs = spec.epochs if args.epochs is None else args.epochs
    lr = spec.lr if args.lr is None else args.lr
    batch_size = spec.batch_size if args.batch_size is None else args.batch_size
    out = Path(args.out)

    manual_seed(args.seed)  # weight initialisation draws from the package generator
    X_train, X_test, y_train, y_test = load_split(spec, args.seed)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    sizes = spec.layer_sizes(X_train.shape[1], n_classes)
    model = nn.MLP(sizes, list(spec.activations))
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr)

    print(f"Dataset: {spec.name} ({spec.description}); {len(X_train)} training and {len(X_test)} test samples")
    print(f"Network: {sizes}, {', '.join(spec.activations)}; {args.optimizer} lr {lr:g}, "
          f"batch {batch_size}, {epochs} epochs, seed {args.seed}")
    print("Training Neural Network...")
    print(RULE)
    # Train on the logits: cross_entropy takes them (log-softmax inside, stable), and their
    # argmax is the argmax of the probabilities that model(x) returns.
    history = fit(model.logits, X_train, y_train, cross_entropy, optimizer, epochs, batch_size, seed=args.seed)
    train_result = evaluate(model.logits, X_train, y_train, cross_entropy)
    test_result = evaluate(model.logits, X_test, y_test, cross_entropy)
    print(RULE)
    print(f"Training Accuracy: {100 * train_result.accuracy:.2f}%")
    print(f"Testing Accuracy: {100 * test_result.accuracy:.2f}%")

    written = [_write_history(history, train_result, test_result, out / "history.json"),
               _write_weights(model, out / "weights.safetensors"),
               _write_gradient_report(model, X_train, y_train, cross_entropy, out / "gradients.txt")]
    written += _write_pictures(model, history, X_train, y_train, X_test, y_test, cross_entropy, out)
    print(f"Wrote to {out}/: " + ", ".join(path.name for path in written if path is not None))
    return 0


def _write_history(history, train_result, test_result, path: Path) -> Path:
    record = history.to_dict()
    record.update(train_accuracy=train_result.accuracy, test_accuracy=test_result.accuracy,
                  train_loss=train_result.loss, test_loss=test_result.loss)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


def _write_weights(model, path: Path) -> Path:
    from safetensors.numpy import save_file

    save_file({name: np.ascontiguousarray(value) for name, value in model.state_dict().items()}, str(path))
    return path


def _write_gradient_report(model, X, y, loss_fn, path: Path) -> Path:
    """One backward pass over the whole training set, then the report on the gradients it left."""
    from .engine.tensor import Tensor
    from .utils import gradient_report

    model.zero_grad()
    loss_fn(model.logits(Tensor(X)), y).backward()
    report = str(gradient_report(model))
    print(report)
    path.write_text(report + "\n", encoding="utf-8")
    model.zero_grad()
    return path


def _write_pictures(model, history, X_train, y_train, X_test, y_test, loss_fn, out: Path) -> list:
    from . import plots

    written = []
    if plots.have_matplotlib():
        if history.epochs:  # Ctrl-C during the first epoch leaves nothing to draw
            written.append(plots.plot_loss_curve(history, out / "loss_curve.png"))
        if X_train.shape[1] == 2:
            X_all = np.concatenate([X_train, X_test])
            y_all = np.concatenate([y_train, y_test])
            written.append(plots.plot_decision_boundary(_predictor(model), X_all, y_all, out / "decision_boundary.png"))
    else:
        print(f"Pictures skipped: {plots.INSTALL_HINT}")
    if shutil.which("dot") is not None:
        written.append(_write_step_graph(model, X_train, y_train, loss_fn, out / "training_step.svg"))
    else:
        print("Graph picture skipped: install Graphviz's `dot` program (the graphviz system package) to draw it")
    return written


def _predictor(model):
    from .engine.function import no_grad
    from .engine.tensor import Tensor

    def predict(points):
        with no_grad():
            return model.logits(Tensor(points)).data.argmax(axis=1)

    return predict


def _write_step_graph(model, X, y, loss_fn, path: Path) -> Path:
    """The graph of one training step (forward and loss on a small batch), as SVG."""
    import tinygrad_edu as tg
    from .engine.tensor import Tensor

    batch = slice(0, 4)  # a few rows: the graph's shape does not depend on the batch size
    loss = loss_fn(model.logits(Tensor(X[batch])), y[batch])
    tg.render_graph(loss, path, format="svg")
    return path
