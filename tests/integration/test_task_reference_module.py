"""`python -m stratoflow.tasks.reference` prints the task reference (a process of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stratoflow.tasks.reference import markdown

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "tasks.md"


def test_the_module_prints_the_reference() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "stratoflow.tasks.reference"], capture_output=True, text=True, check=True
    ).stdout

    assert printed == markdown()
