"""The README's CLI examples, run as a user would: every `strato ...` line of its code blocks.

Each command that can run on a laptop runs in a fresh folder (the examples beside it, the default
home `.stratoflow/` in it), in README order, as a subprocess of the installed `strato`; it must
exit 0 and print no traceback. The On-call walk-through needs a failed execution: the fixture flow
`tests/fixtures/readme/warehouse.yaml` fails for a missing credential, which is then "fixed" (the
secret set) before the commands that follow, and `3xYk...` names that execution by a prefix of its id.

Commands that need AWS or a long-running server are in SKIPPED, each with its reason, and usage
synopses (`[--option ...]`, `FLOW`) are not commands; both are still checked against `--help`: every
option they show must exist.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
STRATO = Path(sys.executable).with_name("strato")
FIXTURE = ROOT / "tests" / "fixtures" / "readme" / "warehouse.yaml"
PLACEHOLDER_ID = "3xYk..."

pytestmark = pytest.mark.slow

# Commands that cannot run here, by why. Matched on the command without its trailing comment.
SKIPPED: dict[str, str] = {
    # A long-running server: it runs until Ctrl-C (tests/unit/triggers/test_server.py covers it).
    "strato server --flows-dir examples/triggers --home .stratoflow --port 8080": "long-running server",
    # A deployed stack (AWS account and credentials): covered on moto by tests/integration/*_moto.py.
    "strato deploy examples/hello.yaml": "AWS",
    "strato deploy flows/ --prefix team-a/": "AWS",
    "strato execute examples.hello --input name=Ada --wait": "AWS",
    "strato executions list --remote": "AWS",
    "strato executions show <execution-id> --remote": "AWS",
    "strato logs <execution-id> --remote": "AWS",
    "strato kill 3xYk... --remote": "AWS",
    "strato restart 3xYk... --remote --wait": "AWS",
    "strato replay 3xYk... --from transform --remote": "AWS",
    "strato resume 3xYk... --input approved=true --remote": "AWS",
    # The CDK CLI on the packaged app: tests/integration/test_installed_wheel.py synthesizes it from an
    # installed wheel; tests/unit/cli/test_stack_cmd.py checks the CDK command and the one-line errors.
    "strato stack synth": "CDK CLI and the layer's pip download",
    "strato stack deploy -c alertEmail=oncall@example.com": "AWS",
    "strato stack diff": "AWS",
    "strato stack destroy": "AWS",
}
SYNOPSIS = re.compile(r"\[--|\b[A-Z][A-Z_.]{2,}\b")  # `[--json]`, `FLOW`, `NAMESPACE.FLOW_ID`


def readme_commands() -> list[str]:
    """The `strato ...` lines of the README's shell code blocks, comments removed, in order."""
    commands = []
    for language, body in re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(), re.S | re.M):
        if language not in ("bash", "sh", "shell", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if line.lstrip().startswith("strato "):
                commands.append(_without_comment(line))
    return commands


def _without_comment(line: str) -> str:
    """The line without its trailing shell comment (` # ...`; no README command has `#` in an argument)."""
    return re.split(r"\s+#", line.strip(), maxsplit=1)[0]


def test_the_readme_shows_commands_and_every_skip_is_still_in_it() -> None:
    commands = readme_commands()
    assert len(commands) > 20
    stale = set(SKIPPED) - set(commands)
    assert not stale, f"skipped commands no longer in the README: {stale}"


def test_every_option_the_readme_shows_exists() -> None:
    # Given every command and synopsis of the README, run or not
    for command in readme_commands():
        words = shlex.split(command)[1:]
        path = [w for w in words[:2] if re.fullmatch(r"[a-z]+", w) and not Path(w).suffix]
        # `strato executions list`, `strato schedule preview`: the subcommand path before the arguments
        path = path[:2] if path[:1] in (["executions"], ["schedule"], ["files"], ["flows"]) else path[:1]
        options = {w.split("=")[0] for w in re.findall(r"--[a-z][a-z-]*", command)}
        # When its --help is read
        done = subprocess.run([STRATO, *path, "--help"], capture_output=True, text=True, timeout=60)
        # Then it names every option shown
        assert done.returncode == 0, (command, done.stderr)
        missing = {o for o in options if o not in done.stdout}
        assert not missing, f"{command}: options not in `strato {' '.join(path)} --help`: {missing}"


def test_the_readme_commands_run(tmp_path: Path) -> None:
    # Given a folder with the examples, a fresh default home, and no credential for the fixture flow
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATOFLOW_", "SECRET_"))}
    failed_id = ""

    for command in readme_commands():
        if command in SKIPPED or SYNOPSIS.search(command.replace(PLACEHOLDER_ID, "")):
            continue
        if PLACEHOLDER_ID in command and not failed_id:
            failed_id = _failed_execution(tmp_path, env)
            env["SECRET_WAREHOUSE_TOKEN"] = "fixed"  # the cause, fixed before restart and replay
        words = shlex.split(command.replace(PLACEHOLDER_ID, failed_id[:8]))

        # When it runs as the README shows it
        done = subprocess.run(
            [STRATO, *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

        # Then it succeeds without a traceback
        output = done.stdout + done.stderr
        assert "Traceback" not in output, f"{command}\n{output}"
        assert done.returncode == 0, f"{command} exited {done.returncode}\n{output}"

    assert failed_id, "the README's On-call commands were not found"


def _failed_execution(folder: Path, env: dict[str, str]) -> str:
    """The id of an execution that FAILED in the folder's default home (the fixture, its secret unset)."""
    done = subprocess.run(
        [STRATO, "run", str(FIXTURE), "--json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    document = json.loads(done.stdout)
    assert document["state"] == "FAILED", done.stderr
    execution_id: str = document["executionId"]
    return execution_id
