"""The benchmark runs (quick mode) and reports what it promises; no timing is asserted.

The training-step implementations are checked to do the same work: same loss and
weights after a step, and float32 kept float32 end to end.
"""
import json

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import bench, cli
from tinygrad_edu.engine.autograd import topological_order


def test_quick_run_prints_the_table_and_writes_the_same_figures(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert bench.main(["--quick", "--scenarios", "D,E", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.read_text())

    env = report["environment"]
    assert env["numpy"] == np.__version__ and env["blas_threads"] >= 1
    assert f"numpy {np.__version__}" in out and f"{env['blas_threads']} thread" in out
    if env["torch"] is not None:
        assert env["torch_threads"] == env["blas_threads"]  # thread counts set equal

    timed = [r for r in report["results"] if not r["case"].startswith("memory of one step")]
    cases = {(r["scenario"], r["case"]) for r in timed}
    assert [s for s, _ in sorted(cases)].count("D") == 2 and [s for s, _ in sorted(cases)].count("E") == 3
    for r in timed:
        assert r["implementation"] in ("numpy", "tinygrad_edu", "torch")
        assert r["median_s"] > 0 and len(r["repeats_s"]) == 3 and r["calls_per_repeat"] >= 1
        assert r["ratio_to_floor"] > 0
        assert (r["ratio_to_torch"] is None) == (env["torch"] is None)
        assert r["case"] in out
    floors = [r for r in timed if r["implementation"] == "numpy"]
    assert floors and all(r["ratio_to_floor"] == 1.0 for r in floors)
    assert "median" in out and "/ floor" in out and "/ torch" in out
    assert 0 < report["figures"]["E"]["linearity tinygrad_edu"] < 100
    assert "linearity tinygrad_edu" in out


def test_unknown_scenario_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--scenarios", "Z"])
    assert "unknown scenario" in capsys.readouterr().err


def test_command_line_runs_every_scenario_quickly(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.read_text())
    assert set(report["scenarios"]) == {"A", "B", "C", "D", "E"}
    cases = {r["case"] for r in report["results"]}
    for expected in ("training step 4-16-8-3, batch 16, float64", "training step 4-16-8-3, batch 16, float32",
                     "training step 784-256-128-10, batch 128, float32", "its matmuls alone",
                     "memory of one step: training step 784-1024-1024-10"):
        assert any(case.startswith(expected) for case in cases), expected
        assert expected in out
    steps = [r for r in report["results"] if r["case"].startswith("training step")]
    implementations = {"numpy", "tinygrad_edu"} | ({"torch"} if report["environment"]["torch"] else set())
    assert {r["implementation"] for r in steps} == implementations
    assert all(r["median_s"] > 0 and r["ratio_to_floor"] > 0 for r in steps)
    shares = report["figures"]["C"]
    assert 0 < shares["matmul share of the step, numpy"] and 0 < shares["matmul share of the step, tinygrad_edu"]
    memory = [r for r in report["results"] if r["case"].startswith("memory")]
    assert {r["implementation"] for r in memory} == {"numpy", "tinygrad_edu"}
    assert all(r["peak_bytes"] > 0 for r in memory)
    assert "matmul share of the step, tinygrad_edu" in out and "peak memory ratio to floor" in out


@pytest.mark.parametrize("argv,message", [
    (["--scenarios", "A,Q"], "unknown scenario(s) Q"),
    (["--threads", "0"], "must be at least 1"),
])
def test_command_line_refuses_bad_options_in_one_line(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_an_unwritable_json_path_is_refused_before_anything_is_timed(tmp_path, capsys, monkeypatch):
    timed = []
    monkeypatch.setattr(bench, "run_scenario", lambda *args: timed.append(args) or ([], {}))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for path, message in [(blocker / "bench.json", "cannot write a file in"), (tmp_path, "is a folder"),
                          (tmp_path / "missing" / "bench.json", "cannot write a file in")]:
        assert cli.main(["bench", "--quick", "--scenarios", "E", "--json", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err and err.count("\n") == 1
    assert timed == []  # refused before the first scenario ran
    bench.check_json_path(tmp_path / "b.json")  # a writable place passes (the quick run above writes one)
    assert list(tmp_path.iterdir()) == [blocker]  # the check leaves nothing behind


# ----------------------------------------------------------------------------- the training step


def test_every_implementation_computes_the_same_step():
    """float64, two steps: same loss and same weights everywhere, so the timings compare equal work."""
    problem = bench.make_problem((4, 16, 8, 3), 16, np.float64)
    steps = bench.step_implementations(problem)
    assert set(steps) >= {"numpy", "tinygrad_edu"}
    losses = {name: [step(), step()] for name, step in steps.items()}
    reference_losses = losses.pop("numpy")
    reference_params = steps.pop("numpy").parameters()
    assert reference_losses[0] != reference_losses[1]  # the first step changed the weights
    for name, step in steps.items():
        np.testing.assert_allclose(losses[name], reference_losses, rtol=0, atol=1e-10, err_msg=name)
        for (W, b), (W_ref, b_ref) in zip(step.parameters(), reference_params):
            np.testing.assert_allclose(W, W_ref, rtol=0, atol=1e-10, err_msg=name)
            np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-10, err_msg=name)
    initial = problem.weights[0].copy()
    for step in bench.step_implementations(problem).values():
        step()
        step.reset()  # each timed repeat starts from the same weights
        np.testing.assert_array_equal(step.parameters()[0][0], initial)


@pytest.mark.parametrize("sizes,batch", [((4, 16, 8, 3), 16), ((784, 256, 128, 10), 128)], ids=["A", "B"])
def test_float32_step_stays_float32_end_to_end(sizes, batch):
    problem = bench.make_problem(sizes, batch, np.float32)
    assert problem.x.dtype == problem.onehot.dtype == problem.weights[0].dtype == np.float32
    step = bench.TinygradStep(problem)
    loss = step.cross_entropy(step.model.logits(problem.x), problem.labels)
    graph = topological_order([loss])
    assert len(graph) > 10 and {t.dtype for t in graph} == {np.dtype(np.float32)}  # every activation
    loss.backward()
    params = step.model.parameters()
    assert all(p.grad.dtype == np.float32 for p in params)
    step.optimizer.step()
    assert all(p.dtype == np.float32 for p in params)
    assert isinstance(step(), float)

    floor = bench.ReferenceStep(problem)  # the floor does float32 work too
    floor()
    assert all(W.dtype == b.dtype == np.float32 for W, b in floor.parameters())
    assert all(dW.dtype == np.float32 for dW in floor.net.dWs)


def test_peak_memory_sees_numpy_buffers():
    def prepare(number):
        return lambda: np.ones(1_000_000).sum()  # an 8 MB temporary

    assert 8_000_000 <= bench.peak_memory(prepare) < 9_000_000


def test_a_later_scenario_plugs_in_as_a_table_entry(monkeypatch, capsys):
    """A step scenario (as C will be) is timed like the others, and E reports its memory."""
    w_np = np.full((64, 64), 0.01)
    w = tg.Tensor(w_np, requires_grad=True)

    def step_cases(quick):
        def numpy_step():
            h = w_np @ w_np
            return (h @ w_np.T) + (w_np.T @ h)

        def ours():
            w.grad = None
            ((w @ w) @ w).sum().backward()

        return [bench.Case("tiny step", {"numpy": lambda n: numpy_step, "tinygrad_edu": lambda n: ours})]

    monkeypatch.setitem(bench.SCENARIOS, "C", bench.Scenario("C", "a test step", step_cases))
    monkeypatch.setattr(bench, "CHAIN_SIZES", (100, 200))
    assert bench.main(["--quick", "--scenarios", "C,E"]) == 0
    out = capsys.readouterr().out
    assert "tiny step" in out and "memory of one step: tiny step" in out and "MiB" in out
    assert "peak memory ratio to floor" in out
