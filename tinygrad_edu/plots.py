"""Training pictures: the loss curve (linear and log scale side by side), 2-D decision boundaries,
and for image models the learned filters and the misclassified images.

matplotlib is optional (``pip install "tinygrad_edu[plot]"``) and imported only
when a picture is drawn. Figures are built with matplotlib's object API, so no
window opens, no global backend is switched, and nothing is kept in pyplot's
figure list. Given a path, each function saves the figure there (atomically) and
returns the path; without one it returns the matplotlib ``Figure``, which a notebook
shows inline.
"""
from __future__ import annotations

import io
import os

import numpy as np

from .engine.tensor import Tensor
from .tools.atomic import write_atomic

__all__ = ["MissingDependencyError", "have_matplotlib", "plot_loss_curve", "plot_decision_boundary", "plot_filters",
           "plot_misclassified"]

INSTALL_HINT = "install matplotlib to get the pictures: pip install \"tinygrad_edu[plot]\""


class MissingDependencyError(ImportError):
    """An optional package needed for a picture is not installed; the message says what to install."""


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (the pictures need it; training does not)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width, height):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(INSTALL_HINT) from None
    return Figure(figsize=(width, height), dpi=100)


def _finish(fig, path):
    """Save ``fig`` to ``path`` atomically and return the path, or return the figure when there is no path.

    The format follows the suffix; a path without one gets ``.png``, as matplotlib does.
    """
    if path is None:
        return fig
    suffix = os.path.splitext(os.fspath(path))[1]
    if not suffix:
        path = os.fspath(path) + ".png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix[1:].lower() or "png")
    write_atomic(path, buffer.getvalue())
    return path


def _losses(history):
    """(training losses, validation losses) from a History, a dict, or a plain sequence of losses."""
    if hasattr(history, "loss"):
        return list(history.loss), list(getattr(history, "val_loss", []))
    if isinstance(history, dict):
        return list(history.get("loss", [])), list(history.get("val_loss", []))
    return list(history), []


def plot_loss_curve(history, path=None, title="Training progress"):
    """Save the loss per epoch twice, side by side: linear scale (left) and log scale (right).

    history  a ``train.History`` (validation loss is drawn too when present), its
             ``to_dict()``, or a sequence of losses
    path     output file; the format follows the suffix (.png, .svg, .pdf)

    Returns ``path``, or the Figure when ``path`` is None. Raises ``MissingDependencyError``
    without matplotlib.
    """
    losses, val_losses = _losses(history)
    if not losses:
        raise ValueError("plot_loss_curve: the history has no epochs to draw")
    fig = _figure(12, 5)
    epochs = np.arange(1, len(losses) + 1)
    for ax, log_scale in zip(fig.subplots(1, 2), (False, True)):
        ax.plot(epochs, losses, color="tab:blue" if not log_scale else "tab:red", linewidth=2, label="training")
        if val_losses:
            ax.plot(np.arange(1, len(val_losses) + 1), val_losses, color="tab:orange", linewidth=1.5,
                    linestyle="--", label="validation")
            ax.legend()
        if log_scale and min(losses + val_losses) > 0:
            ax.set_yscale("log")
        ax.set_title("Training loss (log scale)" if log_scale else "Training loss over time")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss")
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_decision_boundary(predict, X, y, path=None, resolution=200, title="Decision boundary", margin=1.0):
    """Save the classes ``predict`` assigns over the plane, with the samples on top.

    predict     callable: (m, 2) ndarray of points -> (m,) predicted class indices
                (or (m, classes) scores, reduced by argmax)
    X, y        (n, 2) samples and (n,) class indices (or one-hot rows)
    resolution  grid points per axis; the grid extends ``margin`` beyond the data

    Returns ``path``, or the Figure when ``path`` is None. Raises ``MissingDependencyError``
    without matplotlib.
    """
    X = np.asarray(X.data if isinstance(X, Tensor) else X)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (n, 2), got {X.shape}")
    if y.ndim == 2:
        y = y.argmax(axis=1)
    fig = _figure(10, 8)
    (x_min, y_min), (x_max, y_max) = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(X.dtype if X.dtype.kind == "f" else np.float64)
    predicted = predict(grid)
    predicted = np.asarray(predicted.data if isinstance(predicted, Tensor) else predicted)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    n_classes = int(max(predicted.max(), y.max())) + 1
    levels = np.arange(n_classes + 1) - 0.5  # one colour band per class index
    ax = fig.subplots()
    filled = ax.contourf(xx, yy, predicted.reshape(xx.shape), levels=levels, alpha=0.4, cmap="viridis")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="viridis", vmin=levels[0], vmax=levels[-1], edgecolors="black")
    ax.set_title(title)
    ax.set_xlabel("Feature 1")
    ax.set_ylabel("Feature 2")
    fig.colorbar(filled, ax=ax, label="Class", ticks=np.arange(n_classes))
    return _finish(fig, path)


