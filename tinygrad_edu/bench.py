"""Benchmarks: ``tinygrad-edu bench [--quick] [--scenarios A,B,C,D,E] [--json PATH] [--threads N]``.

(``python -m tinygrad_edu.bench`` takes the same options.)

Scenarios A, B and C time one training step (forward, cross-entropy, backward, SGD
update) of a multi-layer perceptron at three sizes; D the overhead of recording one
op; E backward through long chains, and the peak memory of a C step.

Each *case* times one piece of work done by several implementations: tinygrad_edu,
plain NumPy doing the same arithmetic with no graph (the *floor*: no framework
can beat it), and PyTorch when it is importable. Inside one process the harness

* warms every implementation up and picks, per implementation, how many calls
  make one timed repeat long enough to read a clock reliably;
* alternates the implementations repeat by repeat (rotating who goes first), so
  a change in machine load hits them all alike;
* reports the median over the repeats, and its ratio to the floor and to PyTorch.

BLAS and PyTorch are given the same number of threads. Garbage collection stays
on, as in real use (it is run once before each case).

Scenarios are entries of ``SCENARIOS``: a key, a title and a function
``build(quick) -> list[Case]``. A case maps implementation names to *prepare*
functions: ``prepare(number)`` does the untimed setup for one repeat (building
graphs to run backward through, say) and returns the step that is then called
``number`` times under the clock. ``peak_memory(prepare)`` measures what one step
allocates (tracemalloc sees NumPy's buffers, not PyTorch's).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.tools.argtypes import positive_int
from tinygrad_edu.tools.atomic import write_atomic

FLOOR = "numpy"
OURS = "tinygrad_edu"
TORCH = "torch"

Prepare = Callable[[int], Callable[[], object]]

# (repeats, shortest repeat in seconds): the full run, and --quick
FULL_RUN = (7, 0.05)
QUICK_RUN = (3, 0.002)


@dataclass
class Case:
    """One piece of work and, per implementation, how to set it up for timing."""

    name: str
    implementations: Dict[str, Prepare]
    floor: str = FLOOR
    timed: bool = True  # False: only measured for memory
    memory: bool = False  # also report the peak traced allocation of one step
    size: Optional[int] = None  # graph size, for scaling checks


@dataclass
class Scenario:
    key: str
    title: str
    build: Callable[[bool], List[Case]]  # quick -> cases
    summarize: Optional[Callable[[List["Result"]], Dict[str, object]]] = None  # derived figures


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


# ----------------------------------------------------------------------------- environment


def _torch():
    """PyTorch if it is importable (it is never a dependency), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _blas_info() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: show_config only prints
        return "unknown"


