"""``tinygrad-edu demo``: the tutorial's numbers, real picture files, determinism, and missing tools."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg

from tinygrad_edu import demo
from tinygrad_edu.train import evaluate

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EPOCH_LINE = re.compile(r"^Epoch (\d+)/(\d+), Loss: \d+\.\d{4}$")
ACCURACY_LINE = re.compile(r"^(Training|Testing) Accuracy: \d{1,3}\.\d{2}%$")


def run_python(*args, env=None, cwd=None):
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env,
                          timeout=120)


def run_demo_command(*args, env=None, block_matplotlib=False, block_onnx=False):
    """``tinygrad-edu demo ...`` in a fresh interpreter, optionally one where matplotlib or onnx cannot be imported."""
    block = ("sys.modules['matplotlib'] = None; " if block_matplotlib else "") + \
        ("sys.modules['onnx'] = None; " if block_onnx else "")
    code = f"import sys; {block}from tinygrad_edu.cli import main; sys.exit(main(sys.argv[1:]))"
    return run_python("-c", code, "demo", *args, env=env)


def assert_png(path, min_bytes=5_000):
    data = Path(path).read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) >= min_bytes, path


def assert_svg(path, min_bytes=5_000):
    assert Path(path).stat().st_size >= min_bytes, path
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return root


def tutorial_log(stdout, epochs):
    """The tutorial's lines, in order: title, rule, progress lines, rule, two accuracies."""
    lines = stdout.splitlines()
    start = lines.index("Training Neural Network...")
    assert lines[start + 1] == demo.RULE == "-" * 50
    progress = []
    i = start + 2
    while EPOCH_LINE.match(lines[i]):
        progress.append(int(EPOCH_LINE.match(lines[i]).group(1)))
        assert int(EPOCH_LINE.match(lines[i]).group(2)) == epochs
        i += 1
    assert lines[i] == demo.RULE
    assert ACCURACY_LINE.match(lines[i + 1]) and lines[i + 1].startswith("Training")
    assert ACCURACY_LINE.match(lines[i + 2]) and lines[i + 2].startswith("Testing")
    return progress, float(lines[i + 2].split()[-1].rstrip("%"))


# ---------------------------------------------------------------------------- the tutorial's run


def test_the_default_iris_run_reaches_the_tutorials_test_accuracy(capsys):
    run = demo.train()  # every default: [4, 16, 8, 3], SGD lr 0.1, batch 16, 1000 epochs, DEFAULT_SEED
    assert run.settings == {"dataset": "iris", "network": "MLP [4, 16, 8, 3], relu, relu, softmax",
                            "optimizer": "sgd", "lr": 0.1, "batch_size": 16, "epochs": 1000,
                            "seed": demo.DEFAULT_SEED}
    progress, printed_accuracy = tutorial_log(capsys.readouterr().out, epochs=1000)
    assert progress == list(range(100, 1001, 100))  # the tutorial's "every 100 epochs"
    assert run.test_accuracy >= 0.9666 and printed_accuracy >= 96.67
    assert run.train_accuracy >= 0.98
    assert len(run.history.loss) == 1000 and run.history.loss[-1] < 0.05


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    runs = [demo.run_demo("iris", tmp_path / name, epochs=15, seed=seed) for name, seed in
            (("a", 7), ("b", 7), ("c", 8))]
    first, again, other = (json.loads((tmp_path / name / "history.json").read_text()) for name in "abc")
    assert first == again and first["loss"] != other["loss"]
    weights = [tg.load(tmp_path / name / "weights.safetensors")['model'] for name in "ab"]
    assert weights[0].keys() == weights[1].keys()
    assert all(np.array_equal(weights[0][key], weights[1][key]) for key in weights[0])
    assert runs[0].test_accuracy == runs[1].test_accuracy


