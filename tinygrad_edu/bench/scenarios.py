"""The benchmark's scenarios: A, B and C time a training step at three sizes, D the
overhead of recording an op, E backward through long chains and the memory of a step.

Each scenario is an entry of ``SCENARIOS``: a key, a title, ``build(quick) -> [Case]``
and optionally ``summarize(results) -> {figure: value}``. Builders only describe the
work; each implementation's objects are made inside the worker that times it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

from .harness import Case, Prepare
from .steps import COMPILED, FLOOR, OURS, STEPS, TORCH, import_torch, make_problem, step_names


@dataclass
class Scenario:
    key: str
    title: str
    build: Callable[[bool], List[Case]]  # quick -> cases
    summarize: Optional[Callable[[list], Dict[str, object]]] = None  # results -> derived figures


def _torch_or_not(implementations: Dict[str, Callable[[], Prepare]], torch_builder) -> Dict[str, Callable[[], Prepare]]:
    """The implementations, with PyTorch's added when it is importable."""
    if TORCH in step_names():
        implementations[TORCH] = torch_builder
    return implementations


# ----------------------------------------------------------------------------- A, B, C: a training step


def _step_prepare(step) -> Prepare:
    def prepare(number):
        step.reset()  # every repeat trains from the same initial weights
        return step

    return prepare


def _step_case(sizes, batch, dtype) -> Case:
    name = f"training step {'-'.join(map(str, sizes))}, batch {batch}, {np.dtype(dtype).name}"

    def builder(step_class):
        return lambda: _step_prepare(step_class(make_problem(sizes, batch, dtype)))

    return Case(name, {impl: builder(STEPS[impl]) for impl in step_names()})


def _matmul_case(sizes, batch, dtype) -> Case:
    """The step's matrix products alone, in NumPy with the same shapes: what a step cannot go below.

    Forward a_i @ W_i per layer; backward a_i.T @ dZ_i per layer and dZ_i @ W_i.T for all
    but the first layer (whose input needs no gradient).
    """

    def build():
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

        return lambda number: matmuls

    return Case(f"its matmuls alone ({'-'.join(map(str, sizes))}, batch {batch})", {FLOOR: build})


def _a_cases(quick: bool) -> List[Case]:
    return [_step_case((4, 16, 8, 3), 16, np.float64), _step_case((4, 16, 8, 3), 16, np.float32)]


def _b_cases(quick: bool) -> List[Case]:
    return [_step_case((784, 256, 128, 10), 128, np.float32)]


C_SIZES = (784, 1024, 1024, 10)


def _c_batch(quick: bool) -> int:
    return 64 if quick else 512  # quick: a smaller batch, the same layers


def _c_cases(quick: bool) -> List[Case]:
    return [_step_case(C_SIZES, _c_batch(quick), np.float32), _matmul_case(C_SIZES, _c_batch(quick), np.float32)]


def _c_summary(results) -> Dict[str, object]:
    """Share of the step spent in matrix products: the matmuls' time over the step's."""
    matmuls = next((r for r in results if r.case.startswith("its matmuls")), None)
    figures = {}
    if matmuls is not None and matmuls.median_s:
        for r in results:
            if r.case.startswith("training step") and r.implementation != TORCH and r.median_s:
                figures[f"matmul share of the step, {r.implementation}"] = matmuls.median_s / r.median_s
    return figures


# ----------------------------------------------------------------------------- D: per-op overhead

D_SHAPE = (4, 4)


def _d_operands():
    rng = np.random.default_rng(0)
    return rng.standard_normal(D_SHAPE).astype(np.float32), rng.standard_normal(D_SHAPE).astype(np.float32)


def _numpy_add():
    a, b = _d_operands()
    return lambda number: lambda: np.add(a, b)


def _ours_add():
    import tinygrad_edu as tg

    a, b = (tg.Tensor(x, requires_grad=True) for x in _d_operands())
    return lambda number: lambda: a + b


def _compiled_add():
    import tinygrad_edu as tg

    a, b = (tg.Tensor(x, requires_grad=True) for x in _d_operands())
    add = tg.compile(lambda: a + b)
    return lambda number: add


def _torch_add():
    torch = import_torch()
    a, b = (torch.tensor(x, requires_grad=True) for x in _d_operands())
    return lambda number: lambda: a + b


def _numpy_mul_sum():
    a, b = _d_operands()
    grad_a, grad_b = np.zeros_like(a), np.zeros_like(b)

    def step():
        (a * b).sum()  # forward
        g = np.ones_like(a)  # d sum / d(a*b), broadcast back to the product's shape
        np.add(grad_a, g * b, out=grad_a)  # accumulated like .grad
        np.add(grad_b, g * a, out=grad_b)

    return lambda number: step


def _ours_mul_sum():
    import tinygrad_edu as tg

    a, b = (tg.Tensor(x, requires_grad=True) for x in _d_operands())
    return lambda number: lambda: (a * b).sum().backward()


def _compiled_mul_sum():
    import tinygrad_edu as tg

    a, b = (tg.Tensor(x, requires_grad=True) for x in _d_operands())
    step = tg.compile(lambda: (a * b).sum().backward())
    return lambda number: step


def _torch_mul_sum():
    torch = import_torch()
    a, b = (torch.tensor(x, requires_grad=True) for x in _d_operands())
    return lambda number: lambda: (a * b).sum().backward()


def _d_cases(quick: bool) -> List[Case]:
    return [
        Case("recorded op: 4x4 add, requires_grad",
             _torch_or_not({FLOOR: _numpy_add, OURS: _ours_add, COMPILED: _compiled_add}, _torch_add)),
        Case("(a * b).sum(): forward + backward",
             _torch_or_not({FLOOR: _numpy_mul_sum, OURS: _ours_mul_sum, COMPILED: _compiled_mul_sum}, _torch_mul_sum)),
    ]


# ----------------------------------------------------------------------------- E: graph size, memory

CHAIN_SIZES = (2_500, 5_000, 10_000)
_CHAIN_START = np.ones(4, dtype=np.float32)


def _chain_prepare(size: int, chain_of) -> Prepare:
    """Build ``number`` fresh chains (untimed); the step runs backward through the next one."""

    def prepare(number):
        chains = [chain_of(size) for _ in range(number)]
        return lambda: chains.pop().backward()

    return prepare


def _numpy_chain(size: int):
    def step():  # the same chain rule by hand: one multiply per op
        g = np.ones_like(_CHAIN_START)
        for _ in range(size):
            g = g * 1.0

    return lambda: lambda number: step


def _ours_chain(size: int):
    def chain_of(size):
        import tinygrad_edu as tg

        y = tg.Tensor(_CHAIN_START, requires_grad=True)
        for _ in range(size):
            y = y * 1.0
        return y.sum()

    return lambda: _chain_prepare(size, chain_of)


def _torch_chain(size: int):
    def chain_of(size):
        torch = import_torch()
        y = torch.tensor(_CHAIN_START, requires_grad=True)
        for _ in range(size):
            y = y * 1.0
        return y.sum()

    return lambda: _chain_prepare(size, chain_of)


def _e_cases(quick: bool) -> List[Case]:
    sizes = tuple(s // 10 for s in CHAIN_SIZES) if quick else CHAIN_SIZES
    cases = [
        Case(f"backward through a chain of {size:,} ops",
             _torch_or_not({FLOOR: _numpy_chain(size), OURS: _ours_chain(size)}, _torch_chain(size)), size=size)
        for size in sizes
    ]
    return cases + _memory_cases(quick)


def _memory_cases(quick: bool) -> List[Case]:
    """Peak memory of one training step of scenario C (when it is registered), against the floor."""
    c = SCENARIOS.get("C")
    if c is None:
        return []
    return [
        Case(f"memory of one step: {case.name}",
             {name: build for name, build in case.implementations.items() if name != TORCH},  # tracemalloc cannot see PyTorch's allocator
             floor=case.floor, timed=False, memory=True)
        for case in c.build(quick)
        if OURS in case.implementations  # a step, not the matmuls alone
    ]


def _e_summary(results) -> Dict[str, object]:
    """Linearity: seconds per op at the largest chain over seconds per op at the smallest (1.0 = linear)."""
    figures = {}
    for implementation in sorted({r.implementation for r in results if r.size and r.median_s}):
        rows = sorted((r for r in results if r.implementation == implementation and r.size and r.median_s),
                      key=lambda r: r.size)
        if len(rows) >= 2:
            per_op = [r.median_s / r.size for r in rows]
            figures[f"linearity {implementation}"] = per_op[-1] / per_op[0]
    for r in results:
        if r.implementation in (OURS, COMPILED) and r.peak_ratio_to_floor is not None:
            figures[f"peak memory ratio to floor, {r.implementation}, {r.case}"] = r.peak_ratio_to_floor
    return figures


# ----------------------------------------------------------------------------- the table of scenarios

SCENARIOS: Dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("A", "training step, the tutorial's size", _a_cases),
        Scenario("B", "training step, an MNIST-sized MLP", _b_cases),
        Scenario("C", "training step, a wide MLP (BLAS-bound); share of it spent in matmul", _c_cases, _c_summary),
        Scenario("D", "overhead of recording an op and of a tiny backward", _d_cases),
        Scenario("E", "backward through long chains (linear in graph size); peak memory of a C step", _e_cases,
                 _e_summary),
    )
}
