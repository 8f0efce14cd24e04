"""Exercises: write the backward yourself, and have it checked.

``tinygrad-edu exercises init DIR`` copies the exercise files into DIR with a README;
``tinygrad-edu exercises check DIR [NAME]`` checks what the student wrote. Each file
(``stubs/01_mul.py``, ...) is one exercise: a ``Function`` (or a function) whose forward
is given and whose backward is a stub, with the formula's name, the tutorial's
section and a hint in its docstring. The files are the one source of what a student
reads: the README's table and the checker's titles are read from their docstrings.

* ``catalog.py`` says how each exercise is checked: the inputs hypothesis draws, the
  right answer (the tutorial's hand-written formula from ``tinygrad_edu.reference``
  where it has one), how to differentiate it with ``tg.gradcheck``, and the classic
  mistakes it recognises.
* ``check.py`` runs a student's file against them and prints the table.
* ``solutions.py`` answers every exercise. Only the project's tests and the checker's
  comparisons use it; a student's folder never holds it.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

STUBS = Path(__file__).with_name("stubs")
README = "README.md"


@dataclass(frozen=True)
class Sheet:
    """What a student reads about one exercise, from its file's docstring.

    file      ``01_mul.py``;  name  ``mul`` (what ``check DIR NAME`` takes)
    title     ``Mul with broadcasting``;  tutorial  the page to read first
    """

    file: str
    name: str
    title: str
    tutorial: str


def sheets() -> list:
    """The exercises, in order, as their files describe them."""
    found = []
    for path in sorted(STUBS.glob("[0-9][0-9]_*.py")):
        doc = _docstring(path)
        title = re.match(r"Exercise \d+: (.*?)\.?$", doc.splitlines()[0]).group(1)
        tutorial = re.search(r"^Tutorial:\s+(.*?)(?=^\w+:)", doc, re.M | re.S).group(1)
        found.append(Sheet(path.name, path.stem.split("_", 1)[1], title, " ".join(tutorial.split())))
    return found


def _docstring(path: Path) -> str:
    import ast

    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))


def load(path, name=None):
    """Import the Python file at ``path`` as a fresh module (a student's file, or a stub)."""
    path = Path(path)
    module_name = name or f"tinygrad_edu_exercise_{path.stem}_{id(path)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
    return module


def readme_text() -> str:
    """The folder's README: how to work through the exercises, and the table of them."""
    rows = "\n".join(f"| `{s.file}` | `{s.name}` | {s.title} | {s.tutorial} |" for s in sheets())
    table = "| File | Name | Exercise | Read first |\n|---|---|---|---|\n" + rows
    return (STUBS / README).read_text(encoding="utf-8").replace("<!-- the exercises -->", table)


def init_folder(folder) -> list:
    """Write the exercise files and the README into ``folder`` (created if needed); returns the paths.

    Never overwrites: if any of the files is there already, nothing is written and a
    FileExistsError names it (a student's work must not be lost to a second ``init``).
    """
    folder = Path(folder)
    names = [s.file for s in sheets()] + [README]
    taken = [name for name in names if (folder / name).exists()]
    if taken:
        raise FileExistsError(f"{folder} already holds {', '.join(taken)}; init never overwrites a student's work "
                              f"(choose another folder, or move these files away)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names[:-1]:
        written.append(folder / name)
        written[-1].write_text((STUBS / name).read_text(encoding="utf-8"), encoding="utf-8")
    written.append(folder / README)
    written[-1].write_text(readme_text(), encoding="utf-8")
    return written
