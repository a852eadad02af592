"""Deployments of one flow on moto: an older upload never wins, and a failed deployment leaves the
live revision fully live ($LATEST, which Subflow tasks start, included)."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from stratoflow.cloud.deploy.deployer import Deployer
from stratoflow.cloud.deploy.deployment import Deployment, Retirement
from stratoflow.cloud.deploy.registry import Verdict
from stratoflow.cloudsim.platform import CloudSimulation
from tests.integration.test_deployer_moto import describe, flow

pytestmark = pytest.mark.slow


class HeldStep:
    """Holds the deployment it runs in until `release` is set (a deployer paused mid-way)."""

    name = "held"

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def deploy(self, deployment: Deployment) -> None:
        if not deployment.restoring:
            self.reached.set()
            self.release.wait()

    def retire(self, retirement: Retirement) -> None:
        pass


class FailingStep:
    name = "failing"

    def deploy(self, deployment: Deployment) -> None:
        if not deployment.restoring:
            raise RuntimeError("PutMetricAlarm: Throttling")

    def retire(self, retirement: Retirement) -> None:
        pass


def sequencer() -> str:
    """An S3 event sequencer later than any before it (the simulation's are times too)."""
    return f"{time.time_ns():X}"


def quiet_put(sim: CloudSimulation, key: str, body: str) -> dict[str, Any]:
    """Put an object without delivering its event (the test delivers it when it chooses)."""
    sim.uploads.uninstall()
    s3 = boto3.client("s3")  # a client copies the session's handlers when created: this one has none
    sim.uploads.install()
    response: dict[str, Any] = s3.put_object(
        Bucket=sim.settings.stratoflow_flows_bucket, Key=key, Body=body.encode()
    )
    return response


def test_an_older_upload_held_mid_deployment_never_goes_live_over_a_newer_one(sim: CloudSimulation) -> None:
    # Given revision 1 live, then upload A, whose deployment is held before the state machine step
    sim.upload("race/flow.yaml", flow("race", "one"))
    bucket = sim.settings.stratoflow_flows_bucket
    a = quiet_put(sim, "race/flow.yaml", flow("race", "A"))
    held = HeldStep()
    deployer_a = Deployer(sim.store, sim.settings, sim.clients, steps=[held, *sim.deployer.steps])
    verdicts: dict[str, Verdict] = {}
    failures: list[BaseException] = []

    def deploy_a() -> None:
        try:
            verdicts["a"] = deployer_a.deploy_object(bucket, "race/flow.yaml", a["VersionId"], sequencer())
        except BaseException as error:
            failures.append(error)
        finally:
            held.reached.set()  # the test goes on (and fails) if A never reached its step

    thread = threading.Thread(target=deploy_a)
    thread.start()
    held.reached.wait()

    # When upload B (the newer one) arrives while A is held; B's deployer waits its turn (its pause
    # lets A go on, and waits for it)
    b = quiet_put(sim, "race/flow.yaml", flow("race", "B"))

    def let_a_finish(_delay: float) -> None:
        held.release.set()
        thread.join()

    deployer_b = Deployer(sim.store, sim.settings, sim.clients, steps=sim.deployer.steps, sleep=let_a_finish)
    verdicts["b"] = deployer_b.deploy_object(bucket, "race/flow.yaml", b["VersionId"], sequencer())
    held.release.set()
    thread.join()

    # Then A never went live, B did, and $LATEST runs B
    assert failures == []
    assert verdicts["a"].status == "SKIPPED"
    assert (verdicts["b"].status, verdicts["b"].revision) == ("DEPLOYED", 2)
    live = sim.store.get_flow("tests.deploy", "race")
    assert live is not None and live.revision == 2 and '"B"' in live.source
    assert "revision 2" in describe(sim, "tests.deploy", "race")["definition"]
    head = sim.store.get_flow_head("tests.deploy", "race")
    assert head is not None and (head.latest_revision, head.deployed_revision) == (2, 2)


def test_a_step_that_fails_after_the_state_machine_leaves_the_live_revision_fully_live(
    sim: CloudSimulation,
) -> None:
    # Given revision 1 live
    sim.upload("fails/flow.yaml", flow("fails", "one"))
    before = describe(sim, "tests.deploy", "fails")["definition"]
    bucket = sim.settings.stratoflow_flows_bucket
    changed = quiet_put(sim, "fails/flow.yaml", flow("fails", "two"))
    deployer = Deployer(sim.store, sim.settings, sim.clients, steps=[*sim.deployer.steps, FailingStep()])

    # When a deployment of a new content fails in a step after the state machine was updated
    with pytest.raises(RuntimeError, match="Throttling"):
        deployer.deploy_object(bucket, "fails/flow.yaml", changed["VersionId"], None)

    # Then $LATEST (what Subflow tasks start) is revision 1's again, and revision 1 is live
    assert describe(sim, "tests.deploy", "fails")["definition"] == before
    live = sim.store.get_flow("tests.deploy", "fails")
    assert live is not None and live.revision == 1
    # ... and the event delivered again deploys it (the lease was released)
    retried = sim.deployer.deploy_object(bucket, "fails/flow.yaml", changed["VersionId"], None)
    assert (retried.status, retried.revision) == ("DEPLOYED", 2)
