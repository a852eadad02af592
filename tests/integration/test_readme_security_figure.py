"""The README's security figure is the count pytest collects, not a number typed by hand.

"N attacks tried, N stopped ... the M others check that what must keep working does" is checked
against the collection of `tests/security` split by its `allowed_path` marker: adding an attack
without recounting the README, or losing one, fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(
    r"\*\*(\d+) attacks tried, (\d+) stopped.*?runs the (\d+) attacks; the (\d+) others", re.DOTALL
)

pytestmark = pytest.mark.slow


def collected(marker: str) -> int:
    """How many tests of tests/security pytest selects with `-m marker`."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:xdist",
            "tests/security",
            "-m",
            marker,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # `-q` on top of the project's own `-q`: one line per file, `tests/security/test_x.py: N`
    counts = re.findall(r"^tests/security/\S+\.py: (\d+)$", result.stdout, re.MULTILINE)
    assert counts, result.stdout[-2000:]
    return sum(int(count) for count in counts)


def test_the_readme_counts_the_security_tests_as_collected() -> None:
    # Given the figure the README states
    stated = FIGURE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert stated, "the README's security figure is missing"
    tried, stopped, runs, others = (int(group) for group in stated.groups())

    # When tests/security is collected, attacks and allowed paths apart
    attacks, allowed = collected("not allowed_path"), collected("allowed_path")

    # Then every number in the sentence is the collected one
    assert (tried, stopped, runs, others) == (attacks, attacks, attacks, allowed)
