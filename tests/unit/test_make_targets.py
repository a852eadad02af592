"""The Makefile's recipes name paths that exist: a moved test file must not leave `make golden` empty-handed.

pytest given a missing path fails with "file or directory not found", but `make golden` is run by hand
and rarely: a rename goes unnoticed until someone needs the target.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Top-level folders whose paths in a recipe must exist (dist/, build/, .venv/ are made by recipes).
CHECKED = ("tests", "examples", "shared", "functions", "infra", "bench", "docs")


def recipes(makefile: str) -> dict[str, list[str]]:
    """target -> its recipe lines (tab-indented lines after `target:`), continuation lines joined."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in makefile.replace("\\\n", " ").splitlines():
        rule = re.match(r"^([\w.$()/-]+)\s*:(?!=)", line)
        if rule:
            current = found.setdefault(rule.group(1), [])
        elif line.startswith("\t") and current is not None:
            current.append(line.strip())
        elif line and not line.startswith("#"):
            current = None
    return found


def named_paths(recipe: str) -> list[str]:
    """The words of a recipe that name a file or folder of the repository."""
    lexer = shlex.shlex(recipe, posix=True, punctuation_chars=True)  # `a; b`, `> file` split apart
    lexer.whitespace_split = True
    words = list(lexer)
    paths = []
    for word in words:
        path = word.split("::")[0].split("=")[-1]  # a pytest node id, or VAR=path
        top = path.split("/")[0]
        if top in CHECKED and "$" not in path:
            paths.append(path)
    return paths


MAKEFILE = (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("target", sorted(recipes(MAKEFILE)))
def test_every_path_a_recipe_names_exists(target: str) -> None:
    # Given the recipe of a make target
    named = [path for line in recipes(MAKEFILE)[target] for path in named_paths(line)]
    # Then every repository path it names exists
    missing = [path for path in named if not (ROOT / path).exists()]
    assert missing == [], f"`make {target}` names missing paths: {missing}"


def test_make_golden_runs_the_golden_tests_of_the_unit_layer() -> None:
    # Given `make golden`
    golden = " ".join(recipes(MAKEFILE)["golden"])
    # Then it regenerates the compiled examples' golden files through their test, in the unit layer
    assert "STRATOFLOW_UPDATE_GOLDEN=1" in golden
    assert "tests/unit/compiler/test_golden.py" in named_paths(golden)


def test_the_recipe_reader_finds_paths_in_continued_lines() -> None:
    makefile = (
        "a: b\n\t$(BIN)/ruff check shared \\\n\t\ttests/x.py; ls\n\nc:\n\tSTRATOFLOW=1 pytest tests/y.py::t\n"
    )
    assert {
        target: [p for line in lines for p in named_paths(line)]
        for target, lines in recipes(makefile).items()
    } == {
        "a": ["shared", "tests/x.py"],
        "c": ["tests/y.py"],
    }
