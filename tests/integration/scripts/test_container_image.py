"""The container image of Fargate-run scripts, laid out as its Dockerfile lays it out (no Docker here:
CDK builds the image at deploy): its entrypoint starts from the copied library alone, reads the task
definition's settings, and reports a run call it cannot read with exit code 1."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stratoflow._platform.infra.constructs.containers import DOCKERFILE, build_context

Image = tuple[dict[str, str], list[str], Path]
"""The image's environment (ENV), entrypoint (ENTRYPOINT) and working directory (WORKDIR)."""


def _instructions() -> list[tuple[str, str]]:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _lay_out(root: Path) -> Image:
    """Copy the build context as the Dockerfile's COPY lines do under `root`; its ENV, ENTRYPOINT
    and WORKDIR, with paths moved under `root`."""
    context = build_context()
    environment: dict[str, str] = {}
    entrypoint: list[str] = []
    workdir = root
    for instruction, argument in _instructions():
        if instruction == "COPY":
            source, target = shlex.split(argument)
            destination = root / target.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            if (context / source).is_dir():
                shutil.copytree(context / source, destination)
            else:
                shutil.copy(context / source, destination)
        elif instruction == "ENV":
            for pair in shlex.split(argument):
                name, value = pair.split("=", 1)
                environment[name] = str(root / value.lstrip("/")) if value.startswith("/opt/") else value
        elif instruction == "ENTRYPOINT":
            entrypoint = [
                str(root / part.lstrip("/")) if part.startswith("/") else part
                for part in json.loads(argument)
            ]
        elif instruction == "WORKDIR":
            workdir = root / argument.lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    return environment, entrypoint, workdir


@pytest.fixture
def image(tmp_path: Path) -> Image:
    return _lay_out(tmp_path / "image")


def _run(image: Image, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment, entrypoint, workdir = image
    program, *arguments = entrypoint
    assert program == "python"
    # The venv's interpreter stands for the image's: its site-packages hold the layer's pins.
    env = {"PATH": os.environ.get("PATH", ""), **environment, **settings}
    return subprocess.run(
        [sys.executable, *arguments], env=env, cwd=workdir, capture_output=True, text=True, timeout=120
    )


def test_the_entrypoint_runs_the_copied_library(image: Image) -> None:
    # Given the image's layout
    environment, _, workdir = image

    # When its interpreter imports stratoflow with the image's settings
    found = subprocess.run(
        [sys.executable, "-c", "import stratoflow; print(stratoflow.__file__)"],
        env={**environment},
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )

    # Then it is the copy the Dockerfile put on PYTHONPATH, not the checkout's
    assert Path(found.stdout.strip()) == Path(environment["PYTHONPATH"]) / "stratoflow" / "__init__.py"


def test_a_container_without_its_run_call_exits_1_naming_what_is_missing(
    image: Image,
) -> None:
    # Given the task definition's settings (the store's names, the region) but no run call overrides
    settings = {
        "STRATOFLOW_TABLE_NAME": "table",
        "STRATOFLOW_DATA_BUCKET": "data",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    # When the container starts
    done = _run(image, settings)

    # Then it exits 1 (States.TaskFailed to Step Functions) and its log says why
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "task failed: InvalidRunnerCall: container runner call: STRATOFLOW_TASK_ID, STRATOFLOW_EXECUTION, "
        "STRATOFLOW_SCOPE not set"
    )


def test_a_container_without_the_stores_names_fails_before_any_task(
    image: Image,
) -> None:
    # Given no settings at all (a task definition that lost its environment)
    # When the container starts
    done = _run(image, {})

    # Then it fails at once, naming the missing setting, and runs nothing
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "container settings missing or invalid: STRATOFLOW_TABLE_NAME, STRATOFLOW_DATA_BUCKET"
    )


def test_the_runner_hides_its_environment_from_the_scripts_it_starts(image: Image) -> None:
    # Given the image's layout
    environment, _, workdir = image

    # When the entrypoint's first step runs in a process, which then asks the kernel its state
    code = (
        "import ctypes\n"
        "from stratoflow.execution.runner.container import hide_from_scripts\n"
        "hidden = hide_from_scripts()\n"
        "print(hidden, ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=workdir, capture_output=True, text=True, check=True
    )

    # Then the process is not dumpable: a process of the same user (a script) cannot read its
    # /proc/<pid>/environ, where ECS puts the task role's credentials URI, nor its memory
    assert done.stdout.split() == ["True", "0"]
