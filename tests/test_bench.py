"""The benchmark runs (quick mode) and reports what it promises; no timing is asserted."""
import json

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import bench


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

    results = report["results"]
    cases = {(r["scenario"], r["case"]) for r in results}
    assert [s for s, _ in sorted(cases)].count("D") == 2 and [s for s, _ in sorted(cases)].count("E") == 3
    for r in results:
        assert r["implementation"] in ("numpy", "tinygrad_edu", "torch")
        assert r["median_s"] > 0 and len(r["repeats_s"]) == 3 and r["calls_per_repeat"] >= 1
        assert r["ratio_to_floor"] > 0
        assert (r["ratio_to_torch"] is None) == (env["torch"] is None)
        assert r["case"] in out
    floors = [r for r in results if r["implementation"] == "numpy"]
    assert floors and all(r["ratio_to_floor"] == 1.0 for r in floors)
    assert "median" in out and "/ floor" in out and "/ torch" in out
    assert 0 < report["figures"]["E"]["linearity tinygrad_edu"] < 100
    assert "linearity tinygrad_edu" in out


def test_unknown_scenario_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--scenarios", "Z"])
    assert "unknown scenario" in capsys.readouterr().err


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
