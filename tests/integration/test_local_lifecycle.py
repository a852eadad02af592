"""`strato server` and `strato run` as real processes: SIGINT and SIGTERM stop them cleanly, a burst
of webhooks is answered whole.

Each test starts the command in a process of its own, signals it, and reads the history afterwards.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytest

KEY = "lifecycleKey0123456789"
# A script that records its shell's pid, then waits for a file that the test may never create.
SLOW = """
id: slow
namespace: lifecycle
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: work
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo $$ >> {pids}
      - while [ ! -e {release} ]; do sleep 0.05; done
triggers:
  - id: http
    type: Webhook
    key: {key}
"""
FAST = """
id: fast
namespace: lifecycle
tasks:
  - id: answer
    type: Return
    format: "{{{{ trigger.body.n }}}}"
outputs:
  - id: answer
    type: STRING
    value: "{{{{ outputs.answer.value }}}}"
triggers:
  - id: http
    type: Webhook
    key: {key}
"""


class Command:
    """A `strato` command in a process of its own, its output read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from stratoflow.cli.main import main; main()", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        with self._changed:
            found: list[re.Match[str]] = []

            def seen() -> bool:
                found.extend(m for line in self.lines if (m := re.search(pattern, line)))
                return bool(found)

            if not self._changed.wait_for(seen, timeout):
                raise AssertionError(f"no line matches {pattern!r}:\n" + "\n".join(self.lines))
            return found[0]

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def exit_code(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    flows = tmp_path / "flows"
    flows.mkdir()
    paths = {"flows": flows, "home": tmp_path / "home", "pids": tmp_path / "pids", "release": tmp_path / "go"}
    (flows / "slow.yaml").write_text(SLOW.format(pids=paths["pids"], release=paths["release"], key=KEY))
    (flows / "fast.yaml").write_text(FAST.format(key=KEY))
    return paths


@pytest.fixture
def server(folders: dict[str, Path]) -> Iterator[Callable[..., tuple[Command, str]]]:
    started: list[Command] = []

    def start(*extra: str) -> tuple[Command, str]:
        command = Command(
            "server",
            "--flows-dir",
            str(folders["flows"]),
            "--home",
            str(folders["home"]),
            "--port",
            "0",
            *extra,
        )
        started.append(command)
        port = command.wait_for_line(r"webhooks on http://127\.0\.0\.1:(\d+)/").group(1)
        command.wait_for_line(r"lifecycle\.slow revision 1 deployed")
        command.wait_for_line(r"lifecycle\.fast revision 1 deployed")
        return command, f"http://127.0.0.1:{port}/webhook/lifecycle"

    yield start
    for command in started:
        command.end()


def post(url: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def states(home: Path) -> dict[str, str]:
    if not (home / "stratoflow.db").exists():
        return {}
    try:
        with sqlite3.connect(home / "stratoflow.db") as db:
            rows = db.execute("SELECT id, state FROM executions").fetchall()
    except sqlite3.OperationalError:  # the schema is being created
        return {}
    return {row[0]: row[1] for row in rows}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


def pids(folders: dict[str, Path]) -> list[int]:
    text = folders["pids"].read_text() if folders["pids"].exists() else ""
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def port_free(url: str) -> bool:
    port = int(url.split(":")[2].split("/")[0])
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds (TIME_WAIT)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_killing_running_executions_and_keeping_queued_ones(
    server: Callable[..., tuple[Command, str]], folders: dict[str, Path], number: int
) -> None:
    # Given a server running one execution of a limit-1 flow (its script waiting), one queued behind
    # it, and a waited request on the running one in flight
    command, url = server()
    _, first = post(f"{url}/slow/{KEY}")
    _, queued = post(f"{url}/slow/{KEY}")
    assert queued["state"] == "QUEUED"
    wait_until(lambda: len(pids(folders)) == 1)
    waited: list[tuple[int, dict[str, Any]]] = []
    in_flight = threading.Thread(
        target=lambda: waited.append(post(f"{url}/slow/{KEY}?wait=true", {}, timeout=120))
    )
    in_flight.start()
    command.wait_for_line(r"execution \S+ QUEUED")  # the first one's answer came before: this is ours
    wait_until(lambda: len([line for line in command.lines if "QUEUED" in line]) >= 2)

    # When the server gets the signal
    command.signal(number)

    # Then it exits 0, having killed the running execution and its script, left the queued ones
    # queued, answered the waited request and released the port
    assert command.exit_code() == 0, command.output
    in_flight.join(60)
    recorded = states(folders["home"])
    assert recorded[first["executionId"]] == "KILLED"
    assert recorded[queued["executionId"]] == "QUEUED"
    assert sorted(recorded.values()) == ["KILLED", "QUEUED", "QUEUED"]
    assert waited and waited[0][0] == 202 and waited[0][1]["state"] == "QUEUED"
    assert not any(alive(pid) for pid in pids(folders))
    assert port_free(url)
    assert f"killed 1 running execution(s): {first['executionId']}" in command.output
    assert "left 2 queued execution(s) queued" in command.output
    assert f"{signal.Signals(number).name}: stopping" in command.output


def test_with_a_grace_period_running_executions_may_end_on_their_own(
    server: Callable[..., tuple[Command, str]], folders: dict[str, Path]
) -> None:
    # Given a server with a grace period, running one execution
    command, url = server("--grace", "600")
    _, first = post(f"{url}/slow/{KEY}")
    wait_until(lambda: len(pids(folders)) == 1)

    # When it gets SIGTERM, and the script is then let go
    command.signal(signal.SIGTERM)
    command.wait_for_line(r"letting 1 running execution\(s\) end")
    folders["release"].touch()

    # Then the execution ends SUCCESS and the server exits
    assert command.exit_code() == 0, command.output
    assert states(folders["home"])[first["executionId"]] == "SUCCESS"
    assert f"execution {first['executionId']} ended SUCCESS" in command.output


def test_a_second_signal_exits_at_once(
    server: Callable[..., tuple[Command, str]], folders: dict[str, Path]
) -> None:
    # Given a server in its grace period, waiting on a running execution
    command, url = server("--grace", "600")
    post(f"{url}/slow/{KEY}")
    wait_until(lambda: len(pids(folders)) == 1)
    command.signal(signal.SIGTERM)
    command.wait_for_line(r"letting 1 running execution\(s\) end")

    # When a second signal comes
    command.signal(signal.SIGINT)

    # Then the process exits at once, as a death by that signal
    assert command.exit_code() == 128 + signal.SIGINT, command.output
    assert "SIGINT again: exiting now" in command.output


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_kills_the_execution_of_strato_run(folders: dict[str, Path], number: int) -> None:
    # Given `strato run` of a flow whose script runs
    command = Command("run", str(folders["flows"] / "slow.yaml"), "--home", str(folders["home"]))
    try:
        wait_until(lambda: len(pids(folders)) == 1)

        # When it gets the signal
        command.signal(number)

        # Then the execution ends KILLED, its script with it, and the command says so
        assert command.exit_code() == 1, command.output
    finally:
        command.end()
    assert list(states(folders["home"]).values()) == ["KILLED"]
    assert not alive(pids(folders)[0])
    assert f"{signal.Signals(number).name}: killing execution" in command.output


def test_a_burst_of_200_concurrent_webhook_requests_is_answered_whole(
    server: Callable[..., tuple[Command, str]], folders: dict[str, Path]
) -> None:
    # Given a running server
    command, url = server()

    # When 200 requests arrive at once
    def one(n: int) -> int:
        return post(f"{url}/fast/{KEY}", {"n": n})[0]

    with ThreadPoolExecutor(200) as pool:
        answers = list(pool.map(one, range(200)))

    # Then every one is answered 200 (none reset) and each started one execution
    assert answers == [200] * 200
    command.signal(signal.SIGTERM)
    assert command.exit_code() == 0, command.output
    assert len(states(folders["home"])) == 200


PAUSED = """
id: paused
namespace: lifecycle
tasks:
  - id: before
    type: Return
    format: one
  - id: wait
    type: Pause
    onResume:
      - id: ok
        type: BOOLEAN
  - id: after
    type: Return
    format: "resumed {{ outputs.wait.onResume.ok }} after {{ outputs.before.value }}"
outputs:
  - id: said
    type: STRING
    value: "{{ outputs.after.value }}"
"""


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGKILL])
def test_a_pause_survives_its_strato_run_and_resumes_in_a_later_process(
    folders: dict[str, Path], number: int
) -> None:
    # Given `strato run` of a flow that paused
    flow_file = folders["flows"].parent / "paused.yaml"
    flow_file.write_text(PAUSED)
    home = folders["home"]
    command = Command("run", str(flow_file), "--home", str(home))
    try:
        wait_until(lambda: list(states(home).values()) == ["PAUSED"])

        # When the process ends (Ctrl-C, or killed outright)
        command.signal(number)
        code = command.exit_code()
    finally:
        command.end()
    (execution_id,) = states(home)

    # Then the execution stays PAUSED, also after another process looked for orphans
    assert code == (0 if number == signal.SIGINT else -signal.SIGKILL), command.output
    listed = Command("executions", "list", "--home", str(home))
    assert listed.exit_code() == 0
    assert states(home) == {execution_id: "PAUSED"}

    # When `strato resume` runs in a later process
    resumed = Command("resume", execution_id, "-i", "ok=true", "--json", "--home", str(home))

    # Then the execution continues there, from its pause, to its end
    assert resumed.exit_code() == 0, resumed.output
    assert states(home) == {execution_id: "SUCCESS"}
    document = json.loads(resumed.output[resumed.output.index("{") :])
    assert document["outputs"] == {"said": "resumed true after one"}
    assert [(r["taskId"], r["attempts"]) for r in document["taskRuns"]] == [
        ("before", 1),
        ("wait", 1),
        ("after", 1),
    ]


def test_a_half_sent_request_neither_holds_a_thread_nor_the_shutdown(
    server: Callable[..., tuple[Command, str]], folders: dict[str, Path]
) -> None:
    # Given a client that sent half of a request's headers and nothing more
    command, url = server()
    port = int(url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST /webhook/lifecycle/fast/" + KEY.encode() + b" HTTP/1.1\r\nHost: x\r\n")

        # When the server waits for the rest
        client.settimeout(120)
        answer = client.recv(1024)

        # Then it closes the connection (after its read timeout) without answering
        assert answer == b""

    # and the server still stops cleanly
    command.signal(signal.SIGTERM)
    assert command.exit_code() == 0, command.output