def _blas_threads():
    """(thread count, where it came from) for NumPy's BLAS."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        counts = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
        if counts:
            return max(counts), "threadpoolctl"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value), var
    return os.cpu_count() or 1, "default: one per CPU"


def environment(threads: int) -> Dict[str, object]:
    torch = _torch()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": _blas_info(),
        "blas_threads": threads,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "tinygrad_edu": tg.__version__,
        "blas_environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
    }


class BenchError(ValueError):
    """Bad options: an unknown scenario, a thread count that cannot be set."""


def set_threads(requested: Optional[int]) -> int:
    """Give BLAS and PyTorch the same thread count; return it."""
    threads, source = _blas_threads()
    if requested is not None and requested != threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise BenchError(
                f"BLAS runs {threads} thread(s) ({source}); to use {requested}, start with "
                f"OPENBLAS_NUM_THREADS={requested} (or OMP_NUM_THREADS) set, or install threadpoolctl"
            ) from None
        threadpool_limits(requested, user_api="blas")
        threads = requested
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


# ----------------------------------------------------------------------------- measuring


def _time_repeat(prepare: Prepare, number: int) -> float:
    """Seconds per call of one repeat: untimed setup, then ``number`` timed calls."""
    step = prepare(number)
    start = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - start) / number


def _calls_per_repeat(prepare: Prepare, min_repeat_s: float) -> int:
    """Double the calls per repeat until one repeat lasts ``min_repeat_s`` (this also warms up)."""
    number = 1
    while True:
        per_call = _time_repeat(prepare, number)
        if per_call * number >= min_repeat_s or number >= 1_000_000:
            return number
        number = max(2 * number, min(1_000_000, int(1.2 * min_repeat_s / max(per_call, 1e-9))))


def time_case(case: Case, repeats: int, min_repeat_s: float) -> Dict[str, tuple]:
    """Per implementation: (median seconds per call, all repeats, calls per repeat)."""
    gc.collect()  # start clean; collection then runs as it would in real use
    numbers = {name: _calls_per_repeat(prepare, min_repeat_s) for name, prepare in case.implementations.items()}
    names = list(case.implementations)
    samples = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            samples[name].append(_time_repeat(case.implementations[name], numbers[name]))
    return {name: (statistics.median(samples[name]), samples[name], numbers[name]) for name in names}


def peak_memory(prepare: Prepare) -> int:
    """Peak bytes that one step allocates, as tracemalloc sees them (NumPy buffers included).

    Only what the step itself allocates counts: tracing starts after the setup.
    """
    step = prepare(1)
    step()  # warm-up: lazily built state (optimizer buffers, .grad arrays) exists before tracing
    step = prepare(1)
    gc.collect()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_scenario(scenario: Scenario, quick: bool) -> tuple:
    repeats, min_repeat_s = QUICK_RUN if quick else FULL_RUN
    results: List[Result] = []
    for case in scenario.build(quick):
        timings = time_case(case, repeats, min_repeat_s) if case.timed else {}
        for name, prepare in case.implementations.items():
            result = Result(scenario.key, case.name, name, size=case.size)
            if name in timings:
                result.median_s, result.repeats_s, result.calls_per_repeat = timings[name]
            if case.memory:
                result.peak_bytes = peak_memory(prepare)
            results.append(result)
        _fill_ratios([r for r in results if r.case == case.name], case.floor)
    figures = scenario.summarize(results) if scenario.summarize else {}
    return results, figures


def _fill_ratios(results: List[Result], floor: str) -> None:
    by_name = {r.implementation: r for r in results}
    base = by_name.get(floor)
    for r in results:
        if base is not None and base.median_s and r.median_s is not None:
            r.ratio_to_floor = r.median_s / base.median_s
        if TORCH in by_name and by_name[TORCH].median_s and r.median_s is not None:
            r.ratio_to_torch = r.median_s / by_name[TORCH].median_s
        if base is not None and base.peak_bytes and r.peak_bytes is not None:
            r.peak_ratio_to_floor = r.peak_bytes / base.peak_bytes


# ----------------------------------------------------------------------------- scenarios A, B, C: a training step

LEARNING_RATE = 0.01


@dataclass
class Problem:
    """One training step's inputs, shared by every implementation: the same data and initial weights.

    x (batch, sizes[0]); labels (batch,) class indices; onehot (batch, sizes[-1]) the same
    labels one-hot (the reference network's target format); weights[i] (sizes[i], sizes[i+1])
    and biases[i] (sizes[i+1],) as ``reference.MLP`` draws them (He for the ReLU layers).
    """

    sizes: tuple
    batch: int
    dtype: np.dtype
    x: np.ndarray
    labels: np.ndarray
    onehot: np.ndarray
    weights: list
    biases: list
    lr: float = LEARNING_RATE

    @property
    def name(self) -> str:
        return f"{'-'.join(map(str, self.sizes))}, batch {self.batch}, {self.dtype.name}"


def make_problem(sizes, batch, dtype, seed=0) -> Problem:
    """Random inputs and labels, and the reference network's initial weights (ReLU hidden layers)."""
    from . import reference

    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], size=batch)
    onehot = np.eye(sizes[-1], dtype=dtype)[labels]
    initial = reference.MLP(sizes, dtype=dtype, rng=rng)
    return Problem(tuple(sizes), batch, dtype, x, labels, onehot, initial.weights, initial.biases)


class ReferenceStep:
    """The floor: ``reference.MLP``'s hand-written forward, loss, backward and SGD update."""

    def __init__(self, problem: Problem):
        from . import reference

        self.problem = problem
        self.net = reference.MLP(problem.sizes, dtype=problem.dtype, rng=np.random.default_rng(0))
        self.reset()

    def reset(self):
        """Back to the problem's initial weights (written in place)."""
        for W, b, W0, b0 in zip(self.net.weights, self.net.biases, self.problem.weights, self.problem.biases):
            W[...], b[...] = W0, b0

    def __call__(self) -> float:
        p = self.problem
        return self.net.train_step(p.x, p.onehot, p.lr)

    def parameters(self):
        """[(W (in, out), b (out,)), ...] as ndarrays."""
        return list(zip(self.net.weights, self.net.biases))


