"""Check a student's exercise files: ``tinygrad-edu exercises check DIR [NAME]``.

For each exercise the student's file is imported and its answer is run on the
``examples`` of its row, then on inputs hypothesis draws (float64, shapes that change
from try to try; the first failure is shrunk to the smallest shapes that still fail).
On each input the answer must

1. run, and return one value per name, each in the right shape;
2. agree with the right answer element by element (the tutorial's formula from
   ``tinygrad_edu.reference`` where there is one);
3. agree with central finite differences: ``tg.gradcheck`` differentiates it
   through the engine.

The verdict is *done*, *not started* (the stub's ``NotImplementedError`` is still
there), *wrong* (with the first element that differs, expected against got, and a
hint when the mistake is a classic one) or *missing* (no such file). Neither the
verdict nor the hint ever shows the answer's code.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Verbosity, example, given, settings

from ..engine.autograd import sum_to_shape
from ..tools.gradcheck import GradcheckError, gradcheck
from . import Sheet, load, sheets
from .catalog import EXERCISES, TRANSPOSE_HINT, Exercise, Wrong

TRIES = 12  # drawn inputs per exercise, after its examples
RTOL, ATOL = 1e-6, 1e-9  # float64: a right answer written another way differs by rounding only

SETTINGS = settings(max_examples=TRIES, database=None, derandomize=True, deadline=None, verbosity=Verbosity.quiet,
                    report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))


@dataclass
class Result:
    """One exercise's verdict: ``status`` done / not started / wrong / missing, and for a wrong one
    ``detail`` (what differs) and ``hint``."""

    sheet: Sheet
    status: str
    detail: str = ""
    hint: str = ""

    @property
    def passed(self) -> bool:
        """True when the exercise is done."""
        return self.status == "done"


# ----------------------------------------------------------------------------- diagnosis


def _index_text(index) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else ""


def _close(a, b) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _shape_hint(name, got, want):
    if _broadcasts_to(want.shape, got.shape) and _close(sum_to_shape(got, want.shape), want):
        return (f"a forgotten sum over a broadcast axis? {name} came back in the broadcast shape {got.shape}, "
                f"its input's is {want.shape}: add the gradient up over the axes broadcasting added or stretched")
    if got.ndim == 2 and got.shape == want.shape[::-1]:
        return TRANSPOSE_HINT
    return None


def _value_hint(exercise, case, name, got, want):
    for mistake in exercise.mistakes:
        try:
            wrong = mistake.wrong(case).get(name)
        except (ValueError, ArithmeticError):  # a model whose shapes do not fit this case
            continue
        if wrong is not None and _close(got, np.asarray(wrong)):
            return mistake.hint
    if _close(got, -want):
        return "a sign error? Every element has the right size but the wrong sign"
    for n in case.counts:
        if n > 1 and _close(got, want * n):
            return (f"a missing 1/{n}? Every element is {n} times too large: the loss is a mean over the "
                    f"{n} samples, and the mean's 1/{n} reaches every gradient")
        if n > 1 and _close(got, want / n):
            return f"an extra 1/{n}? Every element is {n} times too small"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and _close(got.T, want):
        return TRANSPOSE_HINT
    return None


def compare(exercise: Exercise, entry, case, source=None) -> None:
    """Raise ``Wrong`` unless ``entry`` answers ``case`` right (the three checks of the module docstring).

    ``source``: the student's file, whose line is named when the answer raises."""
    try:
        got = exercise.answer(entry, case)
    except Wrong:
        raise
    except Exception as error:  # the student's code failed: say where, and what that often means
        hint = next((hint for words, hint in ERROR_HINTS.items() if words in str(error)), None)
        raise Wrong(f"{_error_text(error, source)} (with {case.shapes()})", hint) from None
    for name, want in exercise.expected(case).items():
        have = got.get(name)
        if have is None:
            raise Wrong(f"{name} is None; it must be an array with shape {np.shape(want)}")
        have, want = np.asarray(have, dtype=np.float64), np.asarray(want, dtype=np.float64)
        where = f"with {case.shapes()}"
        if have.shape != want.shape:
            raise Wrong(f"{name} has shape {have.shape}, it must have shape {want.shape} ({where})",
                        _shape_hint(name, have, want))
        wrong = ~np.isclose(have, want, rtol=RTOL, atol=ATOL)
        if wrong.any():
            index = tuple(int(i) for i in np.argwhere(wrong)[0])
            raise Wrong(f"{name}{_index_text(index)} is {have[index]:.6g}, expected {want[index]:.6g} ({where})",
                        _value_hint(exercise, case, name, have, want))
    if exercise.graph is not None:
        func, tensors = exercise.graph(entry, case)
        try:
            gradcheck(func, tensors)
        except GradcheckError as error:
            raise Wrong(f"finite differences disagree ({case.shapes()}): {error}") from None


