"""`dependencies` of `scripts.Python`: installed with pip into a cache, reused, failures typed.

No network: the requirement is a wheel built in tmp_path, and PIP_NO_INDEX keeps pip off any index.

The tests here run pip and scripts (real processes); the in-process ones are in tests/unit/tasks/test_script_dependencies.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stratoflow.tasks.scripts import dependencies
from stratoflow.tasks.scripts.dependencies import DependencyInstallFailed
from tests.unit.tasks.task_helpers import direct_context, load_task
from tests.unit.tasks.test_script_dependencies import build_wheel


def test_dependencies_are_installed_once_then_reused(
    tmp_path: Path, cache: Path, pip_calls: list[list[str]]
) -> None:
    # Given a script that imports a package from a local wheel
    wheel = build_wheel(tmp_path)
    task = load_task(
        f"{{id: p, type: scripts.Python, dependencies: ['{wheel}'], "
        'script: "import tinypkg; print(tinypkg.GREETING)"}'
    )
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()

    # When it runs twice
    first, second = direct_context(tmp_path / "one"), direct_context(tmp_path / "two")
    task.run(first)
    task.run(second)

    # Then pip ran once, into the cache, and its output went to the first run's logs
    assert len(pip_calls) == 1
    assert pip_calls[0][1:5] == ["-m", "pip", "install", "--target"]
    assert any("Successfully installed tinypkg-0.1" in e.message for e in first.logs)
    # And both runs imported the package; the second says it reused the install
    for ctx in (first, second):
        assert ctx.logs[-1].message == "hello from tinypkg 0.1"
    assert any(e.message.startswith("dependencies: reusing") for e in second.logs)
    assert not any("Successfully installed" in e.message for e in second.logs)
    # And the cache holds one complete install, for this interpreter's version
    installs = [p for p in cache.glob("*/*") if not p.name.startswith(".")]
    assert len(installs) == 1 and (installs[0] / "tinypkg" / "__init__.py").is_file()
    assert installs[0].parent.name == dependencies.interpreter_version(dependencies.sys.executable)


def test_a_failed_install_fails_the_task_naming_the_requirement(
    tmp_path: Path, cache: Path, pip_calls: list[list[str]]
) -> None:
    # Given a requirement pip cannot find (no index: it fails at once)
    wheel = build_wheel(tmp_path)
    task = load_task(
        f"{{id: p, type: scripts.Python, dependencies: ['{wheel}', 'stratoflow-missing-pkg==9.9'], "
        "script: \"print('never')\"}"
    )
    ctx = direct_context(tmp_path)

    # When / Then: a typed error naming the requirement that failed
    with pytest.raises(DependencyInstallFailed) as raised:
        task.run(ctx)
    assert "cannot install the dependency stratoflow-missing-pkg==9.9 (pip exited with code 1)" in str(
        raised.value
    )
    assert str(wheel) not in str(raised.value)
    # And pip's words are in the logs, the script never ran, and nothing half-installed is cached
    assert any(e.level == "WARN" and "stratoflow-missing-pkg" in e.message for e in ctx.logs)
    assert not any(e.message == "never" for e in ctx.logs)
    assert not [p for p in cache.glob("*/*")]


def test_before_commands_and_the_script_see_the_installed_packages(
    tmp_path: Path, cache: Path, pip_calls: list[list[str]]
) -> None:
    wheel = build_wheel(tmp_path, name="otherpkg")
    task = load_task(
        f"{{id: p, type: scripts.Python, dependencies: ['{wheel}'], env: {{PYTHONPATH: /opt/extra}}, "
        "beforeCommands: ['python -c \"import otherpkg\" && echo ready'], "
        "script: \"import os; print(os.environ['PYTHONPATH'].split(os.pathsep)[1])\"}"
    )
    ctx = direct_context(tmp_path)

    task.run(ctx)

    assert [e.message for e in ctx.logs][-2:] == ["ready", "/opt/extra"]


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The pip commands run (they still run)."""
    calls: list[list[str]] = []
    real: Callable[..., int] = dependencies.run_process

    def spy(argv: list[str], **kwargs: Any) -> int:
        calls.append(list(argv))
        return real(argv, **kwargs)

    monkeypatch.setattr(dependencies, "run_process", spy)
    return calls