class TinygradStep:
    """tinygrad_edu: ``nn.MLP``, ``F.cross_entropy`` on the logits, ``optim.SGD``."""

    def __init__(self, problem: Problem):
        from . import nn, optim

        self.problem = problem
        activations = ["relu"] * (len(problem.sizes) - 2) + ["softmax"]
        self.model = nn.MLP(problem.sizes, activations, dtype=problem.dtype)
        self.optimizer = optim.SGD(self.model.parameters(), lr=problem.lr)
        self.cross_entropy = nn.functional.cross_entropy
        self.reset()

    def reset(self):
        with tg.no_grad():
            for layer, W0, b0 in zip(self.model.layers, self.problem.weights, self.problem.biases):
                layer.weight.copy_(W0)
                layer.bias.copy_(b0)

    def __call__(self) -> float:
        p = self.problem
        self.optimizer.zero_grad()
        loss = self.cross_entropy(self.model.logits(p.x), p.labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def parameters(self):
        return [(layer.weight.data, layer.bias.data) for layer in self.model.layers]


class TorchStep:
    """PyTorch eager: ``torch.nn.Linear`` layers with the same initial weights, ``F.cross_entropy``, SGD."""

    def __init__(self, problem: Problem):
        torch = _torch()
        self.torch, self.problem = torch, problem
        dtype = getattr(torch, problem.dtype.name)
        layers = []
        for n_in, n_out in zip(problem.sizes[:-1], problem.sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out, dtype=dtype), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])  # no ReLU after the last layer: the logits
        self.linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.lr)
        self.x = torch.from_numpy(problem.x)
        self.labels = torch.from_numpy(problem.labels)
        self.reset()

    def reset(self):
        with self.torch.no_grad():
            for linear, W0, b0 in zip(self.linears, self.problem.weights, self.problem.biases):
                linear.weight.copy_(self.torch.from_numpy(W0.T))  # torch keeps (out, in)
                linear.bias.copy_(self.torch.from_numpy(b0))

    def __call__(self) -> float:
        self.optimizer.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def parameters(self):
        return [(linear.weight.detach().numpy().T, linear.bias.detach().numpy()) for linear in self.linears]


def step_implementations(problem: Problem) -> Dict[str, object]:
    """name -> a training step over ``problem`` (callable; ``reset()`` and ``parameters()`` too)."""
    steps = {FLOOR: ReferenceStep(problem), OURS: TinygradStep(problem)}
    if _torch() is not None:
        steps[TORCH] = TorchStep(problem)
    return steps


def _step_prepare(step) -> Prepare:
    def prepare(number):
        step.reset()  # every repeat trains from the same initial weights
        return step

    return prepare


def _step_case(sizes, batch, dtype) -> Case:
    problem = make_problem(sizes, batch, dtype)
    implementations = {name: _step_prepare(step) for name, step in step_implementations(problem).items()}
    return Case(f"training step {problem.name}", implementations)


