"""``tinygrad-edu demo``: train a network on a bundled dataset, on the graph engine, and show what happened.

The run, top to bottom: load the data, split it 80/20 (stratified, seeded),
prepare it with what the training part alone says (standardise the features, or
scale the pixels), build the model, train it with ``train.fit`` (the tutorial's
log lines), print the training and test accuracy, then write to the output folder:

    loss_curve.png          loss per epoch, linear and log scale side by side
    training_step.svg       the graph of one training step, with the gradients it sent back
    backprop.html           the same step in the backprop explorer, to click through
    gradients.txt           the gradient-flow report after training (also printed)
    weights.safetensors     the trained parameters and buffers
    model.onnx              the trained model as ONNX, for other runtimes (needs the onnx extra)
    history.json            the settings, the loss and accuracy per epoch, the final accuracies

and the dataset's own pictures: the decision boundary for 2-D data, the learned
filters and the misclassified test images for the digits.

Each dataset is one row of ``DATASETS``: how to load, prepare and model it, its
training defaults and its extra pictures. The default row, iris, is the
tutorial's: [4, 16, 8, 3], relu, relu, softmax, cross-entropy, SGD lr 0.1,
batch 16, 1000 epochs. Pictures need matplotlib and Graphviz's ``dot``: without
them the demo still trains, and one line says what to install.

The same seed gives the same numbers: it picks the split, the initial weights and
the shuffling order. ``DEFAULT_SEED`` is 2: on iris it gives 96.67% test accuracy
(the tutorial's figure). The test set holds only 30 flowers, so one flower is
3.33 points; over seeds 0-9 the test accuracy ranges from 86.67% to 100%.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import data, datasets, nn, optim, plots
from . import onnx as onnx_export
from .engine.function import no_grad
from .engine.random import manual_seed
from .engine.tensor import Tensor
from .nn.functional import cross_entropy
from .tools.atomic import write_atomic
from .train import History, evaluate, fit

RULE = "-" * 50  # the tutorial's separator line
DEFAULT_SEED = 2
DEFAULT_OUT = "tinygrad_edu_out"


@dataclass(frozen=True)
class Tool:
    """Something a picture needs that may be missing: how to tell, and what to install."""

    available: Callable
    install: str


TOOLS = {
    "matplotlib": Tool(plots.have_matplotlib, 'matplotlib (pip install "tinygrad_edu[plot]")'),
    "dot": Tool(lambda: shutil.which("dot") is not None,
                "Graphviz's dot program (apt-get install graphviz, brew install graphviz or conda install graphviz)"),
    "onnx": Tool(onnx_export.have_onnx, 'onnx (pip install "tinygrad_edu[onnx]")'),
}


# ---------------------------------------------------------------------------- one finished run


@dataclass
class DemoRun:
    """What a training run leaves behind: everything a report or a picture may need."""

    spec: "DemoSpec"
    settings: dict
    model: nn.Module
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    history: History
    train_accuracy: float
    test_accuracy: float
    written: list = field(default_factory=list)

    @property
    def scores(self):
        """What the loss is computed from: the model's ``logits`` when it has them (see ``scores_of``)."""
        return scores_of(self.model)

    def predict(self, X) -> np.ndarray:
        """Class indices (n,) for the rows of X, without recording a graph."""
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                return self.scores(Tensor._make(X)).data.argmax(axis=1)
        finally:
            self.model.train(was_training)


def scores_of(model):
    """What the loss is computed from: the scores before the output softmax.

    The tutorial's MLP returns probabilities (``model(x)``); ``cross_entropy`` wants
    the logits (it takes the log-softmax itself, stably), so a model with a ``logits``
    method is trained through it. Their argmax is the same class.
    """
    return getattr(model, "logits", model)


# ---------------------------------------------------------------------------- pictures


@dataclass(frozen=True)
class Picture:
    """A picture of a finished run: its file name, ``draw(run, path) -> path``, and the tool it needs."""

    filename: str
    draw: Callable
    tool: str = "matplotlib"


def _loss_curve(run, path):
    return plots.plot_loss_curve(run.history, path, title=f"Training progress: {run.spec.name}")


def _decision_boundary(run, path):
    X = np.concatenate([run.X_train, run.X_test])
    y = np.concatenate([run.y_train, run.y_test])
    return plots.plot_decision_boundary(run.predict, X, y, path, title=f"Decision boundary: {run.spec.name}")


def _first_conv(model):
    return next(module for _, module in model.named_modules() if isinstance(module, nn.Conv2d))


def _conv_filters(run, path):
    return plots.plot_filters(_first_conv(run.model).weight, path)


def _misclassified(run, path):
    return plots.plot_misclassified(run.X_test, run.y_test, run.predict(run.X_test), path,
                                    title="Misclassified test digits")


def _step_loss(run):
    """The loss of one training step on four training samples (the graph's shape does not depend on the batch size)."""
    from .tools.trace import step_loss

    rows = slice(0, 4)
    return step_loss(run.scores, Tensor(run.X_train[rows], name="x"), run.y_train[rows], cross_entropy)


def _step_graph(run, path):
    """The graph of one training step: forward, loss, and the gradients sent back."""
    from .tools.trace import traced_graph
    from .tools.viz import write_picture

    digraph = traced_graph(_step_loss(run), params=run.model)
    run.model.zero_grad()
    return write_picture(digraph, path)


def _explorer(run, path):
    """The backprop explorer of the same training step: a page to click through its backward pass."""
    from .tools.explorer import render_explorer

    written = render_explorer(_step_loss(run), path, params=run.model)
    run.model.zero_grad()
    return written


LOSS_CURVE = Picture("loss_curve.png", _loss_curve)
STEP_GRAPH = Picture("training_step.svg", _step_graph, tool="dot")
EXPLORER = Picture("backprop.html", _explorer, tool="dot")
DECISION_BOUNDARY = Picture("decision_boundary.png", _decision_boundary)
CONV_FILTERS = Picture("filters.png", _conv_filters)
MISCLASSIFIED = Picture("misclassified.png", _misclassified)


# ---------------------------------------------------------------------------- the datasets


def standardise(X_train, X_test):
    """Each feature to mean 0, std 1 with the training part's statistics (the test part must not leak in)."""
    scaler = data.StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def digit_images(X_train, X_test):
    """Pixel counts 0..16 scaled to [0, 1] and shaped (n, 1, 8, 8): one grey channel for Conv2d."""
    return (X_train / 16.0)[:, None], (X_test / 16.0)[:, None]


def digits_cnn() -> nn.Module:
    """A small convolutional network for 8x8 digits: (n, 1, 8, 8) -> (n, 10) scores."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8 feature maps of 4x4
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),  # 16 feature maps of 4x4
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10, init="xavier"),
    )


@dataclass(frozen=True)
class DemoSpec:
    """One dataset the demo can train on.

    load         ``load(seed) -> (X, y)``: samples and int class indices (n,)
    prepare      ``prepare(X_train, X_test) -> (X_train, X_test)``: scaling and shaping,
                 fitted on the training part only
    build_model  ``build_model() -> Module``; trained through ``model.logits`` when it has one
    network      one line describing the model, for the log
    optimizer, epochs, lr, batch_size   defaults when the command line does not give them
    pictures     the dataset's own pictures, after the loss curve
    """

    name: str
    description: str
    load: Callable
    prepare: Callable
    build_model: Callable
    network: str
    optimizer: str = "sgd"
    epochs: int = 1000
    lr: float = 0.1
    batch_size: int = 16
    pictures: tuple = ()


DATASETS = {
    # The tutorial's network: [4, 16, 8, 3], relu, relu, softmax; SGD lr 0.1, batch 16, 1000 epochs.
    "iris": DemoSpec(
        "iris", "Fisher's iris flowers: 4 measurements, 3 species",
        load=lambda seed: datasets.load_iris(), prepare=standardise,
        build_model=lambda: nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"]),
        network="MLP [4, 16, 8, 3], relu, relu, softmax"),
    "moons": DemoSpec(
        "moons", "two interleaving half circles in the plane",
        load=lambda seed: datasets.make_moons(200, noise=0.2, seed=seed), prepare=standardise,
        build_model=lambda: nn.MLP([2, 16, 8, 2], ["relu", "relu", "softmax"]),
        network="MLP [2, 16, 8, 2], relu, relu, softmax", epochs=300, pictures=(DECISION_BOUNDARY,)),
    "spirals": DemoSpec(
        "spirals", "three spiral arms in the plane",
        load=lambda seed: datasets.make_spirals(3, 100, noise=0.2, seed=seed), prepare=standardise,
        build_model=lambda: nn.MLP([2, 32, 16, 3], ["relu", "relu", "softmax"]),
        network="MLP [2, 32, 16, 3], relu, relu, softmax", optimizer="adam", epochs=500, lr=0.01,
        pictures=(DECISION_BOUNDARY,)),
    "digits": DemoSpec(
        "digits", "1,797 handwritten digits, 8x8 grey pixels",
        load=lambda seed: datasets.load_digits(images=True), prepare=digit_images, build_model=digits_cnn,
        network="CNN conv 3x3 (8) > relu > maxpool 2 > conv 3x3 (16) > relu > flatten > linear (256 -> 10)",
        optimizer="adam", epochs=30, lr=0.003, batch_size=32, pictures=(CONV_FILTERS, MISCLASSIFIED)),
}

OPTIMIZERS = {
    "sgd": lambda params, lr: optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
    "adam": lambda params, lr: optim.Adam(params, lr=lr),
}
OPTIMIZER_HELP = "sgd (the tutorial's), momentum (SGD with momentum 0.9) or adam"


def load_split(spec: DemoSpec, seed: int, test_size=0.2):
    """The dataset split (stratified, seeded) and prepared with the training part's statistics.

    Returns X_train, X_test, y_train, y_test.
    """
    X, y = spec.load(seed)
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=test_size, seed=seed, stratify=True)
    X_train, X_test = spec.prepare(X_train, X_test)
    return X_train, X_test, y_train, y_test


# ---------------------------------------------------------------------------- the run


def train(dataset="iris", *, epochs=None, lr=None, batch_size=None, optimizer=None, seed=DEFAULT_SEED,
          verbose=True, compile=False) -> DemoRun:
    """Load, split, prepare, build and train; print the tutorial's log; return the ``DemoRun``.

    ``epochs``, ``lr``, ``batch_size`` and ``optimizer`` default (None) to the dataset's row;
    ``compile=True`` trains with ``fit(..., compile=True)`` (the same numbers, faster).
    """
    spec = DATASETS[dataset]
    settings = {"dataset": spec.name, "network": spec.network, "optimizer": optimizer or spec.optimizer,
                "lr": spec.lr if lr is None else lr,
                "batch_size": spec.batch_size if batch_size is None else batch_size,
                "epochs": spec.epochs if epochs is None else epochs, "seed": seed}
    manual_seed(seed)  # the initial weights draw from the package generator
    X_train, X_test, y_train, y_test = load_split(spec, seed)
    model = spec.build_model()
    scores = scores_of(model)
    optimizer = OPTIMIZERS[settings["optimizer"]](model.parameters(), settings["lr"])
    say = print if verbose else _silent
    say(f"Dataset: {spec.name} ({spec.description}); {len(X_train)} training and {len(X_test)} test samples")
    say(f"Network: {spec.network}; {settings['optimizer']} lr {settings['lr']:g}, batch {settings['batch_size']}, "
        f"{settings['epochs']} epochs, seed {seed}")
    say("Training Neural Network...")
    say(RULE)
    # ten progress lines a run: every 100 epochs of the tutorial's 1000
    log_every = max(1, settings["epochs"] // 10)
    history = fit(scores, X_train, y_train, cross_entropy, optimizer, settings["epochs"], settings["batch_size"],
                  seed=seed, verbose=verbose, log_every=log_every, compile=compile)
    train_accuracy = evaluate(scores, X_train, y_train).accuracy
    test_accuracy = evaluate(scores, X_test, y_test).accuracy
    say(RULE)
    say(f"Training Accuracy: {100 * train_accuracy:.2f}%")
    say(f"Testing Accuracy: {100 * test_accuracy:.2f}%")
    return DemoRun(spec, settings, model, X_train, X_test, y_train, y_test, history, train_accuracy, test_accuracy)


def _silent(*args, **kwargs):
    pass


def run_demo(dataset="iris", out=DEFAULT_OUT, **options) -> DemoRun:
    """``train(dataset, **options)``, then write the reports and pictures to the folder ``out``.

    ``out`` is created if needed (the command line checks that it is writable before
    training). Every file is written atomically. Pictures whose tool is missing are
    skipped, and one line says what to install. When Ctrl-C stopped training
    (``run.history.interrupted``), what the completed epochs give is written all the
    same, and the line naming the files says so.
    """
    run = train(dataset, **options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run.written += [_write_history(run, out / "history.json"), _write_weights(run, out / "weights.safetensors"),
                    _write_gradient_report(run, out / "gradients.txt")]
    have_onnx = TOOLS["onnx"].available()
    if have_onnx:  # model(x): the MLPs' probabilities, the CNN's scores; any batch size
        run.written.append(onnx_export.export(run.model, run.X_train[:1], out / "model.onnx"))
    skipped = {}  # what to install -> the pictures it would draw
    pictures = (LOSS_CURVE,) if run.history.epochs else ()  # no curve without a completed epoch
    for picture in (*pictures, *run.spec.pictures, STEP_GRAPH, EXPLORER):
        tool = TOOLS[picture.tool]
        if tool.available():
            run.written.append(picture.draw(run, out / picture.filename))
        else:
            skipped.setdefault(tool.install, []).append(picture.filename)
    files = ", ".join(Path(path).name for path in run.written)
    if run.history.interrupted:
        print(f"Interrupted after {run.history.epochs} of {run.settings['epochs']} epochs; "
              f"wrote what the completed epochs give to {out}: {files}")
    else:
        print(f"Wrote to {out}: {files}")
    if skipped:
        names = [name for names in skipped.values() for name in names]
        print(f"Pictures skipped ({', '.join(names)}): install {' and '.join(skipped)} to get them")
    if not have_onnx:
        print(f"ONNX file skipped (model.onnx): install {TOOLS['onnx'].install} to get it")
    return run


def _write_history(run: DemoRun, path: Path) -> Path:
    """The settings and the history as strict JSON: a NaN or infinite loss is written as null."""
    record = {"settings": run.settings, **run.history.to_dict(),
              "train_accuracy": run.train_accuracy, "test_accuracy": run.test_accuracy}
    write_atomic(path, (json.dumps(_finite_or_null(record), indent=1, allow_nan=False) + "\n").encode("utf-8"))
    return path


def _finite_or_null(value):
    """``value`` with every NaN or infinite float (in dicts and lists) replaced by None."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_weights(run: DemoRun, path: Path) -> Path:
    """The trained state dict as a checkpoint (``tg.load`` reads it back; any safetensors reader opens it)."""
    from .tools.checkpoint import save

    save({"model": run.model.state_dict(), "dataset": run.spec.name, "network": run.spec.network}, path)
    return path


def _write_gradient_report(run: DemoRun, path: Path) -> Path:
    """One backward pass over the whole training set, then the report on the gradients it left."""
    from .utils import gradient_report

    run.model.zero_grad()
    cross_entropy(run.scores(Tensor._make(run.X_train)), run.y_train).backward()
    report = str(gradient_report(run.model))
    run.model.zero_grad()
    print(f"\n{report}\n")
    write_atomic(path, (report + "\n").encode("utf-8"))
    return path
