"""The documentation is part of the test suite, so no example can rot.

* Every ```python block in README.md and docs/**/*.md runs. The blocks of one file
  run in order in one namespace (a later block may use an earlier block's names),
  in a fresh temporary working directory.
* A ```output block right after a python block is that block's expected printout,
  compared exactly (trailing spaces aside): every number the docs show is one the
  code prints. An ```output block with no python block before it is an error.
* A block preceded by the line ``<!-- no-run -->`` is shown but not run: only for
  excerpts that cannot run on their own (a line to add to a package file).
* A page about an optional extra says so in a line ``<!-- requires: torch -->`` (module
  names, space-separated): without them installed its blocks are skipped, with the reason.
* Docstring examples (``>>>``) in the package run as doctests, and every public name
  of a module shown in the API reference (``docs/api/*.md``) has a docstring.
* ``mkdocs build --strict`` builds the site: broken links, a page missing from the
  nav or a docstring mkdocstrings cannot render fail the build.
"""
from __future__ import annotations

import contextlib
import doctest
import importlib
import importlib.util
import inspect
import io
import os
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import tinygrad_edu

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
NO_RUN = "<!-- no-run -->"
REQUIRES = re.compile(r"^<!-- requires: ([\w. ]+) -->$", re.MULTILINE)


@dataclass
class Block:
    lang: str
    line: int  # line number of the first code line in the markdown file
    code: str
    no_run: bool
    expected_output: str | None = None


def extract_blocks(text: str) -> list[Block]:
    """The fenced blocks of a markdown text; an output block is attached to the python block before it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    previous = ""  # the last non-blank line outside a block
    only_blank_since_block = False  # nothing but blank lines since the last block closed
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening["lang"]:
            if lines[i].strip():
                previous, only_blank_since_block = lines[i].strip(), False
            i += 1
            continue
        lang, indent, start = opening["lang"], len(opening["indent"]), i + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"line {i + 1}: the ```{lang} block is never closed")
        code = "\n".join(line[indent:] for line in lines[start:end]) + "\n"
        if lang == "output":
            follows_runnable = blocks and blocks[-1].lang == "python" and not blocks[-1].no_run
            if not (follows_runnable and only_blank_since_block):
                raise ValueError(f"line {i + 1}: an output block must directly follow a python block that runs")
            blocks[-1].expected_output = code
        else:
            blocks.append(Block(lang, start + 1, code, previous == NO_RUN))
        previous, only_blank_since_block, i = "", True, end + 1
    return blocks


def _normalized(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # a module set to None in sys.modules (how tests hide one)
        return False


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_code_blocks_run(path, tmp_path, monkeypatch):
    text = path.read_text()
    for module in " ".join(REQUIRES.findall(text)).split():
        if not _installed(module):
            pytest.skip(f"{path.relative_to(ROOT)} needs {module}, which is not installed")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for block in extract_blocks(text):
        if block.lang != "python" or block.no_run:
            continue
        # padding with blank lines makes tracebacks point at the markdown file's own line numbers
        code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
        if block.expected_output is not None:
            got, expected = _normalized(printed.getvalue()), _normalized(block.expected_output)
            assert got == expected, (
                f"{path.relative_to(ROOT)}:{block.line}: the block printed\n{got}\n\nbut the page shows\n{expected}"
            )


def test_collector_pairs_output_and_honours_no_run():
    text = "\n".join([
        "```python", "print(1 + 1)", "```", "", "```output", "2", "```",
        NO_RUN, "```python", "not run", "```", "```bash", "echo hi", "```",
    ])
    blocks = extract_blocks(text)
    assert [(b.lang, b.line, b.no_run, b.expected_output) for b in blocks] == [
        ("python", 2, False, "2\n"), ("python", 10, True, None), ("bash", 13, False, None),
    ]
    with pytest.raises(ValueError, match="output block must directly follow"):
        extract_blocks("```output\n2\n```")


API_MODULES = sorted({
    name for page in (ROOT / "docs" / "api").glob("*.md") for name in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M)
})


def _public_names(module):
    """(qualified name, object) for the public functions and classes a module defines, and their members."""
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if obj.__module__ != module.__name__:
            continue  # imported from elsewhere: documented there
        yield name, obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (inspect.isroutine(member) or isinstance(member, property)):
                    yield f"{name}.{attr}", getattr(obj, attr) if inspect.isroutine(member) else member


@pytest.mark.parametrize("module_name", API_MODULES)
def test_every_public_name_in_the_api_reference_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no module docstring"
    # inspect.getdoc finds an overriding method's docstring on the base class (forward/backward)
    missing = [name for name, obj in _public_names(module) if not (inspect.getdoc(obj) or "").strip()]
    assert not missing, f"{module_name}: public names without a docstring: {missing}"


def _package_modules():
    names = [tinygrad_edu.__name__]
    for info in pkgutil.walk_packages(tinygrad_edu.__path__, prefix=tinygrad_edu.__name__ + "."):
        if not info.name.endswith(".__main__"):  # importing the entry point would run the command
            names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _package_modules())
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in finder.find(module, module_name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_mkdocs_build_strict(tmp_path):
    """The site builds with no warning (mkdocs comes with the test extra)."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "api" / "tensor" / "index.html").exists()
