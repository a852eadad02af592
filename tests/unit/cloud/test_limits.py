"""Deployment limits measured before anything is created, the same way for `strato validate` and the
deployer: the definition as sent (real ARNs, the deployer's JSON), the flow record, the IAM policy."""

from __future__ import annotations

import base64
import random
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.compiler import MAX_DEFINITION_BYTES, definition_text
from stratoflow.flow import load_flow


def chain(tasks: int, flow_id: str = "big") -> str:
    body = "".join(f"  - id: t{i}\n    type: Log\n    message: m\n" for i in range(tasks))
    return f"id: {flow_id}\nnamespace: tests.limits\ntasks:\n{body}"


def test_the_definition_is_measured_as_sent_with_real_arns_not_with_placeholders() -> None:
    # Given a flow whose compiled definition fits under 1 MB only with its ${...} placeholders
    flow = load_flow(chain(1500), "big.yaml")

    # When it is measured for a stack
    measured = measure(flow, DeployNames.example(), "big.yaml")

    # Then the definition that would be sent is what counts, and it is refused, located at `tasks`
    assert measured.compiled is not None and measured.definition is not None
    assert len(definition_text(measured.compiled.definition).encode()) < MAX_DEFINITION_BYTES
    sent = len(definition_text(measured.definition).encode())
    assert sent > MAX_DEFINITION_BYTES
    located = [str(p) for p in measured.problems if "state machine definition" in p.message]
    assert located == [
        f"big.yaml:3:1: tasks: the state machine definition is {sent:,} bytes as deployed, over Step "
        "Functions' limit of 1,048,576 bytes (1500 tasks): split the flow into subflows (Subflow tasks)"
    ]


def test_a_flow_of_1436_tasks_fits_every_limit_as_the_readme_says() -> None:
    # The flow record is stored compressed: the definition limit is what bounds a flow's size
    assert measure(load_flow(chain(1436), "fits.yaml"), DeployNames.example()).problems == []


def incompressible(flow_id: str) -> str:
    """A small flow whose source is 500 KB that no compression shrinks below the record limit."""
    noise = base64.b64encode(random.Random(7).randbytes(375_000)).decode()
    return f"id: {flow_id}\nnamespace: tests.limits\ntasks:\n  - id: t\n    type: Log\n    message: {noise}\n"


def test_a_flow_too_large_for_one_flow_record_is_refused_before_deploying() -> None:
    # Given a flow whose source does not fit in a flow record, even compressed
    flow = load_flow(incompressible("wide"), "wide.yaml")

    # When it is measured
    [problem] = measure(flow, DeployNames.example(), "wide.yaml").problems

    # Then the record limit is named, with the figure
    assert (problem.line, problem.column, problem.path) == (3, 1, "tasks")
    assert "KiB compressed, over the 350 KiB the execution store keeps in one flow record" in problem.message


def test_a_flow_within_every_limit_has_no_problem_and_its_arns_substituted() -> None:
    # Given a small flow
    flow = load_flow(chain(3, "small"), "small.yaml")

    # When it is measured
    measured = measure(flow, DeployNames.example(), "small.yaml")

    # Then it can be deployed as measured
    assert measured.problems == []
    assert measured.definition is not None
    assert "${" not in definition_text(measured.definition)
    assert DeployNames.example().task_runner_arn in definition_text(measured.definition)


def test_strato_validate_prints_the_deployers_messages_for_the_same_file(tmp_path: Path) -> None:
    # Given a flow file over the record limit
    file = tmp_path / "wide.yaml"
    file.write_text(incompressible("wide"), encoding="utf-8")

    # When it is validated
    result = CliRunner().invoke(cli, ["validate", "--quiet", str(file)])

    # Then it is invalid with the message `measure` gives the deployer
    expected = measure(
        load_flow(incompressible("wide"), str(file)), DeployNames.example(), str(file)
    ).problems
    assert result.exit_code == 1
    assert result.output.splitlines() == [str(problem) for problem in expected]
    assert expected
