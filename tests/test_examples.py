"""The scripts in examples/ run with the real package (a few epochs each; pictures go to a temporary folder)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines main(); runs nothing
    return module


def test_iris_prints_the_tutorials_log(capsys):
    train_accuracy, test_accuracy = load_example("iris").main(epochs=20)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Training Neural Network...", "-" * 50]
    assert lines[2] == "Epoch 2/20, Loss: " + lines[2].split()[-1] and len(lines) == 2 + 10 + 3
    assert lines[-2:] == [f"Training Accuracy: {train_accuracy:.2f}%", f"Testing Accuracy: {test_accuracy:.2f}%"]
    assert test_accuracy > 80


def test_decision_boundary_draws_the_picture(tmp_path, capsys):
    picture = tmp_path / "boundary.png"
    accuracy = load_example("decision_boundary").main(epochs=10, out=picture)
    assert accuracy > 70 and picture.read_bytes().startswith(PNG_MAGIC)
    assert f"Wrote {picture}" in capsys.readouterr().out


def test_perceptron_separates_setosa():
    assert load_example("perceptron").main(epochs=10) == 100.0


def test_optimizers_compares_three_loss_curves(tmp_path):
    picture = tmp_path / "optimizers.png"
    losses = load_example("optimizers").main(epochs=5, out=picture)
    assert list(losses) == ["SGD", "SGD + momentum 0.9", "Adam"]
    assert all(len(curve) == 5 and np.isfinite(curve).all() for curve in losses.values())
    assert len({curve[0] for curve in losses.values()}) == 3  # same start, different optimizers
    assert picture.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize("name", ["iris", "decision_boundary", "perceptron", "optimizers"])
def test_examples_run_as_scripts(tmp_path, name):
    """``python examples/NAME.py --epochs 2`` from another folder: the pictures land there, not in the repository."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--epochs", "2"], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout
