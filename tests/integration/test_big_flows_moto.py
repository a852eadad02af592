"""Big flows through the real deployer on moto: a 2,000-task flow deploys as a state machine and its
parts (one revision = all their versions), its record kept in the data bucket; an invalid big flow
replaces nothing; retiring the flow deletes every part.

Past the first test, the flows are 30 tasks cut into two parts by small budgets (`small_parts`): the
deployer's steps are the same for any size, and a 2,000-task flow on moto costs half a minute each.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from stratoflow.cloud.deploy.deployer import Deployer
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.compiler import MAX_DEFINITION_BYTES
from stratoflow.compiler import parts as parts_module
from stratoflow.storage_layout import FLOW_RECORDS_PREFIX
from tests.integration.test_deploy_ordering_moto import FailingStep, quiet_put
from tests.unit.compiler.test_parts import chain

pytestmark = pytest.mark.slow

NAMESPACE = "big"
SMALL = 30  # tasks: two parts under `small_parts`'s budgets


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Budgets under which a flow of SMALL one-line tasks is cut into two parts, as 2,000 tasks are."""
    monkeypatch.setattr(parts_module, "ONE_MACHINE_BYTES", 4_000)
    monkeypatch.setattr(parts_module, "PART_BYTES", 15_000)
    monkeypatch.setattr(parts_module, "SMALL_BLOCK_BYTES", 1_000)


def describe(sim: CloudSimulation, arn: str) -> dict[str, Any]:
    response: dict[str, Any] = sim.clients.stepfunctions.describe_state_machine(stateMachineArn=arn)
    return response


def part_arns(definition: str) -> list[str]:
    """The part state machine ARNs a definition starts, in order of appearance."""
    states = json.loads(definition)["States"]
    return [
        state["Parameters"]["StateMachineArn"]
        for state in states.values()
        if state.get("Resource", "").startswith("arn:aws:states:::states:startExecution")
    ]


def record_objects(sim: CloudSimulation, flow_id: str) -> list[str]:
    response = sim.clients.s3.list_objects_v2(
        Bucket=sim.settings.stratoflow_data_bucket, Prefix=f"{FLOW_RECORDS_PREFIX}/{NAMESPACE}/{flow_id}/"
    )
    return [item["Key"] for item in response.get("Contents", [])]


def test_a_2000_task_flow_deploys_as_a_state_machine_and_its_parts(sim: CloudSimulation) -> None:
    # When a flow of 2,000 tasks is uploaded (about 1.4 MB in one state machine)
    verdict = sim.upload(
        "big/chain.yaml", chain(2000, "chain").replace("namespace: big", f"namespace: {NAMESPACE}")
    )

    # Then it deployed, its record holding the parts
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 1), verdict.errors
    record = sim.store.get_flow(NAMESPACE, "chain")
    assert record is not None and len(record.parts) >= 2
    # ... its version starts exactly the part versions published with it, each part under 1 MB as sent
    target = sim.deployer.target(NAMESPACE, "chain")
    version = sim.registry.version_arn(NAMESPACE, "chain", 1, verdict.source_hash)
    assert version is not None
    started = part_arns(describe(sim, version)["definition"])
    expected = [f"{target.part(n)[1]}:1" for n in range(1, len(record.parts) + 1)]
    assert sorted(started) == sorted(expected)
    for arn in started:
        part = describe(sim, arn)
        assert "${" not in part["definition"]
        assert len(part["definition"].encode()) < MAX_DEFINITION_BYTES


def test_a_flow_whose_record_passes_the_item_limit_deploys_its_record_kept_in_the_data_bucket(
    sim: CloudSimulation,
) -> None:
    # Given a flow carrying 400 KB of data that does not compress (its record passed DynamoDB's
    # 400 KB item limit: refused before records were kept in storage)
    data = base64.b64encode(random.Random(3).randbytes(300_000)).decode()
    source = (
        f"id: embedded\nnamespace: {NAMESPACE}\ntasks:\n  - id: say\n    type: Log\n    message: {data}\n"
    )

    # When it is uploaded
    verdict = sim.upload("big/embedded.yaml", source)

    # Then it deployed, its record an object of the data bucket that reads back whole
    assert verdict.status == "DEPLOYED", verdict.errors
    assert len(record_objects(sim, "embedded")) == 1
    record = sim.store.get_flow(NAMESPACE, "embedded")
    assert record is not None and record.source == source


@pytest.mark.usefixtures("small_parts")
def test_a_new_revision_of_a_big_flow_publishes_new_part_versions(sim: CloudSimulation) -> None:
    # Given a deployed big flow
    source = chain(SMALL, "again")
    first = sim.upload("big/again.yaml", source)

    # When it changes
    second = sim.upload("big/again.yaml", source.replace("message: task 5\n", "message: changed\n"))

    # Then revision 2 starts version 2 of each part, and revision 1 still starts version 1
    assert (second.status, second.revision) == ("DEPLOYED", 2), second.errors
    old = sim.registry.version_arn(NAMESPACE, "again", 1, first.source_hash)
    new = sim.registry.version_arn(NAMESPACE, "again", 2, second.source_hash)
    assert old is not None and new is not None
    assert all(arn.endswith(":1") for arn in part_arns(describe(sim, old)["definition"]))
    assert all(arn.endswith(":2") for arn in part_arns(describe(sim, new)["definition"]))


