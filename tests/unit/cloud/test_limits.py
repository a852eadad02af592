"""Deployment limits measured before anything is created, the same way for `strato validate` and the
deployer: the definition and each part of a big flow as sent (real ARNs, the deployer's JSON), the
IAM policy; the flow record is no limit (kept in blob storage when large)."""

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


def wide_parallel(branches: int, flow_id: str = "wide") -> str:
    """One Parallel of one-task branches: a task too large for any state machine that no cut shrinks
    (each branch is too small to be a part of its own)."""
    body = "".join(f"      - id: t{i}\n        type: Log\n        message: m\n" for i in range(branches))
    return (
        f"id: {flow_id}\nnamespace: tests.limits\ntasks:\n  - id: p\n    type: Parallel\n    tasks:\n{body}"
    )


def test_a_flow_too_large_for_one_state_machine_is_measured_part_by_part_as_sent() -> None:
    # Given a flow of 1,500 tasks: over 1 MB once its ARNs are substituted, in one state machine
    flow = load_flow(chain(1500), "big.yaml")

    # When it is measured for a stack
    measured = measure(flow, DeployNames.example(), "big.yaml")

    # Then it deploys as parts, each under the limit as sent (part placeholders as version ARNs)
    assert measured.problems == []
    assert measured.compiled is not None and len(measured.parts) >= 2
    names = DeployNames.example()
    for number, part in enumerate(measured.parts, start=1):
        assert "${" not in definition_text(part)
        assert len(definition_text(part).encode()) < MAX_DEFINITION_BYTES
        assert f"${{FlowPart.{number}}}" in definition_text(measured.definition or {})
        assert names.part_version_arn("tests.limits", "big", number).endswith(":9999999")


def test_a_task_too_large_for_any_state_machine_is_refused_as_sent_with_the_figure() -> None:
    # Given one Parallel of 1,850 one-task branches, under 1 MB only with its placeholders (no part can hold less than the whole Parallel)
    flow = load_flow(wide_parallel(1850), "wide.yaml")

    # When it is measured
    measured = measure(flow, DeployNames.example(), "wide.yaml")

    # Then the definition that would be sent is what counts, and it is refused, located at `tasks`
    assert measured.compiled is not None and measured.definition is not None
    assert len(definition_text(measured.compiled.definition).encode()) < MAX_DEFINITION_BYTES
    # (its Comment naming the revision at its longest: the flow has none yet)
    sent = len(definition_text(measured.definition).encode()) + len(" revision 9999999")
    assert sent > MAX_DEFINITION_BYTES
    assert [str(p) for p in measured.problems] == [
        f"wide.yaml:3:1: tasks: the state machine definition is {sent:,} bytes as deployed, over Step "
        "Functions' limit of 1,048,576 bytes (1851 tasks; one task that large alone cannot be cut into "
        "parts): split the flow into subflows (Subflow tasks)"
    ]


def test_a_flow_of_1436_tasks_fits_every_limit_as_the_readme_says() -> None:
    assert measure(load_flow(chain(1436), "fits.yaml"), DeployNames.example()).problems == []


def test_a_flow_of_2000_tasks_fits_every_limit_as_the_readme_says() -> None:
    assert measure(load_flow(chain(2000), "fits.yaml"), DeployNames.example()).problems == []


def incompressible(flow_id: str) -> str:
    """A small flow whose source is 500 KB that no compression shrinks below the item limit."""
    noise = base64.b64encode(random.Random(7).randbytes(375_000)).decode()
    return f"id: {flow_id}\nnamespace: tests.limits\ntasks:\n  - id: t\n    type: Log\n    message: {noise}\n"


def test_a_flow_whose_record_passes_the_item_limit_is_not_refused() -> None:
    # Given a flow whose source does not fit in a table item, even compressed
    flow = load_flow(incompressible("wide"), "wide.yaml")

    # When it is measured, Then nothing is refused: the store keeps such records in blob storage
    assert measure(flow, DeployNames.example(), "wide.yaml").problems == []


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


def test_a_flow_is_measured_with_its_revision_number_at_its_longest_whatever_its_revision() -> None:
    # Given a flow too large for a state machine, as `strato validate` reads it (no revision yet)
    flow = load_flow(wide_parallel(1850), "wide.yaml")

    # When it is measured, and measured as the deployer (or `strato run`) would at revisions 1 and 9,999,999
    def size(revision: int | None) -> int:
        [problem] = measure(flow.model_copy(update={"revision": revision}), DeployNames.example()).problems
        return int(str(problem).split(" is ")[1].split(" bytes")[0].replace(",", ""))

    # Then each counts the comment naming the revision at its longest: the same figure for the same
    # file, and nothing accepted once is refused when redeployed under a longer revision number
    longest = measure(flow.model_copy(update={"revision": 9_999_999}), DeployNames.example()).definition
    assert longest is not None
    assert size(None) == size(1) == size(9_999_999) == len(definition_text(longest).encode())


def test_strato_validate_prints_the_deployers_messages_for_the_same_file(tmp_path: Path) -> None:
    # Given a flow file over the definition limit
    file = tmp_path / "wide.yaml"
    file.write_text(wide_parallel(1850), encoding="utf-8")

    # When it is validated
    result = CliRunner().invoke(cli, ["validate", "--quiet", str(file)])

    # Then it is invalid with the message `measure` gives the deployer
    expected = measure(load_flow(wide_parallel(1850), str(file)), DeployNames.example(), str(file)).problems
    assert result.exit_code == 1
    assert result.output.splitlines() == [str(problem) for problem in expected]
    assert expected