def test_the_saved_weights_are_the_trained_model(tmp_path):
    run = demo.run_demo("iris", tmp_path, epochs=20)
    fresh = demo.DATASETS["iris"].build_model()
    fresh.load_state_dict(tg.load(tmp_path / "weights.safetensors")['model'])
    assert evaluate(fresh.logits, run.X_test, run.y_test).accuracy == run.test_accuracy
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["test_accuracy"] == run.test_accuracy and record["epochs"] == 20 and len(record["loss"]) == 20
    report = (tmp_path / "gradients.txt").read_text()
    assert report.startswith("Gradient flow") and "layers.0.weight" in report and "layers.2.bias" in report


def test_predict_leaves_the_model_in_its_mode(tmp_path):
    run = demo.train("moons", epochs=2, verbose=False)
    run.model.train()
    assert run.predict(run.X_test).shape == (len(run.X_test),) and run.model.training
    run.model.eval()
    run.predict(run.X_test[:3])
    assert not run.model.training


# ---------------------------------------------------------------------------- the command, end to end


EXPECTED_FILES = {
    "iris": {"loss_curve.png", "training_step.svg", "backprop.html"},
    "moons": {"loss_curve.png", "training_step.svg", "backprop.html", "decision_boundary.png"},
    "spirals": {"loss_curve.png", "training_step.svg", "backprop.html", "decision_boundary.png"},
    "digits": {"loss_curve.png", "training_step.svg", "backprop.html", "filters.png", "misclassified.png"},
}
ALWAYS = {"history.json", "weights.safetensors", "gradients.txt"} | ({"model.onnx"} if tg.onnx.have_onnx() else set())


@pytest.mark.parametrize("dataset, epochs", [("iris", 4), ("moons", 3), ("spirals", 3), ("digits", 2)])
def test_demo_command_writes_every_output(tmp_path, dataset, epochs):
    out = tmp_path / "results"
    result = run_demo_command(dataset, "--epochs", str(epochs), "--out", str(out))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    progress, _ = tutorial_log(result.stdout, epochs)
    assert progress == list(range(1, epochs + 1))  # ten lines a run, at most one per epoch
    assert {path.name for path in out.iterdir()} == ALWAYS | EXPECTED_FILES[dataset]
    for name in EXPECTED_FILES[dataset] - {"backprop.html"}:
        (assert_png if name.endswith(".png") else assert_svg)(out / name)
    page = (out / "backprop.html").read_text(encoding="utf-8")  # the explorer of the same step
    assert page.startswith("<!DOCTYPE html>") and "Backprop explorer: loss (scalar)" in page and "<svg" in page
    root = assert_svg(out / "training_step.svg")
    text = ET.tostring(root, encoding="unicode")
    assert "LogSoftmax" in text and "MatMul" in text and "grad" in text
    history = json.loads((out / "history.json").read_text())
    assert history["settings"]["dataset"] == dataset and history["epochs"] == epochs
    weights = tg.load(out / "weights.safetensors")['model']
    assert set(weights) == set(demo.DATASETS[dataset].build_model().state_dict())
    assert "Pictures skipped" not in result.stdout


def test_digits_learned_filters_come_from_the_first_convolution(tmp_path):
    run = demo.run_demo("digits", tmp_path, epochs=1)
    weights = tg.load(tmp_path / "weights.safetensors")['model']
    np.testing.assert_array_equal(weights["0.weight"], run.model[0].weight.data)
    assert weights["0.weight"].shape == (8, 1, 3, 3)
    assert run.X_test.shape == (360, 1, 8, 8) and run.test_accuracy > 0.5


# ---------------------------------------------------------------------------- missing tools


