"""`strato server`: the local platform as a long-running process.

It watches a folder of flow files (polling every second; a file is re-read when its modification
time or size changes, and redeployed when its content hash does), serves webhooks on 127.0.0.1 with
the logic the Lambda uses and, when `open` is given one, the web console on the same port (uvicorn,
`stratoflow.local.http`; `stratoflow.console.local.server_console` builds it), fires schedules, starts Flow triggers when an execution ends, applies
concurrency limits and keeps every execution's history in the local store. An invalid file is
reported and its flow's last good revision keeps running; a deleted file retires its flow.

Stopping it (SIGINT or SIGTERM to `strato server`, or `stop.set()` on `serve`) stops accepting
requests, lets the running executions end on their own for up to `grace` seconds, then stops the rest
(they end KILLED), answers the requests in flight (a waited one with the state it has), leaves queued
executions queued for the next start and releases the port.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stratoflow.domain import Execution
from stratoflow.engine import Clock
from stratoflow.errors import FlowValidationError, NotFoundError, StratoflowError
from stratoflow.execution.admission import admit, should_start
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.execution.flows import flow_of
from stratoflow.execution.occurrences import as_paused, occurrence_id, pauses_of
from stratoflow.execution.secrets import SecretSource
from stratoflow.execution.slots import sweep_slots
from stratoflow.flow import Flow
from stratoflow.local.ended import EndedExecutions
from stratoflow.local.platform import LocalPlatform
from stratoflow.states import State
from stratoflow.triggers.backfill import schedule_triggers, starts_of
from stratoflow.triggers.events import event_execution_id
from stratoflow.triggers.flow_triggers import matching_flow_triggers, trigger_problems
from stratoflow.triggers.recovery import get_last_fired, missed_starts, set_last_fired
from stratoflow.triggers.schedules import CronSchedule
from stratoflow.triggers.webhooks import StartRefused, Webhooks

if TYPE_CHECKING:
    from stratoflow.local.http import ASGIApp, HttpEndpoint

POLL_SECONDS = 1.0
SWEEP_SECONDS = 10.0
FLOW_SUFFIXES = (".yaml", ".yml")

logger = logging.getLogger(__name__)
Report = Callable[[str], None]


@dataclass
class _File:
    """What the server knows of one flow file."""

    signature: tuple[int, int]  # (mtime_ns, size): cheap to compare every second
    digest: str
    flow: tuple[str, str] | None  # (namespace, flow id) it holds, once it was valid


class StratoServer:
    """The folder watcher, the webhook endpoint and the trigger loop around one LocalPlatform."""

    def __init__(
        self,
        flows_dir: Path | str,
        home: Path | str = ".stratoflow",
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        clock: Clock | None = None,
        report: Report | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
        grace: float = 0.0,
        owns_process: bool = False,
        secrets: SecretSource | None = None,
    ) -> None:
        self.flows_dir = Path(flows_dir)
        self.platform = LocalPlatform(home, clock, owns_process=owns_process, secrets=secrets)
        self.platform.finished_hooks.append(self._run_flow_triggers)
        self.platform.paused_hooks.append(self._run_pause_triggers)
        self.webhooks = Webhooks(
            self.platform.store,
            self.start,
            secrets=self.platform.secrets,
            wait_for_end=self.platform.ends.wait,
        )
        self.grace = grace
        self.ended = EndedExecutions(self.platform.store, now)
        self.host, self.port = host, port
        self.report: Report = report or logger.info
        self.poll_seconds, self.sweep_seconds = poll_seconds, sweep_seconds
        self._now = now
        self._files: dict[Path, _File] = {}
        self._schedule_marks: dict[tuple[str, str, str], datetime] = {}
        self._last_sweep = float("-inf")
        self._stopping = threading.Event()
        # Set as the server stops: what streams to a client (the console's live logs) ends.
        self.closing = threading.Event()
        self._http: HttpEndpoint | None = None

    # --- running ---------------------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Serve until `stop` is set, then shut down cleanly (opens the endpoint unless `open` did)."""
        if self._http is None:
            self.open()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.poll_seconds)
        finally:
            self.close()

    def open(self, console: ASGIApp | None = None) -> None:
        """Bind the HTTP endpoint (port 0: any free port, then `self.port` says which): the webhooks,
        and `console` (an ASGI app) for every other path. OSError when the port cannot be had."""
        # Imported here on purpose: uvicorn loads only for a server that listens.
        from stratoflow.local.http import HttpEndpoint, not_found, platform_app, webhook_endpoint

        app = platform_app(webhook_endpoint(self.webhooks), console or not_found)
        self._http = HttpEndpoint(app, self.host, self.port)
        self.port = self._http.open()
        self.report(f"webhooks on http://{self.host}:{self.port}/webhook/<namespace>/<flowId>/<key>")
        if console is not None:
            self.report(f"console on http://{self.host}:{self.port}/")

    def tick(self) -> None:
        """One round: redeploy changed files, fire due schedules, give back slots now and then."""
        self.sync_flows()
        self.fire_schedules(self._now())
        for execution, pause in self.ended.poll():  # ended or paused in another process (`strato run`)
            self._fire_flow_triggers(execution, pause)
        if time.monotonic() - self._last_sweep >= self.sweep_seconds:
            self._last_sweep = time.monotonic()
            self.sweep()

    def close(self) -> None:
        """Stop: no new request or start, running executions killed (after `grace`), port released."""
        self._stopping.set()
        if self._http is not None:
            self._http.stop_accepting()  # the ones in flight go on; waiting connections are refused
        running = sorted(self.platform.callbacks.running())
        working = self.platform.working()
        if working and self.grace > 0:
            self.report(f"letting {len(working)} running execution(s) end, for up to {self.grace:g} s")
        stopped = self.platform.stop_all("the server stopped", self.grace)
        for execution_id in sorted(set(running) - set(stopped)):
            execution = self.platform.store.get_execution(execution_id)
            state = execution.state if execution else "unknown"
            how = "stays PAUSED: `strato resume` continues it" if state == State.PAUSED else f"ended {state}"
            self.report(f"execution {execution_id} {how}")
        if stopped:
            self.report(f"killed {len(stopped)} running execution(s): {', '.join(stopped)}")
        self.platform.ends.close()  # waited requests answer now with the state they have
        if self._http is not None:
            self.closing.set()  # live log streams end
            self._http.close()  # waits for the requests in flight to be answered
        queued = sorted(e.id for e in self.platform.store.list_executions(state=State.QUEUED, limit=10_000))
        self.platform.close()
        if queued:
            self.report(f"left {len(queued)} queued execution(s) queued: {', '.join(queued)}")

    # --- starting executions ---------------------------------------------------------------------

    def start(
        self,
        namespace: str,
        flow_id: str,
        inputs: dict[str, Any],
        trigger: dict[str, Any] | None,
        execution_id: str | None,
        labels: dict[str, str] | None = None,
    ) -> Execution:
        """Admit an execution of the live flow and run it in the background when admission says so."""
        if self._stopping.is_set():
            raise StartRefused(503, "the server is stopping")
        record = self.platform.store.get_flow(namespace, flow_id)
        if record is None:
            raise NotFoundError(f"flow {namespace}.{flow_id} is not deployed")
        flow = flow_of(record)
        execution, new = admit(
            self.platform.store,
            flow,
            record.revision,
            inputs,
            labels=labels,
            trigger=trigger,
            execution_id=execution_id,
        )
        if new and should_start(execution) and not self._stopping.is_set():
            self.platform.launch(execution)
        if new:
            self.report(
                f"{namespace}.{flow_id}: execution {execution.id} {execution.state}" + _why(execution)
            )
        return execution

    def start_by_hand(
        self, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str], execution_id: str
    ) -> Execution:
        """A start with no trigger (the console's form), refused like any other while stopping."""
        return self.start(namespace, flow_id, inputs, None, execution_id, labels)

    def _run_flow_triggers(self, finished: Execution) -> None:
        if self.ended.handle(finished):
            self._fire_flow_triggers(finished)

    def _run_pause_triggers(self, paused: Execution) -> None:
        pause = pauses_of(paused)
        if self.ended.handle_pause(paused, pause):
            self._fire_flow_triggers(as_paused(paused), pause)

    def _fire_flow_triggers(self, upstream: Execution, pause: int = 0) -> None:
        """Start what the end of `upstream` (or, `pause` > 0, its pause number `pause`) triggers."""
        if self._stopping.is_set():
            return
        what = "paused" if pause else f"ended {upstream.state}"
        self.report(f"{upstream.namespace}.{upstream.flow_id}: execution {upstream.id} {what}")
        occurrence = occurrence_id(upstream.id, pause)
        for flow, trigger in matching_flow_triggers(upstream, self.live_flows()):
            execution_id = event_execution_id(flow.namespace, flow.id, trigger.id, occurrence)
            delivery: dict[str, Any] = {
                "id": trigger.id,
                "type": trigger.type_name,
                "executionId": upstream.id,
            }
            if pause:
                delivery["pause"] = pause
            self._start_quietly(flow, delivery, execution_id, f"trigger '{trigger.id}'")

    def _start_quietly(
        self,
        flow: Flow,
        trigger: dict[str, Any],
        execution_id: str,
        what: str,
        inputs: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Start from a trigger: a refusal is reported, never raised into the loop that fired it."""
        try:
            self.start(flow.namespace, flow.id, inputs or {}, trigger, execution_id, labels)
        except TriggerSkipped as skipped:
            logger.debug("%s", skipped)
        except StratoflowError as error:
            self.report(f"{flow.namespace}.{flow.id}: {what} could not start an execution: {error}")

    def live_flows(self) -> list[Flow]:
        return [flow_of(record) for record in self.platform.store.list_flows()]

    def fire_schedules(self, now: datetime) -> None:
        """Start the slots that came due since the last round (after a restart: the missed ones)."""
        store = self.platform.store
        for flow in self.live_flows():
            if flow.disabled:
                for trigger in schedule_triggers(flow):
                    self._schedule_marks.pop((flow.namespace, flow.id, trigger.id), None)
                continue
            for trigger in schedule_triggers(flow):
                key = (flow.namespace, flow.id, trigger.id)
                if trigger.disabled:  # when enabled again, what it missed is recovered by its policy
                    self._schedule_marks.pop(key, None)
                    continue
                since = self._schedule_marks.get(key)
                self._schedule_marks[key] = now
                if since is None:  # first round for this trigger: what it missed while nobody ran it
                    starts = missed_starts(flow, trigger, get_last_fired(store, *key), now)
                else:
                    starts = starts_of(flow, trigger, list(CronSchedule.of(trigger).fire_times(since, now)))
                for start in starts:
                    what = f"schedule '{trigger.id}'"
                    self._start_quietly(
                        flow, start.trigger, start.execution_id, what, start.inputs, start.labels
                    )
                    set_last_fired(store, *key, start.instant, start.execution_id)

    def sweep(self) -> None:
        """Fail the executions of processes that died (an earlier server, a `strato run`), give back
        the slots of executions that ended without releasing them; start what fits."""
        for execution in self.platform.recover_orphans():
            self.report(f"execution {execution.id} ended {execution.state}: {execution.error}")
        for flow in self.live_flows():
            if flow.concurrency is None:
                continue
            for execution in sweep_slots(self.platform.store, flow.namespace, flow.id):
                if not self._stopping.is_set():
                    self.platform.launch(execution)

    # --- the folder ------------------------------------------------------------------------------

    def sync_flows(self) -> None:
        """Deploy new and changed flow files; retire the flows of deleted ones."""
        present = set()
        for path in sorted(p for p in self.flows_dir.rglob("*") if p.suffix in FLOW_SUFFIXES and p.is_file()):
            present.add(path)
            try:
                stat = path.stat()
                signature = (stat.st_mtime_ns, stat.st_size)
                known = self._files.get(path)
                if known is not None and known.signature == signature:
                    continue
                text = path.read_text()
            except OSError as error:  # deleted or unreadable between the listing and the read
                self.report(f"{path}: cannot read: {error}")
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            if known is not None and known.digest == digest:
                known.signature = signature  # touched, not changed
                continue
            self._files[path] = _File(signature, digest, self._deploy(path, text, known))
        for path in sorted(set(self._files) - present):
            gone = self._files.pop(path)
            self._retire(gone.flow, path)

    def _deploy(self, path: Path, text: str, known: _File | None) -> tuple[str, str] | None:
        store = self.platform.store
        try:
            flow, record = self.platform.deploy_source(text, str(path))
        except FlowValidationError as invalid:
            lines = [str(d) for d in invalid.diagnostics]
            self.report(f"{path}: invalid, not deployed:\n  " + "\n  ".join(lines))
            identity = _identity(text) or (known.flow if known else None)
            if identity is not None and store.get_flow_head(*identity) is not None:
                store.set_flow_status(*identity, "INVALID", lines)
                live = store.get_flow(*identity)
                if live is not None:
                    self.report(f"{identity[0]}.{identity[1]}: revision {live.revision} keeps running")
            return known.flow if known else None
        identity = (flow.namespace, flow.id)
        head = store.get_flow_head(*identity)
        if head is not None and head.status != "DEPLOYED":
            store.set_flow_status(*identity, "DEPLOYED")  # back to the live revision's source
        self.report(f"{path}: {flow.namespace}.{flow.id} revision {record.revision} deployed")
        for problem in trigger_problems(flow):
            self.report(f"{path}: warning: {problem}")
        if known is not None and known.flow not in (None, identity):
            self._retire(known.flow, path)
        return identity

    def _retire(self, identity: tuple[str, str] | None, path: Path) -> None:
        """Retire a flow whose file went away, unless another file still holds it."""
        if identity is None or any(f.flow == identity for f in self._files.values()):
            return
        if self.platform.store.get_flow_head(*identity) is not None:
            self.platform.store.set_flow_status(*identity, "DELETED")
            self.report(f"{path}: gone, {identity[0]}.{identity[1]} retired")


def _identity(text: str) -> tuple[str, str] | None:
    """(namespace, id) of a flow file that does not validate, when its top level still says them."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and isinstance(data.get("namespace"), str) and isinstance(data.get("id"), str):
        return data["namespace"], data["id"]
    return None


def _why(execution: Execution) -> str:
    return f" ({execution.error})" if execution.error else ""
