"""The runner call's JSON Schema is checked in: a change to the compiler -> runner contract is a diff.

`make runner-call-schema` (STRATOFLOW_UPDATE_SCHEMA=1) rewrites the file on purpose; CI only compares.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from stratoflow.runner_call import contract_schema

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "tests" / "fixtures" / "runner_call.schema.json"


def schema_text() -> str:
    return json.dumps(contract_schema(), indent=2) + "\n"


def test_the_checked_in_schema_is_the_models_schema() -> None:
    # Given the schema the models produce now
    text = schema_text()
    if os.environ.get("STRATOFLOW_UPDATE_SCHEMA") == "1":
        SCHEMA.write_text(text)

    # Then it is the one checked in
    assert SCHEMA.exists(), f"{SCHEMA.relative_to(ROOT)} is missing: run `make runner-call-schema`"
    assert text == SCHEMA.read_text(), (
        "the runner call contract changed (stratoflow/runner_call.py): review the diff of "
        f"{SCHEMA.relative_to(ROOT)}, then `make runner-call-schema`"
    )


def test_the_schema_names_every_action_and_its_answer() -> None:
    # When
    schema = contract_schema()

    # Then the root is the call, told apart by `action`, and each action's answer is described
    actions = set(schema["discriminator"]["mapping"])
    assert actions == {
        "run",
        "start",
        "end",
        "check",
        "pause",
        "await",
        "batch",
        "prepare",
        "collect",
        "outputs",
    }
    assert set(schema["answers"]) == actions
    end = schema["$defs"]["EndCall"]
    assert {"taskId", "execution", "scope", "error", "resume", "eval"} <= set(end["properties"])
    assert end["additionalProperties"] is False


def test_make_runner_call_schema_rewrites_the_file_through_this_test() -> None:
    # Given the Makefile's target the failure message names
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nrunner-call-schema:", 1)[1].split("\n\n", 1)[0]

    # Then it runs this test with the variable that rewrites the schema
    assert "STRATOFLOW_UPDATE_SCHEMA=1" in target
    assert str(Path(__file__).relative_to(ROOT)) in target