def _path_without_dot(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    return dict(os.environ, PATH=str(empty))


def _skipped_lines(stdout):
    return [line for line in stdout.splitlines() if "install" in line]


def test_without_matplotlib_it_trains_and_says_in_one_line_what_to_install(tmp_path):
    result = run_demo_command("moons", "--epochs", "2", "--out", str(tmp_path), block_matplotlib=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "Testing Accuracy:" in result.stdout
    [line] = _skipped_lines(result.stdout)
    assert line.startswith("Pictures skipped (loss_curve.png, decision_boundary.png): install matplotlib")
    assert 'pip install "tinygrad_edu[plot]"' in line and "Graphviz" not in line
    assert {path.name for path in tmp_path.iterdir()} == ALWAYS | {"training_step.svg", "backprop.html"}


def test_without_dot_it_trains_and_says_in_one_line_what_to_install(tmp_path):
    out = tmp_path / "out"
    result = run_demo_command("iris", "--epochs", "2", "--out", str(out), env=_path_without_dot(tmp_path))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    [line] = _skipped_lines(result.stdout)
    assert line.startswith("Pictures skipped (training_step.svg, backprop.html): install Graphviz's dot program")
    assert "matplotlib" not in line
    assert {path.name for path in out.iterdir()} == ALWAYS | {"loss_curve.png"}


def test_without_either_one_line_names_both(tmp_path):
    out = tmp_path / "out"
    result = run_demo_command("iris", "--epochs", "2", "--out", str(out), env=_path_without_dot(tmp_path),
                              block_matplotlib=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    [line] = _skipped_lines(result.stdout)
    assert "loss_curve.png, training_step.svg, backprop.html" in line and "matplotlib" in line and "Graphviz" in line
    assert {path.name for path in out.iterdir()} == ALWAYS


# ---------------------------------------------------------------------------- atomic, strict, interruptible


def test_every_file_the_demo_writes_is_written_atomically(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((Path(src).name, Path(dst).name))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    demo.run_demo("moons", tmp_path, epochs=1)
    written = {path.name for path in tmp_path.iterdir()}
    assert written == ALWAYS | EXPECTED_FILES["moons"]
    assert {dst for _, dst in replaced} == written  # each one renamed into place from a temporary file
    assert all(src.startswith(".") and src.endswith(".tmp") for src, _ in replaced)


def test_history_json_is_strict_json_with_null_for_nan_and_inf(tmp_path):
    history = tg.train.History(loss=[0.5, float("nan"), float("inf")], accuracy=[0.5, 0.25, 0.25])
    run = types.SimpleNamespace(settings={"lr": 1e30}, history=history, train_accuracy=0.25,
                                test_accuracy=float("nan"))
    path = demo._write_history(run, tmp_path / "history.json")

    def refuse(token):
        raise AssertionError(f"{token} is not JSON")

    record = json.loads(path.read_text(), parse_constant=refuse)
    assert record["loss"] == [0.5, None, None] and record["test_accuracy"] is None
    assert record["train_accuracy"] == 0.25 and record["epochs"] == 3


def test_ctrl_c_during_training_writes_what_it_can_and_exits_130(tmp_path):
    out = tmp_path / "out"
    env = dict(_path_without_dot(tmp_path), PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "import sys; sys.modules['matplotlib'] = None; from tinygrad_edu.cli import main; sys.exit(main())"
    process = subprocess.Popen([sys.executable, "-u", "-c", code, "demo", "--epochs", "1000000", "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        lines = []
        while demo.RULE not in lines:  # the rule is printed just before training starts
            lines.append(process.stdout.readline().rstrip("\n"))
            assert lines[-1] or process.poll() is None, lines
        time.sleep(0.5)  # a few dozen epochs
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    history = json.loads((out / "history.json").read_text())
    assert history["interrupted"] is True and 1 <= history["epochs"] < 1_000_000
    assert len(history["loss"]) == history["epochs"]
    [line] = [line for line in stdout.splitlines() if line.startswith("Interrupted after")]
    assert line.startswith(f"Interrupted after {history['epochs']} of 1000000 epochs; wrote what the completed")
    assert "history.json, weights.safetensors, gradients.txt" in line
    weights = tg.load(out / "weights.safetensors")["model"]
    assert set(weights) == set(demo.DATASETS["iris"].build_model().state_dict())


def test_without_onnx_it_says_in_one_line_which_extra_writes_model_onnx(tmp_path):
    result = run_demo_command("iris", "--epochs", "2", "--out", str(tmp_path), block_onnx=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    [line] = _skipped_lines(result.stdout)
    assert line == 'ONNX file skipped (model.onnx): install onnx (pip install "tinygrad_edu[onnx]") to get it'
    assert "model.onnx" not in {path.name for path in tmp_path.iterdir()}
