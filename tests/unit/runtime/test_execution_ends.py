"""Waiting for an execution's end: woken by the platform as it records the end, not by polling."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from stratoflow.execution.admission import admit
from stratoflow.execution.flows import live_flow
from stratoflow.execution.secrets import EnvironmentSecrets
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.local.deploy import deploy_flow
from stratoflow.local.ends import ExecutionEnds
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.webhooks import WebhookRequest, Webhooks

pytestmark = pytest.mark.timeout(60)  # a wait that is never woken fails instead of hanging for an hour
HOUR = 3600.0

FLOW = """
    id: ingest
    namespace: team
    tasks: [{id: t, type: Return, format: done}]
    triggers:
      - {id: hook, type: Webhook, key: s3cr3t-Key_1-abcdefgh}
"""


def test_a_waiter_is_woken_by_the_end_it_waits_for() -> None:
    # Given a waiter on execution "a", waiting up to an hour
    ends = ExecutionEnds()
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(ends.wait("a", HOUR)))
    waiter.start()

    # When "a" ends
    ends.ended("a")
    waiter.join()

    # Then the waiter returned, told to go on
    assert woken == [True]


def test_an_end_recorded_before_the_wait_is_found_at_once() -> None:
    ends = ExecutionEnds()
    ends.ended("a")

    assert ends.wait("a", HOUR) is True


def test_close_wakes_every_waiter_and_tells_it_to_stop_waiting() -> None:
    # Given a waiter on an execution that does not end
    ends = ExecutionEnds()
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(ends.wait("queued", HOUR)))
    waiter.start()

    # When the platform stops
    ends.close()
    waiter.join()

    # Then the waiter returned, told to stop waiting; later waits return at once too
    assert woken == [False]
    assert ends.wait("other", HOUR) is False


def test_only_the_most_recent_ends_are_kept() -> None:
    ends = ExecutionEnds(recent=2)
    for name in ("a", "b", "c"):
        ends.ended(name)

    assert [ends.has_ended(n) for n in ("a", "b", "c")] == [False, True, True]


def test_the_platform_signals_each_end_it_records(tmp_path: Path) -> None:
    # Given a platform and an execution of a deployed flow
    platform = LocalPlatform(tmp_path / "home")
    flow, record = platform.deploy_source(textwrap.dedent(FLOW), "ingest.yaml")
    execution = platform.admit(flow, record, {})

    # When it runs to its end
    platform.run(execution)

    # Then its end was signalled
    assert platform.ends.has_ended(execution.id)
    platform.close()


def test_a_waited_webhook_answers_on_the_end_signal_without_sleeping(tmp_path: Path) -> None:
    # Given webhooks whose wait is the end signal, an execution that ends while the request waits,
    # and a poll interval of an hour (a poll would time the test out)
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        source = textwrap.dedent(FLOW)
        deploy_flow(store, load_flow(source), source)
        ends = ExecutionEnds()
        waits: list[tuple[str, float]] = []

        def start(
            namespace: str, flow_id: str, inputs: dict[str, Any], trigger: Any, execution_id: str
        ) -> Any:
            flow = live_flow(store, namespace, flow_id)
            assert flow is not None
            execution, _ = admit(store, flow, 1, inputs, trigger=trigger, execution_id=execution_id)

            def engine() -> None:
                store.update_execution(execution.id, state=State.RUNNING)
                store.update_execution(execution.id, state=State.SUCCESS, outputs={"v": 1})
                ends.ended(execution.id)

            threading.Thread(target=engine).start()
            return execution

        def wait_for_end(execution_id: str, seconds: float) -> bool:
            waits.append((execution_id, seconds))
            return ends.wait(execution_id, seconds)

        def no_sleep(seconds: float) -> None:
            raise AssertionError("a waited request with an end signal must not poll by sleeping")

        webhooks = Webhooks(
            store,
            start,
            secrets=EnvironmentSecrets({}),
            wait_for_end=wait_for_end,
            sleep=no_sleep,
            poll_seconds=HOUR,
            wait_seconds=2 * HOUR,
        )
        request = WebhookRequest(
            "POST", "/webhook/team/ingest/s3cr3t-Key_1-abcdefgh", {"wait": ["true"]}, {}, b""
        )

        # When a waited request comes
        response = webhooks.handle(request)

    # Then it is answered with the end and the outputs
    assert response.status == 200
    assert (response.body["state"], response.body["outputs"]) == ("SUCCESS", {"v": 1})
    assert all(seconds == HOUR for _, seconds in waits)
