"""A script running in its flow's sandbox stops when its task run is recorded KILLED: the runner's side
(a thread asks the stop check while the invoke waits and writes the stop object) and the sandbox's
side (the stop URL is polled while the command runs), each with fakes."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloud.runtime.script_sandbox import URL_SECONDS, LambdaScriptSandboxes
from stratoflow.sandbox_call import MAX_STOP_REASON_BYTES, SandboxReply, ScriptAnswer, ScriptJob
from stratoflow.tasks.errors import TaskStopped
from stratoflow.tasks.scripts import process, sandbox, stop_watch, transfer
from stratoflow.tasks.scripts.process import stopped_when
from stratoflow.tasks.scripts.stop_watch import StopWatch

PREFIX = "team.app/etl/executions/exec1/run1/sandbox/2/"
# A bound on the fakes' waits, so that a broken stop fails the test instead of hanging it.
BOUND_SECONDS = 30.0


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.signed: list[tuple[str, dict[str, str], int]] = []
        self.stop_written = threading.Event()

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = Body
        if Key.endswith("/stop"):
            self.stop_written.set()

    def generate_presigned_url(self, operation: str, Params: dict[str, str], ExpiresIn: int) -> str:
        self.signed.append((operation, Params, ExpiresIn))
        return f"https://s3.test/{Params['Key']}?signed"

    def generate_presigned_post(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        return {"url": "https://s3.test/", "fields": {"key": Key, "policy": "p"}}

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        for item in Delete["Objects"]:
            self.objects.pop(item["Key"], None)
        return {}


class SandboxUntilStopped:
    """Invoke = a command that runs until the stop object exists, then answers as a stopped sandbox."""

    def __init__(self, s3: FakeS3, stops: bool = True):
        self.s3, self.stops = s3, stops
        self.jobs: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.jobs.append(json.loads(Payload))
        if self.stops:
            assert self.s3.stop_written.wait(BOUND_SECONDS), "the runner never wrote the stop object"
            answer = ScriptAnswer(failure={"type": "TaskStopped", "message": "the command was killed: x"})
        else:
            answer = ScriptAnswer(exit_code=0)
        reply = SandboxReply(answer=answer).model_dump(mode="json", exclude_none=True)
        return {"Payload": io.BytesIO(json.dumps(reply).encode())}


def run_sandbox(lambda_client: SandboxUntilStopped, s3: FakeS3) -> ScriptAnswer:
    sandboxes = LambdaScriptSandboxes(lambda_client, s3, "data", "Stack")
    return sandboxes.for_task_run("team.app", "etl", "exec1", "run1", 2).run(job())


def job(**fields: Any) -> ScriptJob:
    return ScriptJob(
        folders=["/tmp/stratoflow-x"],
        cwd="/tmp/stratoflow-x/work",
        argv=["/bin/sh", "-c", "sleep 60"],
        env={},
        whole_line_limit=1024,
        **fields,
    )


def watchers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == stop_watch.THREAD_NAME]


def test_the_runner_writes_the_stop_object_when_its_check_fires_and_raises_task_stopped() -> None:
    # Given a task run whose stop check says it was killed, and a sandbox that runs until told to stop
    s3 = FakeS3()
    lambda_client = SandboxUntilStopped(s3)

    # When the runner hands the command over
    with stopped_when(lambda: "task 'body' timed out"), pytest.raises(TaskStopped) as stopped:
        run_sandbox(lambda_client, s3)

    # Then the job carried a presigned GET of the run's stop object, the runner wrote the reason
    # there (and cleaned it away after), stopped in its own words, and its watch ended
    (sent,) = lambda_client.jobs
    assert sent["stop_url"] == f"https://s3.test/{PREFIX}stop?signed"
    assert ("get_object", {"Bucket": "data", "Key": f"{PREFIX}stop"}, URL_SECONDS) in s3.signed
    assert URL_SECONDS > 900  # Lambda's longest run: the URL outlives the command
    assert s3.stop_written.is_set() and s3.objects == {}
    assert str(stopped.value) == "the command was killed: task 'body' timed out"
    assert stop_watch.watched() == 0


def test_a_check_that_never_fires_writes_nothing_and_its_watch_ends_with_the_invoke() -> None:
    # Given a task run that is not killed
    s3 = FakeS3()
    lambda_client = SandboxUntilStopped(s3, stops=False)

    # When its command ends
    with stopped_when(lambda: None):
        answer = run_sandbox(lambda_client, s3)

    # Then its answer is taken, no stop object was written, and nothing is watched any more
    assert answer.exit_code == 0
    assert not s3.stop_written.is_set()
    assert "stop_url" in lambda_client.jobs[0]
    assert stop_watch.watched() == 0


def test_without_a_stop_check_the_job_has_no_stop_url() -> None:
    # Given a runner that installed no stop check (nothing would ever write the object)
    s3 = FakeS3()
    lambda_client = SandboxUntilStopped(s3, stops=False)

    # When it hands a command over
    run_sandbox(lambda_client, s3)

    # Then the job carries no stop URL, and nothing was signed for one
    assert "stop_url" not in lambda_client.jobs[0]
    assert s3.signed == []


class FakeResponse(io.BytesIO):
    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def opener(status: int | None, body: bytes = b"", calls: list[str] | None = None) -> Callable[..., Any]:
    def open_url(url: str, timeout: float) -> FakeResponse:
        if calls is not None:
            calls.append(url)
        if status is None:
            raise urllib.error.URLError("connection refused")
        if status != 200:
            raise urllib.error.HTTPError(url, status, "no", {}, io.BytesIO(b"<Error/>"))  # type: ignore[arg-type]
        return FakeResponse(body)

    return open_url


@pytest.mark.parametrize("status", [404, 403, None], ids=["missing", "not listable", "unreachable"])
def test_the_stop_url_lets_the_command_run_on_while_there_is_no_stop_object(status: int | None) -> None:
    # Given a stop URL whose object does not exist (or cannot be read right now)
    check = transfer.stop_check("https://s3.test/stop", every=0.0, opener=opener(status))

    # When the command's loop asks it
    reason = check()

    # Then the command runs on
    assert reason is None


def test_the_stop_url_gives_the_runners_reason_once_the_object_exists() -> None:
    # Given a stop object holding the runner's reason (longer than a reason may be)
    long = b"task 'body' timed out " + b"x" * MAX_STOP_REASON_BYTES
    check = transfer.stop_check("https://s3.test/stop", every=0.0, opener=opener(200, long))

    # When the command's loop asks
    reason = check()

    # Then it is told to stop, with the reason cut to its limit
    assert reason is not None and reason.startswith("task 'body' timed out")
    assert len(reason) == MAX_STOP_REASON_BYTES


def test_the_stop_url_is_read_at_most_once_per_poll_interval() -> None:
    # Given a stop check on a fake clock
    now = [100.0]
    calls: list[str] = []
    check = transfer.stop_check("https://s3.test/stop", clock=lambda: now[0], opener=opener(404, calls=calls))

    # When the loop asks at once, then twice half a second later, then half a second after that
    check()
    now[0] += 0.5
    check()
    check()
    now[0] += 0.5
    check()

    # Then the URL was read every half second (the README's promise), not at once: a command that
    # ends within half a second costs no request
    assert len(calls) == 2


def test_a_failed_write_of_the_stop_object_is_tried_again_until_it_is_written() -> None:
    # Given a stop check that fires once (the record is read every 2 s) and a store that fails once
    fired = iter(["killed"])
    writes: list[str] = []
    written = threading.Event()

    def write(reason: str) -> None:
        writes.append(reason)
        if len(writes) == 1:
            raise OSError("S3 unreachable")
        written.set()

    # When the watch runs until the object is written
    with StopWatch(lambda: next(fired, None), write, every=0.01) as watch:
        assert written.wait(BOUND_SECONDS)

    # Then the reason was written again after the failure, and the thread ended with the block
    assert writes == ["killed", "killed"] and watch.signalled and not watch.running


def test_watches_one_after_another_share_one_thread_and_end_with_their_blocks() -> None:
    # Given a watch that fired and was written, then one whose block ends before its first round
    fired, written = iter(["killed"]), threading.Event()
    with StopWatch(lambda: next(fired, None), lambda _: written.set(), every=0.01) as first:
        assert written.wait(BOUND_SECONDS)
    first_thread = watchers()
    asked: list[str] = []
    with StopWatch(lambda: asked.append("asked") or None, lambda _: None, every=BOUND_SECONDS) as second:
        assert second.running

    # When a third watches until its check was asked twice
    twice = threading.Event()
    rounds: list[int] = []

    def check() -> None:
        rounds.append(1)
        if len(rounds) == 2:
            twice.set()

    with StopWatch(check, lambda _: None, every=0.01) as third:
        assert twice.wait(BOUND_SECONDS)

    # Then one thread served all three (no thread per watch), the short one was never asked, and
    # nothing is asked once the blocks have ended
    assert len(first_thread) == 1 and watchers() == first_thread
    assert first.signalled and not first.running and asked == [] and not second.running
    assert not third.running and stop_watch.watched() == 0


def test_a_block_that_ends_while_its_check_is_asked_waits_for_that_round() -> None:
    # Given a check that is being asked (a slow read of the record) when the block ends
    asking, release = threading.Event(), threading.Event()
    signals: list[str] = []

    def slow_check() -> str:
        asking.set()
        assert release.wait(BOUND_SECONDS)
        return "killed"

    watch = StopWatch(slow_check, signals.append, every=0.01)
    with watch:
        assert asking.wait(BOUND_SECONDS)
        threading.Timer(0.05, release.set).start()

    # Then the block's end waited for the round, whose reason and signal are there to read
    assert watch.reason == "killed" and signals == ["killed"] and watch.signalled


def sandbox_job(tmp_path: Path, **fields: Any) -> ScriptJob:
    root = tmp_path / "run"
    return ScriptJob(
        folders=[str(root)],
        cwd=str(root / "work"),
        argv=["/bin/true"],
        env={},
        whole_line_limit=1024,
        **fields,
    )


def stop_check_with(open_url: Callable[..., Any]) -> Callable[[str], process.StopCheck]:
    """The real stop check on `open_url`, polling at every ask (the loop stands in for a command
    running past the first poll)."""
    real = transfer.stop_check
    return lambda url: real(url, every=0.0, opener=open_url)


def command_until_stopped(*_: Any, **__: Any) -> int:
    """Stands in for run_process: the loop asks the installed checks, stopping when one says so."""
    reason = process.stop_reason()
    if reason is not None:
        raise TaskStopped(f"the command was killed: {reason}")
    return 0


def test_the_sandbox_kills_the_command_when_its_stop_url_finds_the_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job whose stop object exists (its runner was told the task run is KILLED)
    monkeypatch.setattr(sandbox, "run_process", command_until_stopped)
    monkeypatch.setattr(transfer, "stop_check", stop_check_with(opener(200, b"killed")))

    # When the sandbox runs it
    reply = sandbox.run_job(sandbox_job(tmp_path, stop_url="https://s3.test/stop"), root=tmp_path)

    # Then the command was stopped and the answer says so
    assert reply.answer is not None and reply.answer.failure is not None
    assert (reply.answer.failure.type, reply.answer.failure.message) == (
        "TaskStopped",
        "the command was killed: killed",
    )


@pytest.mark.parametrize("stop_url", ["https://s3.test/stop", None], ids=["no stop object", "older runner"])
def test_the_sandbox_runs_the_command_to_its_end_without_a_stop_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_url: str | None
) -> None:
    # Given a job whose stop URL answers 404, or a job from a runner before stops (no URL at all)
    monkeypatch.setattr(sandbox, "run_process", command_until_stopped)
    monkeypatch.setattr(transfer, "stop_check", stop_check_with(opener(404)))

    # When the sandbox runs it
    reply = sandbox.run_job(sandbox_job(tmp_path, stop_url=stop_url), root=tmp_path)

    # Then the command ran to its end
    assert reply.answer is not None and reply.answer.exit_code == 0 and reply.answer.failure is None


class OlderSandbox:
    """A sandbox deployed before stops existed: its job model refuses the field it does not know."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        job = json.loads(Payload)
        self.jobs.append(job)
        if "stop_url" in job:
            error = {
                "errorType": "ValidationError",
                "errorMessage": "1 validation error for ScriptJob\nstop_url\n  Extra inputs are not permitted",
            }
            return {"Payload": io.BytesIO(json.dumps(error).encode()), "FunctionError": "Unhandled"}
        reply = SandboxReply(answer=ScriptAnswer(exit_code=0)).model_dump(mode="json", exclude_none=True)
        return {"Payload": io.BytesIO(json.dumps(reply).encode())}


def test_a_sandbox_older_than_stops_still_runs_the_command_without_a_stop_url() -> None:
    # Given a flow whose sandbox function still has code from before stops (the stack was updated,
    # the flow not uploaded again)
    s3 = FakeS3()
    older = OlderSandbox()
    sandboxes = LambdaScriptSandboxes(older, s3, "data", "Stack")

    # When a runner with a stop check hands a command over
    with stopped_when(lambda: None):
        answer = sandboxes.for_task_run("team.app", "etl", "exec1", "run1", 2).run(job())

    # Then the refused job is sent again without the stop URL, and the command ran
    assert answer.exit_code == 0
    assert ["stop_url" in sent for sent in older.jobs] == [True, False]
    assert stop_watch.watched() == 0
