"""Pages the docs promise exist and cover what they promise (their code runs in test_docs.py)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def headings(page: Path) -> list:
    return [line.lstrip("# ").strip() for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]


def test_the_coming_from_page_covers_each_habit_and_is_in_the_nav():
    page = ROOT / "docs" / "coming-from.md"
    assert headings(page) == ["Updating weights by hand", "`axis`, not `dim`", "`Linear.weight` is (in, out)",
                              "Logits or probabilities", "The default dtype is float32", "Coming from micrograd",
                              "What differs from PyTorch, and why"]
    assert "coming-from.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_add_an_op_says_which_extra_its_testing_helpers_need():
    text = (ROOT / "docs" / "add-an-op.md").read_text(encoding="utf-8")
    assert 'the `test` extra installs (`pip install -e ".[test]"`)' in text
