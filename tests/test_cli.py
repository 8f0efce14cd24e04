"""The ``tinygrad-edu`` command: subcommands, exit statuses, one-line errors (run for real in a subprocess)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import cli, demo
from tinygrad_edu.engine.function import Function
from tinygrad_edu.tools import opspec
from tinygrad_edu.tools.opspec import REGISTRY, OpSpec

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygrad_edu", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=120)


def test_gradcheck_command_passes_and_prints_a_table():
    result = run_cli("gradcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "kind", "orders", "max", "abs", "error", "max", "rel", "error", "result"]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line and line.split()[0] in
            {spec.name for spec in REGISTRY}}
    assert set(rows) == {spec.name for spec in REGISTRY}
    assert all(row[-1] == "PASS" for row in rows.values())
    assert lines[-1] == f"all {len(REGISTRY) + len(opspec.MODULE_CHECKS)} checks passed"
    assert result.stderr == ""


class WrongExp(Function):
    """out = exp(x);  dx = 2 * g * out (deliberately wrong)"""

    saves_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out, x):
        return (2 * g * out,)


def test_gradcheck_exit_status_is_1_when_a_check_fails(monkeypatch, capsys):
    broken = OpSpec("wrong_exp", lambda x: WrongExp.apply(x), np.exp, second_order=False)
    monkeypatch.setattr(opspec, "REGISTRY", (REGISTRY[0], broken))
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "wrong_exp" in out and "FAIL" in out and "1 of 2 checks FAILED" in out
    assert cli.main(["gradcheck", "--only", "exp"]) == 0


@pytest.mark.parametrize("args, message", [
    (["demo", "mnist"], "argument dataset: invalid choice: 'mnist'"),
    (["demo", "--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
    (["demo", "--epochs", "-5"], "argument --epochs: must be at least 1, got -5"),
    (["demo", "--epochs", "ten"], "argument --epochs: expected a whole number, got 'ten'"),
    (["demo", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["demo", "--lr", "-0.1"], "argument --lr: must be a positive finite number, got -0.1"),
    (["demo", "--seed", "-1"], "argument --seed: must not be negative, got -1"),
    (["demo", "--colour"], "unrecognized arguments: --colour"),
    (["gradcheck", "--only", "nonsense"], "unknown check name(s) nonsense; known: exp, "),
    (["train"], "argument COMMAND: invalid choice: 'train'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_arguments_get_one_line_and_status_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-edu: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_unwritable_out_folder_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli("demo", "--epochs", "1", "--out", str(blocker / "results"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"tinygrad-edu: error: cannot write to the output folder '{blocker / 'results'}'")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_help_and_version():
    result = run_cli("--help")
    assert result.returncode == 0 and "demo" in result.stdout and "gradcheck" in result.stdout
    result = run_cli("demo", "--help")
    assert result.returncode == 0
    for option in ("--epochs", "--lr", "--batch-size", "--optimizer", "--seed", "--out", "iris,moons,spirals"):
        assert option in result.stdout
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == "tinygrad-edu 0.1.0"


def test_demo_defaults_are_the_tutorials():
    args = cli.build_parser().parse_args(["demo"])
    assert (args.dataset, args.optimizer, args.seed, args.out) == ("iris", "sgd", 42, "tinygrad_edu_out")
    assert args.epochs is None and args.lr is None and args.batch_size is None  # filled from the dataset's row
    iris = demo.DATASETS["iris"]
    assert iris.layer_sizes(4, 3) == [4, 16, 8, 3]
    assert iris.activations == ("relu", "relu", "softmax")
    assert (iris.epochs, iris.lr, iris.batch_size) == (1000, 0.1, 16)
    assert set(demo.DATASETS) >= {"iris", "moons", "spirals"} and set(demo.OPTIMIZERS) == {"sgd", "momentum", "adam"}


def test_demo_arguments_parse():
    args = cli.build_parser().parse_args(["demo", "moons", "--epochs", "5", "--lr", "0.05", "--batch-size", "8",
                                          "--optimizer", "adam", "--seed", "3", "--out", "x"])
    assert (args.dataset, args.epochs, args.lr, args.batch_size, args.optimizer, args.seed, args.out) == \
        ("moons", 5, 0.05, 8, "adam", 3, "x")


@pytest.mark.parametrize("name", ["iris", "moons", "spirals"])
def test_demo_data_is_split_stratified_and_standardised(name):
    X_train, X_test, y_train, y_test = demo.load_split(demo.DATASETS[name], seed=42)
    n = len(X_train) + len(X_test)
    assert len(X_test) == int(np.ceil(0.2 * n))
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X_train.std(axis=0), 1, atol=1e-5)
    counts_test, counts_all = np.bincount(y_test), np.bincount(np.concatenate([y_train, y_test]))
    assert (np.abs(counts_test - 0.2 * counts_all) < 1).all()
    again = demo.load_split(demo.DATASETS[name], seed=42)
    np.testing.assert_array_equal(again[0], X_train)


def test_writable_folder_creates_nested_folders_and_leaves_no_probe(tmp_path):
    folder = cli.writable_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []
    with pytest.raises(cli.UsageError, match="cannot write to the output folder"):
        cli.writable_folder(tmp_path / "a" / "b" / "c" / "\0")


def test_adding_a_subcommand_is_one_table_row(monkeypatch, capsys):
    def add_arguments(parser):
        parser.add_argument("--name", default="world")

    def run(args):
        print(f"hello {args.name}")
        return 3

    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + (cli.Command("hello", "say hello", add_arguments, run),))
    assert cli.main(["hello", "--name", "graph"]) == 3
    assert capsys.readouterr().out == "hello graph\n"


def test_console_script_points_at_main():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'tinygrad-edu = "tinygrad_edu.cli:main"' in pyproject
    assert (ROOT / "tinygrad_edu" / "__main__.py").exists()
