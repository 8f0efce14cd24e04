"""The README's Quick start: two set-up commands, the second being exactly what CI runs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def quick_start_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = BLOCK.findall(section)
    assert all(lang == "bash" for lang, _ in blocks), "Quick start holds shell commands only"
    return [code.strip() for _, code in blocks]


def ci_commands():
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_quick_start_has_exactly_two_set_up_commands():
    commands = quick_start_commands()
    assert len(commands) == 2 and all("\n" not in command for command in commands)
    install_and_demo, install_and_test = commands
    assert install_and_demo.startswith("pip install -e ") and install_and_demo.endswith("&& tinygrad-edu demo")
    assert install_and_test == 'pip install -e ".[test]" && python -m pytest -q'


def test_the_readme_test_command_is_the_one_ci_runs():
    assert ci_commands()[-1] == quick_start_commands()[1]


def test_the_demo_command_is_installed_by_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'tinygrad-edu = "tinygrad_edu.cli:main"' in pyproject
    # the tests draw pictures, run exported ONNX files, click through the explorer in Chromium and check the exercises
    assert re.search(r'^test = \[.*"playwright>=[\d.]+".*"tinygrad_edu\[docs,plot,onnx,exercises\]"\]', pyproject, re.MULTILINE)
