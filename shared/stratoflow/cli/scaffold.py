"""The files `strato init` writes: a flows repository a team can edit, check, run and deploy from."""

from __future__ import annotations

import json
from collections.abc import Mapping

SCHEMA_FILE = "flow.schema.json"
EXAMPLE_FLOW = "flows/hello.yaml"

_EXAMPLE_FLOW = """\
# yaml-language-server: $schema=../flow.schema.json
id: hello
namespace: team
description: An example flow; `strato run flows/hello.yaml --input name=Ada` runs it locally.
inputs:
  - id: name
    type: STRING
    defaults: World
tasks:
  - id: greet
    type: Log
    message: "Hello, {{ inputs.name }}!"
  - id: greeting
    type: Return
    format: "Hello, {{ inputs.name }}!"
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greeting.value }}"
"""

_CI = """\
# Every push: the flows are valid and the example runs, on the local engine (no AWS account).
name: flows
on: [push, pull_request]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install 'stratoflow=={version}'
      - run: strato validate flows
      - run: strato run flows/hello.yaml --input name=CI --json
"""

_README = """\
# Flows

Stratoflow flows of the team, one YAML file per flow under `flows/`.

## Workflow

1. **Edit** a flow in `flows/`. VS Code (with the YAML extension), JetBrains and Neovim check it as
   you type against `flow.schema.json` (`.vscode/settings.json` maps `flows/` to it). After an
   upgrade of stratoflow: `strato schema -o flow.schema.json`.
2. **Validate**: `strato validate flows` prints every problem as `FILE:LINE:COL: path: message`.
3. **Run locally**: `strato run flows/hello.yaml --input name=Ada` (history in `.stratoflow/`;
   `strato executions list`, `strato logs EXECUTION_ID`).
4. **Deploy by upload**: `strato deploy flows` uploads the files to the stack's flows bucket and
   waits for the deployer's verdict. The stack itself: `pip install 'stratoflow[cloud]'` and
   `strato stack deploy` (once per account and region: `npx cdk bootstrap`).

CI (`.github/workflows/flows.yml`) runs steps 2 and 3 on every push.
"""

_GITIGNORE = """\
.stratoflow/
__pycache__/
"""


def scaffold_files(schema: Mapping[str, object], version: str) -> dict[str, str]:
    """Relative path -> content of every file of a new flows repository."""
    settings = {"yaml.schemas": {f"./{SCHEMA_FILE}": ["flows/**/*.yaml", "flows/**/*.yml"]}}
    return {
        EXAMPLE_FLOW: _EXAMPLE_FLOW,
        SCHEMA_FILE: json.dumps(schema, indent=2) + "\n",
        ".vscode/settings.json": json.dumps(settings, indent=2) + "\n",
        ".github/workflows/flows.yml": _CI.format(version=version),
        "README.md": _README,
        ".gitignore": _GITIGNORE,
    }
