"""Golden files: each example's compiled ASL is checked in; a change to it is a reviewed change.

`make golden` (STRATOFLOW_UPDATE_GOLDEN=1) regenerates them on purpose; CI only compares. Every
compiled example also passes the npm `asl-validator`, an independent reading of the ASL spec.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
GOLDEN = ROOT / "tests" / "fixtures" / "golden"


def golden_file(example: Path) -> Path:
    """examples/triggers/schedule.yaml -> tests/fixtures/golden/triggers__schedule.asl.json"""
    relative = example.relative_to(ROOT / "examples").with_suffix("")
    return GOLDEN / ("__".join(relative.parts) + ".asl.json")


def compiled_text(example: Path) -> str:
    flow = load_flow(example.read_text(), str(example))
    return json.dumps(compile_flow(flow).definition, indent=2, sort_keys=False) + "\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: golden_file(p).name.removesuffix(".asl.json"))
def test_compiled_example_matches_its_golden_file(example: Path) -> None:
    golden = golden_file(example)
    text = compiled_text(example)
    if os.environ.get("STRATOFLOW_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.exists(), f"no golden file for {example.name}: run `make golden`"
    assert text == golden.read_text(), f"{example.name} compiles differently: review, then `make golden`"
