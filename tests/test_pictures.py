"""The documentation's pictures are drawn by its own code (docs/make_pictures.py), so none can rot.

* every picture a page embeds is committed under docs/images/, and every file there is
  embedded by some page (no picture drawn by hand, none left behind);
* running the script into a temporary folder draws every embedded picture again, from
  the code on the pages, and each is a real SVG or PNG file.
"""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_pictures", ROOT / "docs" / "make_pictures.py")
make_pictures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_pictures)

MAGIC = {".svg": b"<svg", ".png": b"\x89PNG\r\n\x1a\n", ".html": b"<!DOCTYPE html>"}


def embedded():
    """{picture name inside docs/images: the pages that embed it}."""
    found = {}
    for page in make_pictures.PAGES:
        for name in make_pictures.embedded_pictures(page.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(page.relative_to(ROOT))
    return found


def looks_like_a_picture(path: Path) -> bool:
    head = path.read_bytes()[:4096]
    magic = MAGIC.get(path.suffix)
    return magic is not None and (head.startswith(magic) if path.suffix == ".png" else magic in head)


def test_pages_embed_pictures_and_the_collector_finds_them():
    text = ("![a](images/a.svg) ![b](../images/trace/b.png) ![c](https://example.org/images/c.png) ![d](d.png)"
            '<iframe class="explorer" src="../../images/e.html" title="e"></iframe>')
    assert make_pictures.embedded_pictures(text) == ["a.svg", "trace/b.png", "e.html"]
    blocks = make_pictures.python_blocks("```python\nx = 1\n```\n<!-- no-run -->\n```python\nskipped\n```\n")
    assert blocks == [(2, "x = 1\n")]
    assert len(embedded()) >= 10  # the README, getting started, the tutorial, pictures, beyond, cli


def test_every_embedded_picture_is_committed():
    missing = {name: pages for name, pages in embedded().items() if not (make_pictures.IMAGES / name).is_file()}
    assert not missing, f"embedded but not in docs/images (run python docs/make_pictures.py): {missing}"


def test_every_committed_picture_is_embedded_and_real():
    committed = {p.relative_to(make_pictures.IMAGES).as_posix() for p in make_pictures.IMAGES.rglob("*") if p.is_file()}
    assert committed == set(embedded()), f"pictures no page embeds: {sorted(committed - set(embedded()))}"
    fake = [name for name in committed if not looks_like_a_picture(make_pictures.IMAGES / name)]
    assert not fake, f"not an SVG or PNG file, nor an explorer page: {fake}"


@pytest.mark.slow
def test_the_script_draws_every_picture_from_the_pages(tmp_path):
    written = make_pictures.make_pictures(tmp_path)
    drawn = {p.relative_to(tmp_path).as_posix() for p in written}
    assert drawn == set(embedded())
    for path in written:
        assert path.stat().st_size > 1000 and looks_like_a_picture(path), path


def test_a_page_that_embeds_a_picture_its_code_does_not_draw_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nopen('drawn.svg', 'w').write('<svg/>')\n```\n\n![x](images/missing.svg)\n")
    with pytest.raises(FileNotFoundError, match="missing.svg"):
        make_pictures.make_pictures(tmp_path / "out", pages=[page])