# What NumPy's message says -> what it usually means in a backward.
ERROR_HINTS = {
    "matmul": TRANSPOSE_HINT,
    "could not be broadcast": ("two shapes that do not broadcast: write each operand's shape down; an axis "
                               "that a sum took away may have to be put back first"),
}


def _error_text(error, source=None) -> str:
    """``raised ValueError: ... (line 27: return g @ y)``: the error, and the last line of the student's
    file (``source``) that it passed through."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if source is not None and Path(f.filename).resolve() == Path(source).resolve()]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"raised {type(error).__name__}: {error}{where}"


# ----------------------------------------------------------------------------- checking files


def check_file(exercise: Exercise, sheet: Sheet, path) -> Result:
    """The verdict on the exercise file at ``path``."""
    path = Path(path)
    if not path.is_file():
        return Result(sheet, "missing", f"no file {path.name} (tinygrad-edu exercises init writes it)")
    try:
        module = load(path)
    except Exception as error:
        return Result(sheet, "wrong", f"the file does not run: {_error_text(error, path)}")
    entry = getattr(module, exercise.entry, None)
    if entry is None:
        return Result(sheet, "wrong", f"the file defines no {exercise.entry}; keep the name the stub gave it")
    try:
        exercise.answer(entry, exercise.examples[0])
    except NotImplementedError:
        return Result(sheet, "not started")
    except Exception:  # reported with the case it failed on, below
        pass

    @SETTINGS
    @given(exercise.cases())
    def tries(case):
        compare(exercise, entry, case, path)

    for case in reversed(exercise.examples):  # hypothesis runs explicit examples first, in order
        tries = example(case)(tries)
    try:
        tries()
    except Wrong as wrong:
        return Result(sheet, "wrong", wrong.what, wrong.hint or "")
    return Result(sheet, "done")


def check_folder(folder, name=None) -> list:
    """Check every exercise in ``folder`` (or only ``name``); one ``Result`` each, in order."""
    rows = {exercise.file: exercise for exercise in EXERCISES}
    chosen = [s for s in sheets() if name in (None, s.name, s.file, s.file[:-3])]
    if not chosen:
        known = ", ".join(s.name for s in sheets())
        raise KeyError(f"no exercise {name!r}; the exercises are {known}")
    return [check_file(rows[s.file], s, Path(folder) / s.file) for s in chosen]


def format_results(results) -> str:
    """The table: one line per exercise, a wrong one's detail and hint below it, and a count."""
    width = max(len(f"{r.sheet.file[:2]} {r.sheet.name}") for r in results)
    title_width = max(len(r.sheet.title) for r in results)
    lines = [f"{'exercise'.ljust(width)}  {''.ljust(title_width)}  status"]
    for r in results:
        lines.append(f"{(r.sheet.file[:2] + ' ' + r.sheet.name).ljust(width)}  {r.sheet.title.ljust(title_width)}  "
                     f"{r.status}")
        if r.detail:
            lines.append(f"    {r.detail}")
        if r.hint:
            lines.append(f"    hint: {r.hint}")
    counts = {status: sum(r.status == status for r in results) for status in ("done", "wrong", "not started", "missing")}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    lines.append(f"{summary} (of {len(results)})")
    return "\n".join(lines)
