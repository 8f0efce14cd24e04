"""Utilities for looking inside a training run: the gradient-flow report.

Examples:
    >>> import numpy as np, tinygrad_edu as tg
    >>> model = tg.nn.MLP([4, 8, 3])
    >>> x, y = np.ones((2, 4), dtype=np.float32), np.array([0, 2])
    >>> tg.nn.functional.cross_entropy(model.logits(x), y).backward()
    >>> report = tg.utils.gradient_report(model)
    >>> [row.name for row in report][:2]
    ['layers.0.weight', 'layers.0.bias']
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tools.health import EXPLODING_MAX_ABS, VANISHING_MEAN_ABS, classify

__all__ = ["GradientStats", "GradientReport", "gradient_report"]


@dataclass(frozen=True)
class GradientStats:
    """One parameter's gradient: mean |g|, max |g|, std of g and its status.

    status is 'nan' or 'inf' when any entry is NaN or infinite (checked first), then
    'vanishing' (mean |g| < 1e-7), 'exploding' (max |g| > 1000), 'ok', or 'no grad'
    when the parameter has no gradient (the statistics are then NaN).
    """

    name: str
    shape: tuple
    mean_abs: float
    max_abs: float
    std: float
    status: str

    @property
    def vanishing(self) -> bool:
        """True when mean |grad| is below the vanishing threshold (1e-7)."""
        return self.status == "vanishing"

    @property
    def exploding(self) -> bool:
        """True when max |grad| is above the exploding threshold (1000)."""
        return self.status == "exploding"


_UNFLAGGED = ("ok", "no grad")


class GradientReport(list):
    """A list of ``GradientStats`` (one per parameter) that prints as a table."""

    @property
    def flagged(self) -> list:
        """The rows whose gradient vanishes, explodes, or holds NaN or Inf."""
        return [row for row in self if row.status not in _UNFLAGGED]

    def __str__(self):
        header = ("parameter", "shape", "mean |grad|", "max |grad|", "std", "status")
        rows = [(r.name, str(r.shape), f"{r.mean_abs:.3e}", f"{r.max_abs:.3e}", f"{r.std:.3e}",
                 r.status if r.status in _UNFLAGGED else f"{r.status.upper()}!") for r in self]
        widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]
        title = (f"Gradient flow (vanishing: mean |grad| < {VANISHING_MEAN_ABS:g}; "
                 f"exploding: max |grad| > {EXPLODING_MAX_ABS:g})")
        lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        return "\n".join(lines)

    def __repr__(self):
        return f"GradientReport({len(self)} parameters, {len(self.flagged)} flagged)"


def _named(model):
    """(name, tensor) pairs from a Module, a dict, or an iterable of tensors or pairs."""
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, dict):
        return list(model.items())
    items = list(model)
    return [item if isinstance(item, tuple) else (f"param{i}", item) for i, item in enumerate(items)]


def gradient_report(model) -> GradientReport:
    """Per-parameter gradient statistics after ``backward()``, flagged with the tutorial's thresholds.

    model: a Module, a dict name -> tensor, or an iterable of tensors (or (name, tensor) pairs).
    ``print(gradient_report(model))`` shows a table; each row is a ``GradientStats``.
    """
    report = GradientReport()
    for name, param in _named(model):
        grad = getattr(param, "grad", None)
        if grad is None:
            nan = float("nan")
            report.append(GradientStats(name, tuple(param.shape), nan, nan, nan, "no grad"))
            continue
        g = np.asarray(grad.data, dtype=np.float64)
        magnitude = np.abs(g)
        with np.errstate(invalid="ignore", over="ignore"):  # a NaN or Inf gradient says so in its status
            report.append(GradientStats(
                name=name,
                shape=tuple(g.shape),
                mean_abs=float(magnitude.mean()) if g.size else 0.0,
                max_abs=float(magnitude.max()) if g.size else 0.0,
                std=float(g.std()) if g.size else 0.0,
                status=classify(g),
            ))
    return report
