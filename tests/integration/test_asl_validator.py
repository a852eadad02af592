"""Every compiled example passes the npm `asl-validator`, an independent reading of the ASL spec (a
Node process per example; the golden files themselves are compared in tests/unit/compiler/test_golden.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.compiler.test_golden import EXAMPLES, ROOT, compiled_text, golden_file


def _validator() -> str:
    local = ROOT / "node_modules" / ".bin" / "asl-validator"
    found = str(local) if local.exists() else shutil.which("asl-validator")
    if found is None:
        pytest.fail("asl-validator is not installed: `make install-dev` installs it from package-lock.json")
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: golden_file(p).name.removesuffix(".asl.json"))
def test_compiled_example_passes_asl_validator(example: Path, tmp_path: Path) -> None:
    definition = tmp_path / f"{example.stem}.json"
    # asl-validator checks Resource ARNs: give it the shape a deployed definition has.
    text = compiled_text(example).replace(
        "${TaskRunnerFunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:runner"
    )
    text = re.sub(
        r"\$\{StateMachine\.([^}]+)\}",
        lambda m: (
            "arn:aws:states:us-east-1:123456789012:stateMachine:Stratoflow-" + m.group(1).replace(".", "-")
        ),
        text,
    )
    definition.write_text(text)
    result = subprocess.run(
        [_validator(), "--json-path", str(definition)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
