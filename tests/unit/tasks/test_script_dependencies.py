"""`dependencies` of `scripts.Python`: installed with pip into a cache, reused, failures typed.

No network: the requirement is a wheel built in tmp_path, and PIP_NO_INDEX keeps pip off any index.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import zipfile
from pathlib import Path

import pytest

from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.tasks.scripts import dependencies
from tests.unit.tasks.task_helpers import flow_source


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("STRATOFLOW_DEPENDENCY_CACHE", str(folder))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    return folder


def test_the_cache_is_keyed_by_the_sorted_requirements_and_the_interpreter_version(cache: Path) -> None:
    assert dependencies.cache_folder(["b", "a"], "cpython-311") == dependencies.cache_folder(
        ["a", "b"], "cpython-311"
    )
    assert dependencies.cache_folder(["a"], "cpython-311") != dependencies.cache_folder(
        ["a", "b"], "cpython-311"
    )
    assert dependencies.cache_folder(["a"], "cpython-311") != dependencies.cache_folder(["a"], "cpython-312")
    assert dependencies.cache_folder(["a"], "cpython-311").is_relative_to(cache)


def test_the_cache_lives_in_tmp_in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATOFLOW_DEPENDENCY_CACHE", raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "task-runner")

    # /tmp in Lambda, the one folder there that is writable and kept between warm invocations
    assert dependencies.cache_root() == Path(tempfile.gettempdir()) / "stratoflow" / "python-dependencies"


@pytest.mark.parametrize(
    ("dependencies_yaml", "message"),
    [("['']", "a dependency must not be empty"), ("['--index-url=http://x']", "not pip options")],
)
def test_invalid_dependencies_are_load_errors(dependencies_yaml: str, message: str) -> None:
    with pytest.raises(FlowValidationError, match=message):
        load_flow(
            flow_source(f"- {{id: p, type: scripts.Python, script: x, dependencies: {dependencies_yaml}}}")
        )


def build_wheel(folder: Path, name: str = "tinypkg", version: str = "0.1") -> Path:
    """A pure-Python wheel whose module says hello: what `pip wheel` would build, without a backend."""
    files = {
        f"{name}/__init__.py": f"GREETING = 'hello from {name} {version}'\n".encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel
