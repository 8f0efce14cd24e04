"""SGD, SGD with momentum and Adam on the same network, data and starting weights.

    python examples/optimizers.py [--epochs N] [--out PICTURE]

Prints each optimizer's final loss and, with matplotlib, draws the three loss
curves in one picture (default optimizers.png), linear and log scale.
"""
import argparse

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, plots
from tinygrad_edu.data import StandardScaler
from tinygrad_edu.datasets import make_spirals
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import fit

OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.05),
    "SGD + momentum 0.9": lambda params: optim.SGD(params, lr=0.05, momentum=0.9),
    "Adam": lambda params: optim.Adam(params, lr=0.01),
}


def main(epochs=200, out="optimizers.png"):
    """Train one network per optimizer; returns {optimizer name: loss per epoch}."""
    X, y = make_spirals(3, 100, noise=0.2, seed=0)
    X = StandardScaler().fit_transform(X)
    losses = {}
    for name, make_optimizer in OPTIMIZERS.items():
        tg.manual_seed(0)  # the same starting weights for every optimizer
        network = nn.MLP([2, 32, 32, 3], ["relu", "relu", "softmax"])
        history = fit(network.logits, X, y, cross_entropy, make_optimizer(network.parameters()), epochs,
                      batch_size=32, seed=0, verbose=False)
        losses[name] = history.loss
        print(f"{name:20s} final loss {history.loss[-1]:.4f}")

    if plots.have_matplotlib():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(12, 5))
        for axes, scale in zip(figure.subplots(1, 2), ("linear", "log")):
            for name, curve in losses.items():
                axes.plot(range(1, len(curve) + 1), curve, label=name)
            axes.set_yscale(scale)
            axes.set(xlabel="Epoch", ylabel="Cross-entropy loss", title=f"{scale} scale")
            axes.grid(True, alpha=0.3)
            axes.legend()
        figure.tight_layout()
        figure.savefig(out)
        print(f"Wrote {out}")
    else:
        print(f"No picture: {plots.INSTALL_HINT}")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default="optimizers.png")
    main(**vars(parser.parse_args()))
