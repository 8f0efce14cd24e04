"""The exercises: init writes them, the reference solutions pass, untouched stubs are "not started",
and each classic mistake is caught with its hint, without the answer ever being printed."""
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import cli
from tinygrad_edu.exercises import README, init_folder, sheets, solutions
from tinygrad_edu.exercises.catalog import EXERCISES, Case, Exercise
from tinygrad_edu.exercises.check import check_file, check_folder, format_results

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    """``tinygrad-edu exercises ARGS`` for real, in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygrad_edu", "exercises", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def run_main(capsys, *args):
    """The same command through ``cli.main``, in this process: (exit status, stdout, stderr)."""
    status = cli.main(["exercises", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def solved(folder):
    """A folder whose every exercise is answered by the reference solution."""
    folder.mkdir(exist_ok=True)
    for exercise in EXERCISES:
        (folder / exercise.file).write_text(f"from tinygrad_edu.exercises.solutions import {exercise.entry}\n")
    return folder


def test_the_catalog_and_the_files_describe_the_same_twelve_exercises():
    assert [s.file for s in sheets()] == [e.file for e in EXERCISES] and len(EXERCISES) >= 12
    assert [s.name for s in sheets()] == [e.name for e in EXERCISES]
    names = {s.name for s in sheets()}
    assert {"mul", "sum", "matmul", "relu", "sigmoid", "tanh", "softmax_cross_entropy", "dense_layer", "dropout",
            "batch_norm", "adam", "l2"} <= names
    for s in sheets():  # every stub names its formula, its tutorial page (which exists) and a hint
        text = (Path(solutions.STUBS) / s.file).read_text()
        assert re.search(r"^Formula: +\S", text, re.M) and re.search(r"^Hint: +\S", text, re.M), s.file
        for page in re.findall(r"\((docs/[\w/.-]+\.md)\)", s.tutorial):
            assert (ROOT / page).is_file(), f"{s.file} sends the student to {page}, which does not exist"
        assert "NotImplementedError" in text


def test_init_writes_the_files_and_a_readme_and_never_overwrites(tmp_path):
    written = init_folder(tmp_path / "course")
    assert [p.name for p in written] == [s.file for s in sheets()] + [README]
    readme = (tmp_path / "course" / README).read_text()
    assert "<!-- the exercises -->" not in readme and "tinygrad-edu exercises check . mul" in readme
    for s in sheets():
        assert f"| `{s.file}` | `{s.name}` | {s.title} |" in readme
    (tmp_path / "course" / "01_mul.py").write_text("# my work\n")
    with pytest.raises(FileExistsError, match="already holds 01_mul.py, .*README.md"):
        init_folder(tmp_path / "course")
    assert (tmp_path / "course" / "01_mul.py").read_text() == "# my work\n"


def test_untouched_stubs_are_not_started_and_the_command_fails(tmp_path):
    result = run_cli("init", str(tmp_path / "ex"))
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.strip() == f"Wrote {len(EXERCISES)} exercises and their README to {tmp_path / 'ex'}: " \
                                    f"start with {tmp_path / 'ex' / README}"
    result = run_cli("check", str(tmp_path / "ex"))
    assert result.returncode == 1 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["exercise", "status"]
    assert [line.split()[-2:] for line in lines[1:-1]] == [["not", "started"]] * len(EXERCISES)
    assert lines[-1] == f"{len(EXERCISES)} not started (of {len(EXERCISES)})"
    again = run_cli("init", str(tmp_path / "ex"))
    assert again.returncode == 2 and "init never overwrites" in again.stderr


def test_the_reference_solutions_pass(tmp_path):
    results = check_folder(solved(tmp_path))
    assert [r.status for r in results] == ["done"] * len(EXERCISES), format_results(results)
    assert format_results(results).splitlines()[-1] == f"{len(EXERCISES)} done (of {len(EXERCISES)})"


def test_the_command_passes_when_everything_it_checks_is_done(tmp_path, capsys):
    folder = solved(tmp_path / "solved")
    (folder / "12_l2.py").write_text("def l2_backward(W, l2_lambda):\n    return -l2_lambda * W\n")
    status, out, _ = run_main(capsys, "check", str(folder), "mul")
    assert status == 0 and out.splitlines()[1].split()[-1] == "done"  # only mul is checked
    status, out, _ = run_main(capsys, "check", str(folder), "12_l2")
    assert status == 1 and out.splitlines()[-1] == "1 wrong (of 1)"
    status, _, err = run_main(capsys, "check", str(folder), "softmax")
    assert status == 2 and "no exercise 'softmax'; the exercises are mul, sum, matmul" in err
    status, _, err = run_main(capsys, "check", str(tmp_path / "nowhere"))
    assert status == 2 and "exercises init" in err


# ----------------------------------------------------------------------------- the classic mistakes

TRANSPOSE = "a missing transpose?"
BROADCAST = "a forgotten sum over a broadcast axis?"
SIGN = "a sign error?"

MISTAKES = [
    # (exercise, the student's file, what the verdict must say, the hint it must give)
    ("matmul", """
        from tinygrad_edu.exercises.solutions import MatMul as Given
        class MatMul(Given):
            def backward(self, g, x, y):
                return g @ y, x.T @ g
     """, "raised ValueError: matmul", TRANSPOSE),
    ("matmul", """
        from tinygrad_edu.exercises.solutions import MatMul as Given
        class MatMul(Given):
            def backward(self, g, x, y):
                return g @ y.T, g.T @ x
     """, "dy has shape (2, 3), it must have shape (3, 2)", TRANSPOSE),
    ("dense_layer", """
        import numpy as np
        def dense_backward(dA, X, z, W):
            dZ = dA * (1 - np.tanh(z) ** 2)
            return X @ dZ / len(X), dZ.sum(axis=0) / len(X), dZ @ W.T
     """, "line 5", TRANSPOSE),
    ("mul", """
        from tinygrad_edu.exercises.solutions import Mul as Given
        class Mul(Given):
            def backward(self, g, x, y):
                return g * y, g * x
     """, "dy has shape (2, 3), it must have shape (3,)", BROADCAST),
    ("dense_layer", """
        import numpy as np
        def dense_backward(dA, X, z, W):
            dZ = dA * (1 - np.tanh(z) ** 2)
            return X.T @ dZ / len(X), dZ / len(X), dZ @ W.T
     """, "db has shape (3, 4), it must have shape (4,)", BROADCAST),
    ("tanh", """
        from tinygrad_edu.exercises.solutions import Tanh as Given
        class Tanh(Given):
            def backward(self, g, out):
                return (g * (out ** 2 - 1),)
     """, "dx[0, 0] is -0.419974, expected 0.419974", SIGN),
    ("softmax_cross_entropy", """
        from tinygrad_edu.exercises.solutions import SoftmaxCrossEntropy as Given
        class SoftmaxCrossEntropy(Given):
            def backward(self, g, probs, onehot):
                return g * (probs - onehot), None
     """, "dz[0, 0] is -0.340999, expected -0.113666", "a missing 1/3?"),
    ("batch_norm", """
        def batch_norm_backward(dout, cache):
            x_hat, inv_std, gamma = cache
            return dout * gamma * inv_std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
     """, "dX[0, 0]", "only the direct path"),
    ("dropout", """
        from tinygrad_edu.exercises.solutions import Dropout as Given
        class Dropout(Given):
            def backward(self, g, mask):
                return g * (mask > 0), None
     """, "dx[0, 0] is 1, expected 2", "must be scaled the same way"),
    ("adam", """
        import numpy as np
        def adam_update(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad ** 2
            return param - lr * m / (np.sqrt(v) + eps), m, v
     """, "param[0]", "no bias correction"),
    ("adam", """
        from tinygrad_edu.exercises.solutions import adam_update as right
        def adam_update(param, grad, m, v, t, **options):
            new, m[...], v[...] = right(param, grad, m, v, t, **options)
            return new, m, v
     """, "changed its argument m in place", ""),
    ("l2", """
        def l2_backward(W, l2_lambda):
            return 2 * l2_lambda * W
     """, "dW[0, 0] is 0.2, expected 0.1", "the 1/2 in front of the penalty"),
    ("sum", """
        import numpy as np
        from tinygrad_edu.exercises.solutions import Sum as Given
        class Sum(Given):
            def backward(self, g, shape, axis):
                return (np.broadcast_to(g, shape),)
     """, "with x (2, 3), axis 1, g (2,)", "an axis that a sum took away may have to be put back"),
    ("relu", """
        from tinygrad_edu.exercises.solutions import ReLU as Given
        class ReLU(Given):
            def backward(self, g, out):
                return g * (out > 0)
     """, "returned one array, not a tuple: return (dx,)", ""),
    ("sigmoid", """
        from tinygrad_edu.exercises.solutions import Sigmoid as Given
        class Sigmoid(Given):
            def backward(self, g, out)
                return (g * out,)
     """, "the file does not run: raised SyntaxError", ""),
    ("relu", """
        class Relu:
            pass
     """, "the file defines no ReLU", ""),
]


@pytest.mark.parametrize("name, source, detail, hint", MISTAKES, ids=[f"{m[0]}-{m[3] or m[2]}"[:60] for m in MISTAKES])
def test_each_classic_mistake_is_caught_with_its_hint(tmp_path, name, source, detail, hint):
    [exercise] = [e for e in EXERCISES if e.name == name]
    (tmp_path / exercise.file).write_text(textwrap.dedent(source))
    [result] = check_folder(tmp_path, name)
    assert result.status == "wrong", result
    assert detail in result.detail and hint in result.hint, result
    shown = format_results([result])
    for line in _solution_lines():  # the verdict never shows the answer's code
        assert line not in shown, line


def _solution_lines():
    lines = []
    for _, value in inspect.getmembers(solutions):
        source = inspect.getsource(value) if inspect.isfunction(value) or inspect.isclass(value) else ""
        lines += [line.strip()[len("return "):] for line in source.splitlines() if line.strip().startswith("return ")]
    assert "g @ y.T, x.T @ g" in lines  # the check below reads real answers
    return lines


def test_finite_differences_catch_what_a_wrong_formula_would_let_through(tmp_path):
    """Even an answer that matches the expected formula fails when finite differences disagree:
    here the row's formula itself is wrong (tanh's slope without its square)."""
    tanh = next(e for e in EXERCISES if e.name == "tanh")
    wrong_formula = Exercise(tanh.file, tanh.entry, tanh.cases, tanh.examples, tanh.answer,
                             lambda c: {"dx": c.g * (1 - np.tanh(c.x))}, tanh.graph)
    (tmp_path / tanh.file).write_text(textwrap.dedent("""
        from tinygrad_edu.exercises.solutions import Tanh as Given
        class Tanh(Given):
            def backward(self, g, out):
                return (g * (1 - out),)
    """))
    result = check_file(wrong_formula, sheets()[5], tmp_path / tanh.file)
    assert result.status == "wrong" and result.detail.startswith("finite differences disagree")
    assert isinstance(tanh.examples[0], Case)
