"""Benchmarks: ``tinygrad-edu bench [--quick] [--scenarios A,B,C,D,E] [--json PATH] [--threads N] [--check-fair]``.

(``python -m tinygrad_edu.bench`` takes the same options.)

Scenarios A, B and C time one training step (forward, cross-entropy, backward, SGD
update) of a multi-layer perceptron at three sizes; D the overhead of recording one
op; E backward through long chains, and the peak memory of a C step (``scenarios``).

Each case is done by several implementations (``steps``): the *floor*, the least
work plain NumPy can do for it, written by hand with no graph; the tutorial's
reference network (training steps only); tinygrad_edu, eager and compiled with
``tg.compile``; and PyTorch when it is importable. Every implementation is timed in its own worker process, one at a time,
with the same thread count (``harness``); ``--check-fair`` shows that each figure
is within 10% of the same step timed alone. The report gives the median repeat and
its ratio to the floor and to PyTorch.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .. import __version__
from ..tools.argtypes import positive_int
from ..tools.atomic import write_atomic
from .harness import FAIR_TOLERANCE, Case, Worker, WorkerError, is_fair, measure_case
from .scenarios import CHAIN_SIZES, SCENARIOS, Scenario
from .steps import COMPILED, FLOOR, OURS, REFERENCE, STEPS, TORCH, Problem, make_problem, step_implementations, step_names

__all__ = [
    "BenchError", "Case", "Result", "Scenario", "SCENARIOS", "CHAIN_SIZES", "Problem", "make_problem",
    "step_implementations", "step_names", "FLOOR", "REFERENCE", "OURS", "COMPILED", "TORCH", "WorkerError",
    "add_arguments", "check_json_path", "run", "main",
]

# (repeats, shortest repeat in seconds): the full run, and --quick
FULL_RUN = (7, 0.05)
QUICK_RUN = (3, 0.002)


class BenchError(ValueError):
    """Bad options: an unknown scenario, a thread count that is not a whole number."""


@dataclass
class Result:
    """The figures of one implementation in one case."""

    scenario: str
    case: str
    implementation: str
    median_s: Optional[float] = None
    repeats_s: List[float] = field(default_factory=list)
    calls_per_repeat: int = 0
    ratio_to_floor: Optional[float] = None
    ratio_to_torch: Optional[float] = None
    peak_bytes: Optional[int] = None
    peak_ratio_to_floor: Optional[float] = None
    size: Optional[int] = None
    alone_median_s: Optional[float] = None  # --check-fair: the same step timed alone
    ratio_to_alone: Optional[float] = None
    fair: Optional[bool] = None  # --check-fair: within FAIR_TOLERANCE of alone


# ----------------------------------------------------------------------------- running


def default_threads() -> int:
    """The thread count the environment asks for (OPENBLAS/OMP/MKL_NUM_THREADS), else one per CPU."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def load_average() -> Optional[float]:
    """The machine's one-minute load average (None where the system has none): other work makes figures noisy."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def environment(threads: int, workers: Dict[str, Worker]) -> Dict[str, object]:
    """Versions, the machine, its load, and what each worker reports of its threads and BLAS kernel."""
    about = {name: worker.ask(op="about") for name, worker in workers.items()}
    torch = next((a["torch"] for a in about.values() if a["torch"]), None)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": next(iter(about.values()))["blas"] if about else "unknown",
        "threads": threads,
        "torch": torch,
        "tinygrad_edu": __version__,
        "workers": about,
        "load_average": load_average(),
        "blas_environment": {k: v for k, v in sorted(os.environ.items())
                             if k.startswith(("OPENBLAS_", "OMP_", "MKL_")) and k not in ("OMP_NUM_THREADS",
                                                                                      "OPENBLAS_NUM_THREADS",
                                                                                      "MKL_NUM_THREADS")},
    }


def _fill_ratios(results: List[Result], floor: str) -> None:
    by_name = {r.implementation: r for r in results}
    base, torch = by_name.get(floor), by_name.get(TORCH)
    for r in results:
        if base is not None and base.median_s and r.median_s is not None:
            r.ratio_to_floor = r.median_s / base.median_s
        if torch is not None and torch.median_s and r.median_s is not None:
            r.ratio_to_torch = r.median_s / torch.median_s
        if base is not None and base.peak_bytes and r.peak_bytes is not None:
            r.peak_ratio_to_floor = r.peak_bytes / base.peak_bytes
        if r.alone_median_s:
            r.ratio_to_alone = r.median_s / r.alone_median_s
            r.fair = is_fair(r.median_s, r.alone_median_s)


def _selected(case: Case, implementations) -> Case:
    """The case with only the implementations asked for (all when ``implementations`` is None)."""
    if implementations is None:
        return case
    return dataclasses.replace(case, implementations={name: build for name, build in case.implementations.items()
                                                      if name in implementations})


def run_scenario(scenario: Scenario, workers: Dict[str, Worker], quick: bool, threads: int,
                 check_fair: bool = False, implementations=None, repeats: Optional[int] = None) -> tuple:
    """(results, derived figures) of one scenario, its cases measured by ``workers``.

    ``implementations``: the names to time (default: every one a case has);
    ``repeats``: timed repeats per figure (default: 7, or 3 for a quick run).
    """
    default_repeats, min_repeat_s = QUICK_RUN if quick else FULL_RUN
    repeats = repeats or default_repeats
    results: List[Result] = []
    for position, case in enumerate(scenario.build(quick)):
        case = _selected(case, implementations)
        if not case.implementations:
            continue
        where = {"scenario": scenario.key, "case": position, "quick": quick}
        timings = measure_case(case, where, workers, repeats, min_repeat_s, threads, check_fair)
        rows = []
        for name, timing in timings.items():
            rows.append(Result(scenario.key, case.name, name, timing.median_s, timing.repeats_s or [],
                               timing.calls_per_repeat, peak_bytes=timing.peak_bytes, size=case.size,
                               alone_median_s=timing.alone_median_s))
        _fill_ratios(rows, case.floor)
        results += rows
    figures = scenario.summarize(results) if scenario.summarize else {}
    return results, figures


# ----------------------------------------------------------------------------- report


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _ratio(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _threads(count) -> str:
    return "? threads" if count is None else f"{count} thread{'' if count == 1 else 's'}"


def _bytes(value: Optional[int]) -> str:
    return "-" if value is None else f"{value / 2**20:.2f} MiB"


def _worker_line(name: str, about: dict) -> str:
    kernel = f", {about['blas_kernel']} kernels" if about.get("blas_kernel") else ""
    line = f"  {name}: BLAS {_threads(about['blas_threads'])}{kernel}"
    if about.get("torch_threads") is not None:
        line += f"; torch {about['torch']} {_threads(about['torch_threads'])}"
    return line


def format_report(env: Dict[str, object], results: List[Result], figures: Dict[str, Dict[str, object]],
                  quick: bool) -> str:
    """The table: one row per implementation and case, then the derived figures."""
    repeats = env.get("repeats") or (QUICK_RUN if quick else FULL_RUN)[0]
    lines = [
        f"tinygrad_edu {env['tinygrad_edu']} benchmark{' (quick)' if quick else ''}: median of {repeats} "
        f"repeats; each implementation in its own process, one at a time, {_threads(env['threads'])} each",
        f"numpy {env['numpy']} (BLAS {env['blas']}), torch {env['torch'] or 'not installed'}, "
        f"Python {env['python']}, {env['cpu_count']} CPUs ({env['processor']})",
    ]
    lines += [_worker_line(name, about) for name, about in env["workers"].items()]
    allocator = next(iter(env["workers"].values()), {}).get("allocator") or {}
    if allocator:
        lines.append("every worker: " + " ".join(f"{k}={v}" for k, v in allocator.items()) + " (steady allocation)")
    if env.get("load_average") is not None:
        lines.append(f"load average {env['load_average']:.2f} at the start, {env['load_average_after']:.2f} at the end "
                     f"(other work on the machine makes figures noisy)")
    if env["blas_environment"]:
        lines.append("environment: " + " ".join(f"{k}={v}" for k, v in env["blas_environment"].items()))
    checked = any(r.alone_median_s for r in results)
    header = ["scenario", "case", "implementation", "median", "/ floor", "/ torch"]
    columns = [lambda r: _seconds(r.median_s), lambda r: _ratio(r.ratio_to_floor), lambda r: _ratio(r.ratio_to_torch)]
    if checked:
        header += ["alone", "/ alone"]
        columns += [lambda r: _seconds(r.alone_median_s),
                    lambda r: "-" if r.ratio_to_alone is None else f"{r.ratio_to_alone:.2f}" + ("" if r.fair else " !")]
    if any(r.peak_bytes is not None for r in results):
        header.append("peak memory")
        columns.append(lambda r: _bytes(r.peak_bytes))
    rows, previous = [header], None
    for r in results:
        new_case = (r.scenario, r.case) != previous
        previous = (r.scenario, r.case)
        rows.append([r.scenario if new_case else "", r.case if new_case else "", r.implementation]
                    + [column(r) for column in columns])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    for key, values in figures.items():
        for name, value in values.items():
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            lines.append(f"{key}: {name} = {shown}")
    if checked:
        lines.append(fairness_summary(results))
    return "\n".join(lines)


def fairness_summary(results: List[Result]) -> str:
    """One line: how many figures are within the tolerance of the same step timed alone, and which are not."""
    checked = [r for r in results if r.fair is not None]
    unfair = [r for r in checked if not r.fair]
    line = (f"fair: {len(checked) - len(unfair)} of {len(checked)} figures within {FAIR_TOLERANCE:.0%} "
            f"of the same step timed alone")
    if unfair:
        line += "; not: " + "; ".join(f"{r.scenario} {r.case} {r.implementation} ({r.ratio_to_alone:.2f})"
                                     for r in unfair)
    return line


# ----------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``tinygrad-edu bench`` and ``python -m tinygrad_edu.bench``)."""
    parser.add_argument("--quick", action="store_true", help="a reduced run that takes a few seconds")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), metavar="KEYS",
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="threads for every library (default: OPENBLAS/OMP/MKL_NUM_THREADS, else one per CPU)")
    parser.add_argument("--repeats", type=positive_int, metavar="N",
                        help=f"timed repeats per figure, the median is reported (default: {FULL_RUN[0]}; "
                             f"--quick: {QUICK_RUN[0]}); more steady the figures on a busy machine")
    parser.add_argument("--implementations", metavar="NAMES",
                        help=f"comma-separated subset of {','.join(STEPS)} (default: all that can run here)")
    parser.add_argument("--check-fair", action="store_true",
                        help=f"also time each step alone in a fresh process; exit 1 if a figure is more than "
                             f"{FAIR_TOLERANCE:.0%} off")