def _matmul_case(sizes, batch, dtype) -> Case:
    """The step's matrix products alone, in NumPy with the same shapes: what a step cannot go below.

    Forward a_i @ W_i per layer; backward a_i.T @ dZ_i per layer and dZ_i @ W_i.T for all
    but the first layer (whose input needs no gradient).
    """
    rng = np.random.default_rng(1)
    acts = [rng.standard_normal((batch, n)).astype(dtype) for n in sizes[:-1]]
    dzs = [rng.standard_normal((batch, n)).astype(dtype) for n in sizes[1:]]
    weights = [rng.standard_normal((n_in, n_out)).astype(dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def matmuls():
        for a, W in zip(acts, weights):
            a @ W
        for a, dz in zip(acts, dzs):
            a.T @ dz
        for dz, W in zip(dzs[1:], weights[1:]):
            dz @ W.T

    return Case(f"its matmuls alone ({'-'.join(map(str, sizes))}, batch {batch})", {FLOOR: lambda n: matmuls})


def _a_cases(quick: bool) -> List[Case]:
    return [_step_case((4, 16, 8, 3), 16, np.float64), _step_case((4, 16, 8, 3), 16, np.float32)]


def _b_cases(quick: bool) -> List[Case]:
    return [_step_case((784, 256, 128, 10), 128, np.float32)]


def _c_cases(quick: bool) -> List[Case]:
    sizes, batch = (784, 1024, 1024, 10), (64 if quick else 512)  # quick: a smaller batch, same layers
    return [_step_case(sizes, batch, np.float32), _matmul_case(sizes, batch, np.float32)]


def _c_summary(results: List[Result]) -> Dict[str, object]:
    """Share of the step spent in matrix products: the matmuls' time over the step's."""
    matmuls = next((r for r in results if r.case.startswith("its matmuls")), None)
    figures = {}
    if matmuls is not None and matmuls.median_s:
        for r in results:
            if r.case.startswith("training step") and r.implementation in (FLOOR, OURS) and r.median_s:
                figures[f"matmul share of the step, {r.implementation}"] = matmuls.median_s / r.median_s
    return figures


# ----------------------------------------------------------------------------- scenario D: per-op overhead


def _d_cases(quick: bool) -> List[Case]:
    shape, dtype = (4, 4), np.float32
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    a, b = tg.Tensor(a_np, requires_grad=True), tg.Tensor(b_np, requires_grad=True)

    record = {FLOOR: lambda n: lambda: np.add(a_np, b_np), OURS: lambda n: lambda: a + b}

    grad_a, grad_b = np.zeros(shape, dtype), np.zeros(shape, dtype)

    def numpy_mul_sum():
        (a_np * b_np).sum()  # forward
        g = np.ones_like(a_np)  # d sum / d(a*b), broadcast back to the product's shape
        np.add(grad_a, g * b_np, out=grad_a)  # accumulated like .grad
        np.add(grad_b, g * a_np, out=grad_b)

    mul_sum = {FLOOR: lambda n: numpy_mul_sum, OURS: lambda n: lambda: (a * b).sum().backward()}

    torch = _torch()
    if torch is not None:
        ta = torch.tensor(a_np, requires_grad=True)
        tb = torch.tensor(b_np, requires_grad=True)
        record[TORCH] = lambda n: lambda: ta + tb
        mul_sum[TORCH] = lambda n: lambda: (ta * tb).sum().backward()
    return [
        Case("recorded op: 4x4 add, requires_grad", record),
        Case("(a * b).sum(): forward + backward", mul_sum),
    ]


# ----------------------------------------------------------------------------- scenario E: graph size, memory

CHAIN_SIZES = (2_500, 5_000, 10_000)


def _chain_prepare(size: int, build_chain) -> Prepare:
    """Build ``number`` fresh chains (untimed); the step runs backward through the next one."""

    def prepare(number):
        chains = [build_chain(size) for _ in range(number)]
        return lambda: chains.pop().backward()

    return prepare


def _e_cases(quick: bool) -> List[Case]:
    sizes = tuple(s // 10 for s in CHAIN_SIZES) if quick else CHAIN_SIZES
    start = np.ones(4, dtype=np.float32)

    def tg_chain(size):
        y = tg.Tensor(start, requires_grad=True)
        for _ in range(size):
            y = y * 1.0
        return y.sum()

    def numpy_backward(size):  # the same chain rule by hand: one multiply per op
        def step():
            g = np.ones_like(start)
            for _ in range(size):
                g = g * 1.0
        return step

    torch = _torch()

    def torch_chain(size):
        y = torch.tensor(start, requires_grad=True)
        for _ in range(size):
            y = y * 1.0
        return y.sum()

    cases = []
    for size in sizes:
        implementations = {FLOOR: lambda n, s=size: numpy_backward(s), OURS: _chain_prepare(size, tg_chain)}
        if torch is not None:
            implementations[TORCH] = _chain_prepare(size, torch_chain)
        cases.append(Case(f"backward through a chain of {size:,} ops", implementations, size=size))
    return cases + _memory_cases(quick)


def _memory_cases(quick: bool) -> List[Case]:
    """Peak memory of one training step of scenario C (when it is registered), against the floor."""
    c = SCENARIOS.get("C")
    if c is None:
        return []
    return [
        Case(f"memory of one step: {case.name}", {name: prepare for name, prepare in case.implementations.items()
                                                  if name != TORCH},  # tracemalloc cannot see PyTorch's allocator
             floor=case.floor, timed=False, memory=True)
        for case in c.build(quick)
        if OURS in case.implementations  # a step, not the matmuls alone
    ]


def _e_summary(results: List[Result]) -> Dict[str, object]:
    """Linearity: seconds per op at the largest chain over seconds per op at the smallest (1.0 = linear)."""
    figures = {}
    for implementation in sorted({r.implementation for r in results if r.size and r.median_s}):
        rows = sorted((r for r in results if r.implementation == implementation and r.size and r.median_s), key=lambda r: r.size)
        if len(rows) >= 2:
            per_op = [r.median_s / r.size for r in rows]
            figures[f"linearity {implementation}"] = per_op[-1] / per_op[0]
    for r in results:
        if r.implementation == OURS and r.peak_ratio_to_floor is not None:
            figures[f"peak memory ratio to floor, {r.case}"] = r.peak_ratio_to_floor
    return figures


# ----------------------------------------------------------------------------- the table of scenarios

SCENARIOS: Dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("A", "training step, the tutorial's size", _a_cases),
        Scenario("B", "training step, an MNIST-sized MLP", _b_cases),
        Scenario("C", "training step, a wide MLP (BLAS-bound); share of it spent in matmul", _c_cases, _c_summary),
        Scenario("D", "overhead of recording an op and of a tiny backward", _d_cases),
        Scenario("E", "backward through long chains (linear in graph size); peak memory of a C step", _e_cases, _e_summary),
    )
}


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
    return f"{count} thread{'' if count == 1 else 's'}"


def _bytes(value: Optional[int]) -> str:
    return "-" if value is None else f"{value / 2**20:.2f} MiB"


def format_report(env: Dict[str, object], results: List[Result], figures: Dict[str, Dict[str, object]], quick: bool) -> str:
    torch = f"torch {env['torch']} ({_threads(env['torch_threads'])})" if env["torch"] else "torch not installed"
    lines = [
        f"tinygrad_edu {env['tinygrad_edu']} benchmark{' (quick)' if quick else ''}: median of "
        f"{(QUICK_RUN if quick else FULL_RUN)[0]} repeats, implementations alternating in one process",
        f"numpy {env['numpy']} (BLAS {env['blas']}, {_threads(env['blas_threads'])}), {torch}, "
        f"Python {env['python']}, {env['cpu_count']} CPUs",
    ]
    if env["blas_environment"]:
        lines.append("environment: " + " ".join(f"{k}={v}" for k, v in env["blas_environment"].items()))
    header = ("scenario", "case", "implementation", "median", "/ floor", "/ torch", "peak memory")
    rows = [header]
    previous = None
    for r in results:
        new_case = (r.scenario, r.case) != previous
        previous = (r.scenario, r.case)
        rows.append((
            r.scenario if new_case else "", r.case if new_case else "", r.implementation,
            _seconds(r.median_s), _ratio(r.ratio_to_floor), _ratio(r.ratio_to_torch), _bytes(r.peak_bytes),
        ))
    if not any(r.peak_bytes is not None for r in results):
        rows = [row[:-1] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    for key, values in figures.items():
        for name, value in values.items():
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            lines.append(f"{key}: {name} = {shown}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``tinygrad-edu bench`` and ``python -m tinygrad_edu.bench``)."""
    parser.add_argument("--quick", action="store_true", help="a reduced run that takes a few seconds")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), metavar="KEYS",
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="BLAS and PyTorch threads (default: what BLAS uses now)")


def scenario_keys(text: str) -> List[str]:
    """'a, c' -> ['A', 'C']; a BenchError names any unknown key."""
    keys = [k.strip().upper() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SCENARIOS]
    if unknown or not keys:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise BenchError(f"unknown scenario(s) {shown}; available: {', '.join(SCENARIOS)}")
    return keys


def run(args) -> int:
    """Run the scenarios ``args`` name, print the table, write the JSON file if asked.

    Bad options raise ``BenchError`` before anything is timed.
    """
    keys = scenario_keys(args.scenarios)
    if args.json:
        check_json_path(args.json)
    env = environment(set_threads(args.threads))
    results: List[Result] = []
    figures: Dict[str, Dict[str, object]] = {}
    for key in keys:
        scenario_results, scenario_figures = run_scenario(SCENARIOS[key], args.quick)
        results += scenario_results
        if scenario_figures:
            figures[key] = scenario_figures
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
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
