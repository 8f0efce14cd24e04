"""The benchmark runs (quick mode) and reports what it promises; no timing is asserted.

Structure: every implementation is timed in its own worker process with the same
thread count, stopped between its turns; ``--check-fair`` compares each figure with
the same step timed alone. The training-step implementations are checked to do the
same work: same loss and weights after two float64 steps, float32 kept float32.
"""
import json
import os

import numpy as np
import pytest

from tinygrad_edu import bench, cli
from tinygrad_edu.bench import harness, steps
from tinygrad_edu.engine.autograd import topological_order

HAS_TORCH = steps.torch_available()


def test_each_implementation_runs_in_its_own_process_with_equal_threads(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert bench.main(["--quick", "--scenarios", "D", "--threads", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.read_text())

    env = report["environment"]
    assert env["numpy"] == np.__version__ and env["threads"] == 1
    assert "each implementation in its own process, one at a time, 1 thread each" in out
    workers = env["workers"]
    assert set(workers) == {"numpy", "tinygrad_edu", "compiled"} | ({"torch"} if HAS_TORCH else set())
    pids = {about["pid"] for about in workers.values()}
    assert len(pids) == len(workers) and os.getpid() not in pids
    for name, about in workers.items():
        assert about["blas_threads"] == 1, name
        assert about["allocator"] == harness.ALLOCATOR_VARIABLES, name  # the same allocator settings everywhere
        assert about["torch_threads"] == (1 if name == "torch" else None)  # only the PyTorch worker imports it

    cases = {r["case"] for r in report["results"]}
    assert len(cases) == 2
    for r in report["results"]:
        assert r["median_s"] > 0 and len(r["repeats_s"]) == 3 and r["calls_per_repeat"] >= 1
        assert r["ratio_to_floor"] == pytest.approx(r["median_s"] / next(
            f["median_s"] for f in report["results"] if f["case"] == r["case"] and f["implementation"] == "numpy"))
        assert (r["ratio_to_torch"] is None) == (not HAS_TORCH)
        assert r["alone_median_s"] is None and r["fair"] is None  # not asked for
        assert r["case"] in out
    assert "median" in out and "/ floor" in out and "/ torch" in out and "/ alone" not in out


def test_check_fair_times_each_step_alone_and_says_which_figures_are_off(tmp_path, capsys):
    path = tmp_path / "bench.json"
    rc = bench.main(["--quick", "--scenarios", "D", "--implementations", "numpy,tinygrad_edu",
                     "--check-fair", "--repeats", "4", "--json", str(path)])
    out = capsys.readouterr().out
    results = json.loads(path.read_text())["results"]
    assert {r["implementation"] for r in results} == {"numpy", "tinygrad_edu"}
    assert "median of 4 repeats" in out
    for r in results:
        assert len(r["repeats_s"]) == 4 and r["alone_median_s"] > 0
        assert r["ratio_to_alone"] == pytest.approx(r["median_s"] / r["alone_median_s"])
        assert r["fair"] == (abs(r["ratio_to_alone"] - 1) <= harness.FAIR_TOLERANCE)
    unfair = [r for r in results if not r["fair"]]
    assert rc == (1 if unfair else 0)
    assert "/ alone" in out and f"fair: {len(results) - len(unfair)} of {len(results)} figures within 10%" in out
    for r in unfair:
        assert f"{r['case']} {r['implementation']} ({r['ratio_to_alone']:.2f})" in out


def test_command_line_runs_every_scenario_quickly(tmp_path, capsys):
    """Every scenario and case (PyTorch's rows are left out here to keep the test fast; the test above has them)."""
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--implementations", "numpy,reference,tinygrad_edu,compiled",
                     "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.read_text())
    assert set(report["scenarios"]) == {"A", "B", "C", "D", "E"}
    cases = {r["case"] for r in report["results"]}
    for expected in ("training step 4-16-8-3, batch 16, float64", "training step 4-16-8-3, batch 16, float32",
                     "training step 784-256-128-10, batch 128, float32", "its matmuls alone",
                     "memory of one step: training step 784-1024-1024-10"):
        assert any(case.startswith(expected) for case in cases), expected
        assert expected in out
    steps_rows = [r for r in report["results"] if r["case"].startswith("training step")]
    assert {r["implementation"] for r in steps_rows} == {"numpy", "reference", "tinygrad_edu", "compiled"}
    assert {r["implementation"] for r in report["results"] if r["scenario"] == "D"} == {"numpy", "tinygrad_edu",
                                                                                      "compiled"}
    assert all(r["median_s"] > 0 and r["ratio_to_floor"] > 0 for r in steps_rows)
    chains = [r for r in report["results"] if r["scenario"] == "E" and r["size"]]
    assert len({r["size"] for r in chains}) == 3 and all(r["median_s"] > 0 for r in chains)
    assert 0 < report["figures"]["E"]["linearity tinygrad_edu"] < 100
    shares = report["figures"]["C"]
    assert 0 < shares["matmul share of the step, numpy"] and 0 < shares["matmul share of the step, tinygrad_edu"]
    memory = [r for r in report["results"] if r["case"].startswith("memory")]
    assert {r["implementation"] for r in memory} == {"numpy", "reference", "tinygrad_edu", "compiled"}
    assert all(r["peak_bytes"] > 0 and r["median_s"] is None for r in memory)
    assert "matmul share of the step, tinygrad_edu" in out and "peak memory ratio to floor, compiled" in out


@pytest.mark.parametrize("argv,message", [
    (["--scenarios", "A,Q"], "unknown scenario(s) Q"),
    (["--threads", "0"], "must be at least 1"),
    (["--implementations", "numpy,jax"], "unknown implementation(s) jax"),
])
def test_command_line_refuses_bad_options_in_one_line(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_an_unwritable_json_path_is_refused_before_anything_is_timed(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(bench, "Worker", lambda *args: started.append(args))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for path, message in [(blocker / "bench.json", "cannot write a file in"), (tmp_path, "is a folder"),
                          (tmp_path / "missing" / "bench.json", "cannot write a file in")]:
        assert cli.main(["bench", "--quick", "--scenarios", "E", "--json", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err and err.count("\n") == 1
    assert started == []  # refused before the first worker started
    bench.check_json_path(tmp_path / "b.json")  # a writable place passes (the quick runs above write one)
    assert list(tmp_path.iterdir()) == [blocker]  # the check leaves nothing behind


# ----------------------------------------------------------------------------- the workers


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc to read a process's state")
def test_a_worker_is_stopped_between_its_turns_and_reports_failures():
    worker = harness.Worker("numpy", threads=1)
    try:
        pid = worker.ask(op="about")["pid"]
        assert _state(pid) == "T"  # stopped: not even its idle threads run while another worker is timed
        with pytest.raises(harness.WorkerError, match="IndexError"):  # there is no case 99
            worker.ask(op="load", scenario="A", case=99, quick=True, implementation="numpy")
        worker.ask(op="load", scenario="D", case=0, quick=True, implementation="numpy")  # it goes on
        assert worker.ask(op="repeat", number=3)["seconds"] > 0
        assert _state(pid) == "T"
    finally:
        worker.close()
    assert worker.process.returncode == 0


def test_peak_memory_sees_numpy_buffers():
    def prepare(number):
        return lambda: np.ones(1_000_000).sum()  # an 8 MB temporary

    assert 8_000_000 <= harness.peak_memory(prepare) < 9_000_000


# ----------------------------------------------------------------------------- the training step


def test_every_implementation_computes_the_same_step():
    """float64, two steps: same loss and same weights everywhere, so the timings compare equal work."""
    problem = bench.make_problem((4, 16, 8, 3), 16, np.float64)
    implementations = bench.step_implementations(problem)
    assert set(implementations) >= {"numpy", "reference", "tinygrad_edu"}
    losses = {name: [step(), step()] for name, step in implementations.items()}
    floor_losses = losses.pop("numpy")
    floor_params = implementations.pop("numpy").parameters()
    assert floor_losses[0] != floor_losses[1]  # the first step changed the weights
    for name, step in implementations.items():
        np.testing.assert_allclose(losses[name], floor_losses, rtol=0, atol=1e-10, err_msg=name)
        for (W, b), (W_ref, b_ref) in zip(step.parameters(), floor_params):
            np.testing.assert_allclose(W, W_ref, rtol=0, atol=1e-10, err_msg=name)
            np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-10, err_msg=name)
    initial = problem.weights[0].copy()
    for step in bench.step_implementations(problem).values():
        step()
        step.reset()  # each timed repeat starts from the same weights
        np.testing.assert_array_equal(step.parameters()[0][0], initial)


def test_the_floor_step_works_in_float32():
    """Its parameters stay float32, and it allocates about half the float64 step's bytes: no float64 temporaries."""
    def peak(dtype):
        step = steps.FloorStep(bench.make_problem((784, 256, 128, 10), 128, dtype))
        return harness.peak_memory(lambda number: step), step

    peak32, step32 = peak(np.float32)
    peak64, _ = peak(np.float64)
    assert all(W.dtype == b.dtype == np.float32 for W, b in step32.parameters())
    assert isinstance(step32(), float)
    assert 0.4 < peak32 / peak64 < 0.6


@pytest.mark.parametrize("sizes,batch", [((4, 16, 8, 3), 16), ((784, 256, 128, 10), 128)], ids=["A", "B"])
def test_float32_step_stays_float32_end_to_end(sizes, batch):
    problem = bench.make_problem(sizes, batch, np.float32)
    assert problem.x.dtype == problem.onehot.dtype == problem.weights[0].dtype == np.float32
    step = steps.TinygradStep(problem)
    loss = step.cross_entropy(step.model.logits(problem.x), problem.labels)
    graph = topological_order([loss])
    assert len(graph) > 10 and {t.dtype for t in graph} == {np.dtype(np.float32)}  # every activation
    loss.backward()
    params = step.model.parameters()
    assert all(p.grad.dtype == np.float32 for p in params)
    step.optimizer.step()
    assert all(p.dtype == np.float32 for p in params)
    assert isinstance(step(), float)

    reference = steps.ReferenceStep(problem)  # the tutorial's network does float32 work too
    reference()
    assert all(W.dtype == b.dtype == np.float32 for W, b in reference.parameters())
    assert all(dW.dtype == np.float32 for dW in reference.net.dWs)
