"""bench/import_budget.py: what it counts from a `-X importtime` report, and the run it makes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.import_budget import Imports, is_folder, parse

ROOT = Path(__file__).resolve().parents[2]

REPORT = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 | _io
import time:        50 |         50 |   marshal
import time:       200 |       1200 | stratoflow
import time:       300 |        300 |   stratoflow.execution
import time:       700 |        700 |   stratoflow.execution.admission
import time:       400 |        400 | pydantic
"""


def test_top_level_imports_are_summed_and_folders_are_not_counted(tmp_path: Path) -> None:
    # Given a tree where stratoflow/execution is a folder (its __init__ only a docstring)
    package = tmp_path / "shared" / "stratoflow"
    (package / "execution").mkdir(parents=True)
    (package / "__init__.py").write_text("from stratoflow.errors import StratoflowError\n")  # 46 bytes
    (package / "execution" / "__init__.py").write_text('"""The execution core."""\n')
    (package / "execution" / "admission").with_suffix(".py").write_text("")

    # When a report of its imports is read
    imports = parse(REPORT, tmp_path)

    # Then the time is that of the top-level imports, and the folder is no module
    assert imports == Imports(ms=1.7, others=3, stratoflow=2, stratoflow_kb=0.046)
    assert is_folder("stratoflow.execution", tmp_path)
    assert not is_folder("stratoflow", tmp_path)


def test_one_quick_comparison_of_the_checkout_with_itself_is_not_heavier() -> None:
    # When the checkout's HEAD is compared with the checkout (strato run and the task runner, one run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.import_budget",
            "--baseline",
            "HEAD",
            "--runs",
            "1",
            "--targets",
            "strato run",
            "task_runner",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # Then both are measured and the table printed
    assert done.returncode in (0, 1), done.stderr
    assert "| strato run |" in done.stdout and "| task_runner |" in done.stdout


def test_only_other_packages_modules_make_an_import_heavier() -> None:
    baseline = Imports(ms=100.0, others=300, stratoflow=80, stratoflow_kb=500.0)
    assert not Imports(ms=300.0, others=302, stratoflow=95, stratoflow_kb=520.0).heavier_than(baseline)
    assert Imports(ms=90.0, others=303, stratoflow=70, stratoflow_kb=400.0).heavier_than(baseline)
