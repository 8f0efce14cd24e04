"""How the benchmark measures, fairly: one worker process per implementation, taking turns.

Libraries that run on threads get in each other's way inside one process: OpenBLAS's
and PyTorch's worker threads keep spinning for a while after each call, so whichever
library runs next shares the cores with them (a PyTorch step timed right after NumPy's
matrix products can take twice as long as on its own). So the harness

* runs each implementation (the NumPy floor, tinygrad_edu, PyTorch, ...) in a process
  of its own, a *worker*, started with the same thread count for every library:
  ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` in its
  environment, and ``torch.set_num_threads`` (see ``steps.import_torch``);
* starts every worker with the same allocator settings (``ALLOCATOR_VARIABLES``);
* lets one worker run at a time: between its turns a worker is stopped (``SIGSTOP``,
  where the system has it), so not even its idle threads can spin while another
  implementation is timed;
* warms each implementation up and picks how many calls make one timed repeat long
  enough to read a clock reliably, then alternates the workers repeat by repeat
  (rotating who goes first) so a change in machine load hits them all alike, and
  reports the median repeat;
* can show that this is fair (``check_fair``): each implementation's figure is
  compared with the same step timed *alone*, in a fresh process that has run
  nothing else, its repeats taken in turn with the harness's, and should be within
  ``FAIR_TOLERANCE`` of it.

Garbage collection stays on, as in real use (it runs once before each case).

A *case* is one piece of work done by several implementations. It maps each
implementation's name to a *builder*: ``build() -> prepare`` makes the objects
(only in that implementation's worker), and ``prepare(number)`` does the untimed
setup of one repeat (building graphs to run backward through, say) and returns the
step that is then called ``number`` times under the clock. A worker finds a case by
its scenario key and position, so builders are cheap and deterministic.
"""
from __future__ import annotations

import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from .steps import FLOOR

Prepare = Callable[[int], Callable[[], object]]

FAIR_TOLERANCE = 0.10  # a harness figure within 10% of the same step timed alone is fair

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# glibc hands large arrays back to the system when they are freed (munmap, or trimming the
# heap) and faults fresh pages in for the next step's arrays; whether that happens at every
# step depends on what the process ran before (the floor's C step: 79 ms in a process of its
# own, 60 ms after other work). Raised thresholds keep freed memory for reuse, in every worker
# alike, so a figure measures the step, not the allocator's history. (Other systems ignore these.)
ALLOCATOR_VARIABLES = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(128 * 2**20)}


@dataclass
class Case:
    """One piece of work and, per implementation, how to build it for timing (in its worker)."""

    name: str
    implementations: Dict[str, Callable[[], Prepare]]
    floor: str = FLOOR
    timed: bool = True  # False: only measured for memory
    memory: bool = False  # also report the peak traced allocation of one step
    size: Optional[int] = None  # graph size, for scaling checks


@dataclass
class Timing:
    """One implementation's figures in one case, as a worker measured them."""

    median_s: Optional[float] = None
    repeats_s: Optional[List[float]] = None
    calls_per_repeat: int = 0
    peak_bytes: Optional[int] = None
    alone_median_s: Optional[float] = None  # the same step timed alone (check_fair)


class WorkerError(RuntimeError):
    """A worker process failed: its traceback, or why it stopped answering."""


# ----------------------------------------------------------------------------- inside a worker


def time_repeat(prepare: Prepare, number: int) -> float:
    """Seconds per call of one repeat: untimed setup, then ``number`` timed calls."""
    step = prepare(number)
    start = time.perf_counter()
    for _ in range(number):
        step()
    return (time.perf_counter() - start) / number


def calls_per_repeat(prepare: Prepare, min_repeat_s: float) -> int:
    """Double the calls per repeat until one repeat lasts ``min_repeat_s`` (this also warms up)."""
    number = 1
    while True:
        per_call = time_repeat(prepare, number)
        if per_call * number >= min_repeat_s or number >= 1_000_000:
            return number
        number = max(2 * number, min(1_000_000, int(1.2 * min_repeat_s / max(per_call, 1e-9))))


