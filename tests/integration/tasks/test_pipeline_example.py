"""examples/pipeline runs end to end on moto: HTTP -> Python -> S3 -> Athena -> SNS."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pipeline"


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pipeline_run_on_moto", EXAMPLE / "run_on_moto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_pipeline_runs_on_moto(tmp_path: Path) -> None:
    # Given
    runner = load_runner()
    orders = json.loads((EXAMPLE / "orders.json").read_text())
    paid = [o for o in orders if o["status"] == "paid"]

    # When
    result = runner.run_pipeline(tmp_path / "home")

    # Then
    assert result.state == "SUCCESS", result.errors
    assert set(result.task_states.values()) == {"SUCCESS"}
    assert len(result.s3_keys) == 1 and result.s3_keys[0].startswith("orders/dt=")
    assert result.outputs == {"orders": len(paid), "data": f"s3://{runner.BUCKET}/{result.s3_keys[0]}"}
    notification = result.notification
    assert notification is not None
    assert notification["orders"] == len(paid)
    assert notification["revenue"] == round(sum(o["amount"] for o in paid), 2)
    assert [r["region"] for r in notification["byRegion"]] == ["apac", "eu", "us"]


def test_the_pipeline_declares_the_permissions_it_needs() -> None:
    compiled = compile_flow(load_flow_file(EXAMPLE / "pipeline.yaml"))

    actions = {action for statement in compiled.permissions for action in statement["Action"]}
    assert {"s3:PutObject", "athena:StartQueryExecution", "sns:Publish"} <= actions
