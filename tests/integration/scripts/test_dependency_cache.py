"""The `dependencies` cache is bounded: least recently used installs go first, an install in use (by a
run of this process or another) is never deleted, and what is not a complete install is replaced.

pip is replaced by a fake that writes a package into `--target`: these tests are about the cache.

The tests here start processes (another holder of an install, a script); the in-process ones are in tests/unit/tasks/test_dependency_cache.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.tasks.scripts import dependency_cache
from tests.unit.tasks.task_helpers import direct_context, load_task
from tests.unit.tasks.test_dependency_cache import entry, install


def test_an_install_in_use_by_another_process_survives_a_prune(
    tmp_path: Path, ctx: TaskRunContext, root: Path, pip_installs: list[list[str]]
) -> None:
    # Given an install that another process holds as a run does (a shared lock on its folder)
    with install(ctx, "a"):
        pass
    folder = entry("a")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY);"
            "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); sys.stdin.read()",
            str(folder),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"

        # When this process prunes everything, Then the install stays
        assert dependency_cache.prune(root, max_entries=0) == []
        assert folder.is_dir()
    finally:
        holder.communicate("")
    # And once the other process has ended, it can go
    assert dependency_cache.prune(root, max_entries=0) == [folder]


def test_the_script_runs_while_its_install_is_held(
    tmp_path: Path, root: Path, pip_installs: list[list[str]]
) -> None:
    # Given a script that tries to take its own install's folder as a prune would
    script = (
        "import fcntl, os; folder = os.environ['PYTHONPATH'].split(os.pathsep)[0]\n"
        "fd = os.open(folder, os.O_RDONLY)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
        "except BlockingIOError:\n    print('held')\n"
    )
    task = load_task(
        json.dumps({"id": "p", "type": "scripts.Python", "dependencies": ["a"], "script": script})
    )
    ctx = direct_context(tmp_path)

    # When it runs, Then its install was held all along, and released when the task ended
    task.run(ctx)
    assert ctx.logs[-1].message == "held"
    fd = os.open(entry("a"), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
