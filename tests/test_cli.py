"""The ``tinygrad-edu`` command: subcommands, exit statuses, one-line errors (run for real in a subprocess)."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import cli, demo
from tinygrad_edu.nn import Module, Parameter
from tinygrad_edu.tools import opspec
from tinygrad_edu.tools.opspec import REGISTRY, OpSpec

from _doubles import WrongExp  # a Function whose gradient is deliberately wrong

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
    module_rows = {line.split()[0]: line.split() for line in lines[2:] if line and line.split()[0] in
                   {check.name for check in opspec.MODULE_CHECKS}}
    assert set(module_rows) == {check.name for check in opspec.MODULE_CHECKS}
    assert all(row[1] in ("module", "loss") and row[-1] == "PASS" for row in module_rows.values())


def test_gradcheck_exit_status_is_1_when_a_check_fails(monkeypatch, capsys):
    broken = OpSpec("wrong_exp", lambda x: WrongExp.apply(x), np.exp, second_order=False)
    monkeypatch.setattr(opspec, "REGISTRY", (REGISTRY[0], broken))
    monkeypatch.setattr(opspec, "MODULE_CHECKS", [])
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "wrong_exp" in out and "FAIL" in out and "1 of 2 checks FAILED" in out
    assert cli.main(["gradcheck", "--only", "exp"]) == 0


class DoubledTanh(Module):
    """tanh(x @ w) whose recorded backward is twice the truth (a deliberately broken module)."""

    def __init__(self):
        super().__init__()
        self.weight = Parameter(np.array([[0.5, -1.0], [1.5, 0.25]]), dtype=np.float64)

    def forward(self, x):
        return WrongExp.apply(x @ self.weight).tanh()


def test_gradcheck_exit_status_is_1_when_a_module_check_fails(monkeypatch, capsys):
    broken = opspec.ModuleCheck("DoubledTanh", lambda rng: opspec.module_as_function(
        DoubledTanh(), rng.standard_normal((3, 2))), second_order=False)
    monkeypatch.setattr(opspec, "MODULE_CHECKS", [opspec.MODULE_CHECKS[0], broken])
    assert cli.main(["gradcheck", "--only", "Linear", "DoubledTanh"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("Linear", "DoubledTanh"))}
    assert rows["Linear"][-1] == "PASS" and rows["DoubledTanh"][-1] == "FAIL"
    assert float(rows["DoubledTanh"][3]) > 0.1  # the max abs error column shows how wrong it is
    assert "1 of 2 checks FAILED" in out and "DoubledTanh: gradcheck: input 0" in out
    assert cli.main(["gradcheck", "--only", "Linear"]) == 0


@pytest.mark.parametrize("args, message", [
    (["demo", "mnist"], "argument dataset: invalid choice: 'mnist'"),
    (["demo", "--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
    (["demo", "--epochs", "-5"], "argument --epochs: must be at least 1, got -5"),
    (["demo", "--epochs", "ten"], "argument --epochs: expected a whole number, got 'ten'"),
    (["demo", "--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["demo", "--lr", "-0.1"], "argument --lr: must be a positive finite number, got -0.1"),
    (["demo", "--seed", "-1"], "argument --seed: must not be negative, got -1"),
    (["demo", "--colour"], "unknown option --colour for demo; see --help"),
    (["demo", "--optimiser", "adam"], "unknown option --optimiser for demo; did you mean --optimizer?"),
    (["demo", "--epoch=3", "--batchsize", "8"], "unknown option --batchsize for demo; did you mean --batch-size?"),
    (["graph", "--grad", "--layer-sizes=4,3"], "unknown option --layer-sizes for graph; did you mean --layers?"),
    (["--verison"], "unknown option --verison; did you mean --version?"),
    (["gradcheck", "--only", "nonsense"], "unknown check name(s) nonsense; known: exp, "),
    (["train"], "argument COMMAND: invalid choice: 'train'"),
    (["graph", "--layers", "4,16,3", "--activations", "relu,relu,softmax"],
     "--layers 4,16,3 makes 2 layers, which need 2 activations; --activations gives 3"),
    (["graph", "--activations", "relu,swish,softmax"], "argument --activations: unknown activation 'swish'"),
    (["graph", "--layers", "4"], "argument --layers: needs an input and an output size"),
    (["graph", "--layers", "4,0,3"], "argument --layers: must be at least 1, got 0"),
    (["graph", "--out", "graph.gif"], "--out must end in .svg, .png, .pdf, got 'graph.gif'"),
    (["explore", "--out", "backprop.svg"], "--out must end in .html, got 'backprop.svg'"),
    (["explore", "--layers", "4,3", "--activations", "relu,softmax"],
     "--layers 4,3 makes 1 layers, which need 1 activations; --activations gives 2"),
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
    for option in ("--epochs", "--lr", "--batch-size", "--optimizer", "--seed", "--out", "iris,moons,spirals,digits"):
        assert option in result.stdout
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == "tinygrad-edu 0.1.0"


def test_demo_defaults_are_the_tutorials():
    args = cli.build_parser().parse_args(["demo"])
    assert (args.dataset, args.seed, args.out) == ("iris", demo.DEFAULT_SEED, "tinygrad_edu_out")
    # None: filled from the dataset's row
    assert args.epochs is None and args.lr is None and args.batch_size is None and args.optimizer is None
    iris = demo.DATASETS["iris"]
    model = iris.build_model()
    assert model.layer_sizes == (4, 16, 8, 3) and model.activation_names == ("relu", "relu", "softmax")
    assert demo.scores_of(model) == model.logits  # trained as cross_entropy(model.logits(x), y)
    assert (iris.optimizer, iris.epochs, iris.lr, iris.batch_size) == ("sgd", 1000, 0.1, 16)
    assert iris.prepare is demo.standardise
    assert set(demo.DATASETS) == {"iris", "moons", "spirals", "digits"}
    assert set(demo.OPTIMIZERS) == {"sgd", "momentum", "adam"}
    assert all(spec.optimizer in demo.OPTIMIZERS for spec in demo.DATASETS.values())


def test_demo_arguments_parse():
    args = cli.build_parser().parse_args(["demo", "moons", "--epochs", "5", "--lr", "0.05", "--batch-size", "8",
                                          "--optimizer", "adam", "--seed", "3", "--out", "x"])
    assert (args.dataset, args.epochs, args.lr, args.batch_size, args.optimizer, args.seed, args.out) == \
        ("moons", 5, 0.05, 8, "adam", 3, "x")
    assert args.compile is False
    assert cli.build_parser().parse_args(["demo", "--compile"]).compile is True


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


def test_demo_digits_are_images_in_0_1_split_stratified():
    X_train, X_test, y_train, y_test = demo.load_split(demo.DATASETS["digits"], seed=0)
    assert X_train.shape == (1437, 1, 8, 8) and X_test.shape == (360, 1, 8, 8)
    assert X_train.dtype == np.float32 and X_train.min() == 0.0 and X_train.max() == 1.0
    counts_test, counts_all = np.bincount(y_test), np.bincount(np.concatenate([y_train, y_test]))
    assert (np.abs(counts_test - 0.2 * counts_all) < 1).all()
    assert demo.DATASETS["digits"].build_model()(X_test[:2]).shape == (2, 10)


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


# ---------------------------------------------------------------------------- graph


def test_graph_command_draws_one_training_step_as_svg(tmp_path):
    out = tmp_path / "pictures" / "graph.svg"
    result = run_cli("graph", "--layers", "4,16,8,3", "--activations", "relu,relu,softmax", "--out", str(out))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == f"Wrote {out}"
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and out.stat().st_size > 10_000
    text = ET.tostring(root, encoding="unicode")
    for part in ("layers.0.weight", "layers.2.bias", "MatMul", "Relu", "LogSoftmax", "loss"):
        assert part in text
    assert "‖grad‖" not in text


def test_graph_command_shows_gradients_and_writes_png_and_pdf(tmp_path):
    result = run_cli("graph", "--layers", "2,3,2", "--activations", "tanh,softmax", "--grads",
                     "--out", str(tmp_path / "g.svg"))
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "‖grad‖" in svg and "Tanh" in svg
    assert run_cli("graph", "--out", str(tmp_path / "g.png")).returncode == 0
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert run_cli("graph", "--out", str(tmp_path / "g.pdf")).returncode == 0
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF-")


def test_graph_command_refuses_an_unwritable_out_file(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli("graph", "--out", str(blocker / "graph.svg"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"tinygrad-edu: error: cannot write to the output folder '{blocker}'")
    assert len(result.stderr.splitlines()) == 1
    (tmp_path / "taken.svg").mkdir()  # a folder where the file should go
    result = run_cli("graph", "--out", str(tmp_path / "taken.svg"))
    assert result.returncode == 2 and result.stderr.startswith("tinygrad-edu: error: cannot write")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("layers", ["1000000,1000000", "4,100000000000,3"])
def test_graph_command_with_layers_too_large_for_memory_gives_one_line(tmp_path, layers):
    result = run_cli("graph", "--layers", layers, "--out", str(tmp_path / "g.svg"))
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"tinygrad-edu: error: --layers {layers}: drawing one step of these layers needs about")
    assert "GiB, more memory than is free" in line and not (tmp_path / "g.svg").exists()


def test_graph_command_turns_a_memory_error_into_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "memory_available", lambda: None)  # a system that cannot tell
    assert cli.main(["graph", "--layers", "1000000,1000000", "--out", str(tmp_path / "g.svg")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tinygrad-edu: error: --layers 1000000,1000000: drawing one step of these layers "
                           "needs more memory than is free")


def test_graph_command_without_dot_says_what_to_install(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "tinygrad_edu", "graph", "--out", str(tmp_path / "g.svg")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "Graphviz's dot program" in line and "install" in line
    assert not (tmp_path / "g.svg").exists()


# ---------------------------------------------------------------------------- explore


def test_explore_command_writes_the_explorer_of_one_training_step(tmp_path):
    out = tmp_path / "pages" / "backprop.html"
    result = run_cli("explore", "--layers", "4,16,8,3", "--out", str(out))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip() == f"Wrote {out}"
    page = out.read_text(encoding="utf-8")
    for part in ("<!DOCTYPE html>", "Backprop explorer: loss (scalar)", "layers.1: Linear(16, 8)", "layers.0.weight"):
        assert part in page
    assert "‖grad‖" not in page
    result = run_cli("explore", "--layers", "2,3,2", "--activations", "tanh,softmax", "--grads", "--out", str(out))
    assert result.returncode == 0 and "‖grad‖" in out.read_text(encoding="utf-8")
    (tmp_path / "taken.html").mkdir()  # a folder where the page should go
    result = run_cli("explore", "--out", str(tmp_path / "taken.html"))
    assert result.returncode == 2 and result.stderr.startswith("tinygrad-edu: error: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages", "taken.html"]  # no temporary file left


def test_explore_command_without_dot_says_what_to_install(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "tinygrad_edu", "explore", "--out", str(tmp_path / "b.html")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "Graphviz's dot program" in line and not (tmp_path / "b.html").exists()