def peak_memory(prepare: Prepare) -> int:
    """Peak bytes that one step allocates, as tracemalloc sees them (NumPy buffers included).

    Only what the step itself allocates counts: tracing starts after the setup, and
    after one warm-up step (lazily built state such as optimizer buffers exists by then).
    """
    step = prepare(1)
    step()
    step = prepare(1)
    gc.collect()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def blas_about() -> Dict[str, object]:
    """NumPy's BLAS in this process: library, version, threads and the kernel it chose.

    The thread count and kernel come from threadpoolctl when it is installed; without
    it the thread count is the one the environment asked for, and the kernel unknown.
    """
    import numpy as np

    about = {"blas": "unknown", "blas_threads": None, "blas_kernel": None}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        about["blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: show_config only prints
        pass
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threads = os.environ.get("OPENBLAS_NUM_THREADS", "")
        about["blas_threads"] = int(threads) if threads.isdigit() else None
        return about
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            about["blas_threads"] = pool.get("num_threads")
            about["blas_kernel"] = pool.get("architecture")
            break
    return about


# ----------------------------------------------------------------------------- the parent's side


def worker_environment(threads: int) -> Dict[str, str]:
    """What every worker starts with: ``threads`` threads for every library, the same allocator settings."""
    return {**{name: str(threads) for name in THREAD_VARIABLES}, **ALLOCATOR_VARIABLES}


class Worker:
    """One worker process, spoken to in JSON lines; stopped between its turns.

    ``implementation`` names what it will time (a PyTorch worker imports PyTorch on
    start, so the import is not inside a measurement). ``ask(op=..., ...)`` resumes
    it, sends one request, reads the reply and stops it again; see ``worker.py`` for
    the requests.
    """

    def __init__(self, implementation: str, threads: int):
        import tinygrad_edu

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(tinygrad_edu.__file__)))
        env = dict(os.environ, **worker_environment(threads))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.implementation = implementation
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tinygrad_edu.bench.worker", implementation],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        self._stopped = False

    def _resume(self) -> None:
        if self._stopped:
            os.kill(self.process.pid, signal.SIGCONT)
            self._stopped = False

    def _stop(self) -> None:
        """Stop the worker and wait until it is stopped (``SIGSTOP`` is delivered asynchronously)."""
        if not hasattr(signal, "SIGSTOP") or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGSTOP)
        os.waitpid(self.process.pid, os.WUNTRACED)
        self._stopped = True

    def ask(self, **request) -> dict:
        """Send one request, wait for its reply; a failed worker raises ``WorkerError`` with its traceback."""
        self._resume()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise WorkerError(f"the {self.implementation} worker stopped (exit code {self.process.poll()}) "
                              f"while asked to {request.get('op')}")
        self._stop()
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"the {self.implementation} worker failed to {request.get('op')}:\n{reply['error']}")
        return reply

    def finish(self) -> None:
        """Resume the worker and end its input: it exits (``wait`` collects it)."""
        self._resume()
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def wait(self, timeout: float = 10) -> None:
        """Wait for a finished worker to exit; kill it if it hangs."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def close(self) -> None:
        """``finish``, then ``wait``."""
        self.finish()
        self.wait()


def _load(worker: Worker, where: dict, name: str) -> None:
    worker.ask(op="load", implementation=name, **where)


def measure_case(case: Case, where: dict, workers: Dict[str, Worker], repeats: int, min_repeat_s: float,
                 threads: int, check_fair: bool = False) -> Dict[str, Timing]:
    """Time (and measure the memory of) every implementation of ``case``, each in its worker.

    ``where`` is ``{"scenario": key, "case": position, "quick": bool}``: how a worker
    finds the case. With ``check_fair`` each implementation is also timed *alone*: in
    a fresh worker that loads only this case, its repeats taken in turn with the
    harness's (so a change in the machine's load hits both figures alike).
    """
    names = list(case.implementations)
    timings = {name: Timing() for name in names}
    alone = {name: Worker(name, threads) for name in names} if check_fair and case.timed else {}
    try:
        for name in names:
            _load(workers[name], where, name)
        if case.timed:
            _time(names, workers, alone, timings, where, repeats, min_repeat_s)
        if case.memory:
            for name in names:
                timings[name].peak_bytes = workers[name].ask(op="memory")["peak_bytes"]
        for name in names:
            workers[name].ask(op="unload")
    finally:
        for worker in alone.values():
            worker.close()
    return timings


def _time(names, workers, alone, timings, where, repeats, min_repeat_s) -> None:
    """Warm up and calibrate, then alternate the implementations repeat by repeat (each one's alone worker too)."""
    for name, worker in alone.items():
        _load(worker, where, name)
        worker.ask(op="calibrate", min_repeat_s=min_repeat_s)  # the same warm-up as in the harness
    numbers = {name: workers[name].ask(op="calibrate", min_repeat_s=min_repeat_s)["number"] for name in names}
    samples = {name: [] for name in names}
    alone_samples = {name: [] for name in alone}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            samples[name].append(workers[name].ask(op="repeat", number=numbers[name])["seconds"])
            if name in alone:
                alone_samples[name].append(alone[name].ask(op="repeat", number=numbers[name])["seconds"])
    for name in names:
        timings[name].median_s = statistics.median(samples[name])
        timings[name].repeats_s = samples[name]
        timings[name].calls_per_repeat = numbers[name]
        if name in alone:
            timings[name].alone_median_s = statistics.median(alone_samples[name])


def is_fair(median_s: Optional[float], alone_median_s: Optional[float]) -> Optional[bool]:
    """True when a harness figure is within ``FAIR_TOLERANCE`` of the same step timed alone."""
    if not median_s or not alone_median_s:
        return None
    return abs(median_s / alone_median_s - 1) <= FAIR_TOLERANCE
