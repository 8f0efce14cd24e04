"""Gradient-check everything: every op in the registry, then every module check.

This is what ``tinygrad-edu gradcheck`` runs. Each op is checked at fixed,
seeded float64 inputs (``opspec.sample_inputs``): first derivatives always,
second derivatives where the op's row says so. A check that raises counts as
a failure, with the exception as its message, so one broken op cannot hide
the others.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.tensor import Tensor
from . import opspec
from .gradcheck import check_gradients, check_second_order


@dataclass
class SweepRow:
    """One line of the report: what was checked, the worst errors, and the verdict."""

    name: str
    kind: str  # "op", "module" or "loss"
    orders: str  # "1st" or "1st+2nd"
    max_abs_error: float
    max_rel_error: float
    passed: bool
    message: str = "ok"


def _check(name, kind, fn, arrays, second_order) -> SweepRow:
    orders = "1st+2nd" if second_order else "1st"
    try:
        inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
        results = [check_gradients(fn, inputs)]
        if second_order:
            results.append(check_second_order(fn, inputs))
    except Exception as error:  # a crash is a failure to report, not a reason to stop the sweep
        return SweepRow(name, kind, orders, float("nan"), float("nan"), False, f"{type(error).__name__}: {error}")
    failures = [r.message for r in results if not r.passed]
    return SweepRow(name, kind, orders, max(r.max_abs_error for r in results),
                    max(r.max_rel_error for r in results), not failures, "; ".join(failures) or "ok")


def op_rows(only=None, seed=0):
    """Check each op of ``opspec.REGISTRY`` (or just those named in ``only``)."""
    for spec in opspec.REGISTRY:
        if only is not None and spec.name not in only:
            continue
        arrays, extra = opspec.sample_inputs(spec, np.random.default_rng(seed))

        def fn(*tensors, _spec=spec, _extra=extra):
            return _spec.fn(*tensors, **_extra)

        yield _check(spec.name, "op", fn, arrays, spec.second_order)


def module_rows(only=None, seed=0):
    """Check each row of ``opspec.MODULE_CHECKS`` (or just those named in ``only``)."""
    for check in opspec.MODULE_CHECKS:
        if only is not None and check.name not in only:
            continue
        try:
            fn, arrays = check.build(np.random.default_rng(seed))
        except Exception as error:
            yield SweepRow(check.name, check.kind, "-", float("nan"), float("nan"), False,
                           f"could not build the check: {type(error).__name__}: {error}")
            continue
        yield _check(check.name, check.kind, fn, arrays, check.second_order)


def known_names():
    """Every name ``only`` may contain."""
    return [spec.name for spec in opspec.REGISTRY] + [check.name for check in opspec.MODULE_CHECKS]


def sweep(only=None, seed=0):
    """All op rows, then all module rows, as a list of ``SweepRow``."""
    return list(op_rows(only, seed)) + list(module_rows(only, seed))


def format_table(rows) -> str:
    """The report: one aligned line per check, then the messages of any failures."""
    header = ("check", "kind", "orders", "max abs error", "max rel error", "result")
    lines = [(r.name, r.kind, r.orders, f"{r.max_abs_error:.2e}", f"{r.max_rel_error:.2e}",
              "PASS" if r.passed else "FAIL") for r in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *lines]]
    out.insert(1, "  ".join("-" * w for w in widths))
    failed = [r for r in rows if not r.passed]
    out.append("")
    if failed:
        out.append(f"{len(failed)} of {len(rows)} checks FAILED:")
        out.extend(f"  {r.name}: {r.message}" for r in failed)
    else:
        out.append(f"all {len(rows)} checks passed")
    return "\n".join(out)