@pytest.mark.usefixtures("small_parts")
def test_an_invalid_big_flow_replaces_nothing(sim: CloudSimulation) -> None:
    # Given a deployed big flow
    source = chain(SMALL, "kept")
    sim.upload("big/kept.yaml", source)
    target = sim.deployer.target(NAMESPACE, "kept")
    before = {n: describe(sim, target.part(n)[1])["definition"] for n in (1, 2)}

    # When a version of it with a broken task is uploaded
    broken = source + "  - id: oops\n    type: io.kestra.plugin.core.log.Logg\n"
    verdict = sim.upload("big/kept.yaml", broken)

    # Then it is refused with a located error, revision 1 stays live, and no part changed
    assert verdict.status == "INVALID"
    assert any("big/kept.yaml:" in error for error in verdict.errors)
    record = sim.store.get_flow(NAMESPACE, "kept")
    assert record is not None and record.revision == 1
    assert {n: describe(sim, target.part(n)[1])["definition"] for n in (1, 2)} == before
    with pytest.raises(sim.clients.stepfunctions.exceptions.StateMachineDoesNotExist):
        describe(sim, f"{target.part(1)[1]}:2")  # no version was published for the refused upload


@pytest.mark.usefixtures("small_parts")
def test_retiring_a_big_flow_deletes_its_parts(sim: CloudSimulation) -> None:
    # Given a deployed big flow
    sim.upload("big/gone.yaml", chain(SMALL, "gone"))
    target = sim.deployer.target(NAMESPACE, "gone")
    assert describe(sim, target.part(2)[1])

    # When its file is deleted
    verdict = sim.delete("big/gone.yaml")

    # Then the flow's state machine and every part are gone
    assert verdict.status == "DELETED"
    for arn in (target.state_machine_arn, target.part(1)[1], target.part(2)[1]):
        with pytest.raises(sim.clients.stepfunctions.exceptions.StateMachineDoesNotExist):
            describe(sim, arn)


@pytest.mark.usefixtures("small_parts")
def test_a_failed_deployment_of_a_big_flow_puts_the_live_revisions_parts_back(sim: CloudSimulation) -> None:
    # Given revision 1 of a big flow live, then a changed upload whose deployment fails after the
    # state machines were updated
    source = chain(SMALL, "restored")
    sim.upload("big/restored.yaml", source)
    target = sim.deployer.target(NAMESPACE, "restored")
    live_parts = [describe(sim, f"{target.part(n)[1]}:1")["definition"] for n in (1, 2)]
    changed = quiet_put(sim, "big/restored.yaml", source.replace("message: task 7\n", "message: changed\n"))
    deployer = Deployer(sim.store, sim.settings, sim.clients, steps=[*sim.deployer.steps, FailingStep()])

    # When it fails
    with pytest.raises(RuntimeError, match="Throttling"):
        deployer.deploy_object(
            sim.settings.stratoflow_flows_bucket, "big/restored.yaml", changed["VersionId"]
        )

    # Then $LATEST of the flow (what Subflow tasks start) starts revision 1's part versions again (not
    # the parts' $LATEST, which the next deployment changes first), the parts' $LATEST are revision 1's,
    # and revision 1 is live
    latest = describe(sim, target.state_machine_arn)["definition"]
    assert sorted(part_arns(latest)) == sorted(f"{target.part(n)[1]}:1" for n in (1, 2))
    assert [describe(sim, target.part(n)[1])["definition"] for n in (1, 2)] == live_parts
    record = sim.store.get_flow(NAMESPACE, "restored")
    assert record is not None and record.revision == 1


@pytest.mark.usefixtures("small_parts")
def test_a_big_flow_whose_record_cannot_be_written_leaves_the_live_revision_live(
    sim: CloudSimulation,
) -> None:
    # Given revision 1 of a big flow live (its record, with 100 KB that do not compress, kept in the
    # data bucket), then a changed upload
    data = base64.b64encode(random.Random(5).randbytes(75_000)).decode()
    source = chain(SMALL, "unwritten") + f"  - id: data\n    type: Log\n    message: {data}\n"
    assert sim.upload("big/unwritten.yaml", source).status == "DEPLOYED"
    assert len(record_objects(sim, "unwritten")) == 1
    target = sim.deployer.target(NAMESPACE, "unwritten")
    live = describe(sim, target.state_machine_arn)["definition"]
    live_parts = [describe(sim, target.part(n)[1])["definition"] for n in (1, 2)]
    changed = quiet_put(sim, "big/unwritten.yaml", source.replace("message: task 7\n", "message: changed\n"))

    # When writing its record object fails after the state machines were updated
    def slow_down(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").startswith(FLOW_RECORDS_PREFIX):
            raise RuntimeError("PutObject: SlowDown")

    sim.clients.s3.meta.events.register("before-parameter-build.s3.PutObject", slow_down)
    with pytest.raises(RuntimeError, match="SlowDown"):
        sim.deployer.deploy_object(
            sim.settings.stratoflow_flows_bucket, "big/unwritten.yaml", changed["VersionId"]
        )
    sim.clients.s3.meta.events.unregister("before-parameter-build.s3.PutObject", slow_down)

    # Then the flow's $LATEST and its parts' are revision 1's again, and revision 1 is live
    assert describe(sim, target.state_machine_arn)["definition"] == live
    assert [describe(sim, target.part(n)[1])["definition"] for n in (1, 2)] == live_parts
    record = sim.store.get_flow(NAMESPACE, "unwritten")
    assert record is not None and record.revision == 1