def _grid(count, columns):
    """(rows, columns) of a grid that holds ``count`` small pictures, at most ``columns`` wide."""
    columns = max(1, min(columns, count))
    return -(-count // columns), columns


def _array(values):
    return np.asarray(values.data if isinstance(values, Tensor) else values)


def plot_filters(weight, path=None, title="Learned filters of the first convolution", columns=8):
    """Save each (kh, kw) kernel of a convolution's weight as a small image.

    weight  (out_channels, in_channels, kh, kw): a Conv2d's weight (or its ndarray); one
            row of images per input channel would crowd the picture, so each output
            channel shows its kernel summed over the input channels (exact for one channel)
    Each kernel is drawn on its own symmetric colour scale (blue negative, red positive),
    so the pattern it looks for is visible whatever its size.

    Returns ``path``, or the Figure when ``path`` is None. Raises ``MissingDependencyError``
    without matplotlib.
    """
    weight = _array(weight)
    if weight.ndim != 4:
        raise ValueError("plot_filters: weight must have shape (out_channels, in_channels, kh, kw), "
                         f"got {weight.shape}")
    kernels = weight.sum(axis=1)
    rows, cols = _grid(len(kernels), columns)
    fig = _figure(1.5 * cols, 1.6 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index < len(kernels):
            limit = float(np.abs(kernels[index]).max()) or 1.0
            ax.imshow(kernels[index], cmap="coolwarm", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"filter {index}", fontsize=8)
    fig.suptitle(title)
    return _finish(fig, path)


def plot_misclassified(images, true, predicted, path=None, title="Misclassified test images", columns=8, limit=32):
    """Save the images a model got wrong, each titled with its true and predicted label.

    images     (n, H, W) or (n, 1, H, W) grey images, the test set in its order
    true       (n,) class indices
    predicted  (n,) class indices, or (n, classes) scores (reduced by argmax)
    limit      at most this many are drawn (the first ones); the title counts them all

    With nothing misclassified the picture says so. Returns ``path``, or the Figure when
    ``path`` is None. Raises ``MissingDependencyError`` without matplotlib.
    """
    images, true, predicted = _array(images), _array(true), _array(predicted)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"plot_misclassified: images must have shape (n, H, W) or (n, 1, H, W), got {images.shape}")
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    if not len(images) == len(true) == len(predicted):
        raise ValueError(f"plot_misclassified: {len(images)} images, {len(true)} labels and {len(predicted)} "
                         "predictions must be as many")
    wrong = np.flatnonzero(true != predicted)
    shown = wrong[:limit]
    rows, cols = _grid(max(len(shown), 1), columns)
    fig = _figure(1.5 * cols, 1.7 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, index in zip(axes, shown):
        ax.imshow(images[index], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"true {true[index]}, got {predicted[index]}", fontsize=8, color="tab:red")
    if not len(wrong):
        axes[0].text(0.5, 0.5, "none: every image\nis classified correctly", ha="center", va="center")
    shown_note = f" (first {len(shown)} shown)" if len(shown) < len(wrong) else ""
    fig.suptitle(f"{title}: {len(wrong)} of {len(images)}{shown_note}")
    return _finish(fig, path)