def scenario_keys(text: str) -> List[str]:
    """'a, c' -> ['A', 'C']; a BenchError names any unknown key."""
    keys = [k.strip().upper() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SCENARIOS]
    if unknown or not keys:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise BenchError(f"unknown scenario(s) {shown}; available: {', '.join(SCENARIOS)}")
    return keys


def implementation_names(text: Optional[str]) -> Optional[List[str]]:
    """'numpy, tinygrad_edu' -> ['numpy', 'tinygrad_edu'] (None: all); a BenchError names any unknown or absent one."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STEPS]
    if unknown or not names:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise BenchError(f"unknown implementation(s) {shown}; available: {', '.join(STEPS)}")
    absent = [n for n in names if n not in step_names()]
    if absent:
        raise BenchError(f"implementation(s) {', '.join(absent)} cannot run here: not importable")
    return names


def run(args) -> int:
    """Run the scenarios ``args`` name, print the table, write the JSON file if asked.

    Bad options raise ``BenchError`` before anything is timed. Returns 1 when
    ``--check-fair`` finds a figure more than ``FAIR_TOLERANCE`` off, else 0.
    """
    keys = scenario_keys(args.scenarios)
    if args.json:
        check_json_path(args.json)
    threads = args.threads or default_threads()
    check_fair = getattr(args, "check_fair", False)
    selected = implementation_names(getattr(args, "implementations", None))
    names = {name for key in keys for case in SCENARIOS[key].build(args.quick) for name in case.implementations
             if selected is None or name in selected}
    workers = {name: Worker(name, threads) for name in sorted(names)}
    try:
        env = environment(threads, workers)
        env["repeats"] = getattr(args, "repeats", None) or (QUICK_RUN if args.quick else FULL_RUN)[0]
        results: List[Result] = []
        figures: Dict[str, Dict[str, object]] = {}
        for key in keys:
            scenario_results, scenario_figures = run_scenario(SCENARIOS[key], workers, args.quick, threads, check_fair,
                                                              selected, getattr(args, "repeats", None))
            results += scenario_results
            if scenario_figures:
                figures[key] = scenario_figures
        env["load_average_after"] = load_average()
    finally:
        for worker in workers.values():
            worker.finish()  # all at once: each takes a moment to exit
        for worker in workers.values():
            worker.wait()
    print(format_report(env, results, figures, args.quick))
    if args.json:
        payload = {
            "environment": env,
            "quick": args.quick,
            "scenarios": {k: SCENARIOS[k].title for k in keys},
            "results": [vars(r) for r in results],
            "figures": figures,
        }
        write_atomic(args.json, json.dumps(payload, indent=2).encode("utf-8"))
    return 1 if check_fair and any(r.fair is False for r in results) else 0


def check_json_path(path) -> None:
    """Raise ``BenchError`` unless a file can be written at ``path``: checked before anything is timed."""
    if os.path.isdir(path):
        raise BenchError(f"--json {path!r} is a folder; give a file name, such as bench.json")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except (OSError, ValueError) as error:  # ValueError: a name the file system cannot hold (a NUL byte)
        reason = getattr(error, "strerror", None) or str(error)
        raise BenchError(f"--json {path!r}: cannot write a file in {folder!r}: {reason}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_edu.bench",
        description="Time tinygrad_edu against plain NumPy (the floor) and PyTorch (when installed).",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except BenchError as error:
        parser.error(str(error))
