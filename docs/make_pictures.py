"""Draw every picture the documentation shows, by running the documentation's own examples.

    python docs/make_pictures.py          # rewrite docs/images/
    python docs/make_pictures.py FOLDER   # write the pictures into FOLDER instead

A page embeds a picture as ``![what it shows](images/NAME)`` (``../images/NAME`` from
a sub-folder, ``docs/images/NAME`` from the README), or a backprop explorer as
``<iframe src="../../images/NAME.html">`` (the site serves a page from a folder of its
own, one level deeper than its file), and one of the page's own python blocks writes
the file ``NAME``, for instance ``tg.render_graph(loss, "first-graph.svg")`` or
``tg.render_explorer(loss, "explorer-perceptron.html")``. This script runs the python
blocks of every page that embeds a picture, the way the test suite runs them (in
order, in one namespace, in a fresh scratch folder, after ``tg.manual_seed(0)``), and
copies each embedded picture from the scratch folder into the images folder. So every
picture is exactly what the code beside it draws; a page that embeds a picture its
code does not write is an error.

The one exception are ``SCREENSHOTS``: pictures of an explorer page at one step, taken
in headless Chromium (driven by Playwright) once the pages are drawn.

It needs what the pages need: Graphviz's ``dot``, matplotlib, and for the screenshots
Chromium and Playwright.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

PICTURE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")  # ![alt](path)
FRAME = re.compile(r"<iframe\b[^>]*\bsrc=\"([^\"]+)\"")  # <iframe src="path">
# picture -> (the explorer page it shows, drawn by a docs page; the step, as the page's address ends)
SCREENSHOTS = {"explorer-step.png": ("explorer-dense-layer.html", "#backward-6")}
FENCE = re.compile(r"^(\s*)```([\w+-]*)\s*$")
NO_RUN = "<!-- no-run -->"


def embedded_pictures(text: str) -> list:
    """The pictures a page embeds from the images folder, as paths inside that folder."""
    names = []
    for link in PICTURE.findall(text) + FRAME.findall(text):
        if "images/" in link and "://" not in link:
            names.append(link.split("images/", 1)[1])
    return names


def python_blocks(text: str) -> list:
    """(line number, code) of each python block that runs: not those after ``<!-- no-run -->``."""
    lines = text.splitlines()
    blocks, previous, i = [], "", 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening or not opening[2]:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, end = len(opening[1]), i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if opening[2] == "python" and previous != NO_RUN:
            blocks.append((i + 2, "\n".join(line[indent:] for line in lines[i + 1:end]) + "\n"))
        previous, i = "", end + 1
    return blocks


def run_page(page: Path, folder: Path) -> None:
    """Run the page's python blocks in ``folder``, as the test suite does; their printout is dropped."""
    import numpy as np

    import tinygrad_edu as tg

    tg.set_default_dtype(np.float32)  # the state each test starts from (tests/conftest.py)
    tg.manual_seed(0)
    namespace = {"__name__": "__docs__"}
    here = os.getcwd()
    os.chdir(folder)
    try:
        for line, code in python_blocks(page.read_text(encoding="utf-8")):
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
    finally:
        os.chdir(here)


def make_pictures(out: Path = IMAGES, pages=PAGES) -> list:
    """Write every embedded picture of ``pages`` into ``out``; returns the paths written."""
    out = Path(out)
    written, screenshots = [], []
    for page in pages:
        names = embedded_pictures(page.read_text(encoding="utf-8"))
        screenshots += [name for name in names if name in SCREENSHOTS]
        names = [name for name in names if name not in SCREENSHOTS]
        if not names:
            continue
        with tempfile.TemporaryDirectory() as scratch:
            run_page(page, Path(scratch))
            for name in names:
                drawn = Path(scratch) / name
                if not drawn.is_file():
                    shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
                    raise FileNotFoundError(f"{shown} embeds images/{name}, but its python blocks wrote no file {name}")
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(drawn, target)
                written.append(target)
    for name in dict.fromkeys(screenshots):
        explorer, step = SCREENSHOTS[name]
        written.append(screenshot(out / explorer, step, out / name))
    return written


def screenshot(page: Path, step: str, path: Path) -> Path:
    """A PNG of the explorer ``page`` opened at ``step`` (``#backward-6``), as a reader's window shows it."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise FileNotFoundError(f"{path.name} is a screenshot, taken in Chromium: install it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            window = browser.new_page(viewport={"width": 1280, "height": 760})
            window.goto(page.resolve().as_uri() + step)
            window.screenshot(path=str(path))
        finally:
            browser.close()
    return path


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    for path in make_pictures(Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGES):
        print(f"wrote {path}")
