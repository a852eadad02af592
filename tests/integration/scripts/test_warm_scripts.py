"""Warm interpreters: a Python script forked from the template behaves as in a fresh `python script.py`
— its own process, directory, environment, exit code, traceback and threads — and shell commands
run as before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stratoflow.execution.runner.outputs import resolve
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed, TaskTimeout
from stratoflow.tasks.scripts import warm
from stratoflow.tasks.scripts.environment import LIBRARY
from stratoflow.tasks.scripts.workdir import working_directory
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task

PROBE = """
import json, os, sys, random, threading
print(json.dumps({
    "name": __name__,
    "argv0": os.path.basename(sys.argv[0]),
    "file": os.path.basename(__file__),
    "path0_is_script_dir": sys.path[0] == os.path.dirname(os.path.abspath(__file__)),
    "cwd_is_workdir": os.path.basename(os.getcwd()) == "work",
    "env": sorted(k for k in os.environ if not k.startswith("LC_")),
    "encoding": sys.stdout.encoding,
    "pid": os.getpid(),
    "random": random.random(),
}))
threading.Thread(target=lambda: print("thread done")).start()
"""


def _probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch: str
) -> tuple[dict[str, object], list[str]]:
    monkeypatch.setenv(warm.SWITCH, switch)
    task = load_task(json.dumps({"id": "p", "type": "scripts.Python", "script": PROBE}))
    ctx = direct_context(tmp_path)
    task.run(ctx)
    first, *rest = (e.message for e in ctx.logs)
    return json.loads(first), rest


def test_a_warm_script_sees_what_a_cold_one_sees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given / When: the same probe, forked from the template and started cold
    (tmp_path / "warm").mkdir()
    (tmp_path / "cold").mkdir()
    warm_seen, warm_rest = _probe(tmp_path / "warm", monkeypatch, "1")
    cold_seen, cold_rest = _probe(tmp_path / "cold", monkeypatch, "0")

    # Then
    for seen in (warm_seen, cold_seen):
        del seen["pid"], seen["random"]
    assert warm_seen == cold_seen
    assert warm_seen["name"] == "__main__" and warm_seen["path0_is_script_dir"] is True
    assert warm_rest == cold_rest == ["thread done"]  # the script's threads end before it exits


def test_each_warm_script_is_a_fresh_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given / When
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, _ = _probe(tmp_path / "one", monkeypatch, "1")
    two, _ = _probe(tmp_path / "two", monkeypatch, "1")

    # Then: another process, reseeded random, no state carried over
    assert one["pid"] != two["pid"] != os.getpid()
    assert one["random"] != two["random"]


def test_a_warm_script_failure_gives_the_scripts_traceback(tmp_path: Path) -> None:
    # Given
    task = load_task("{id: p, type: scripts.Python, script: \"x = 1\\nraise ValueError('bad value')\"}")
    ctx = direct_context(tmp_path)

    # When
    with pytest.raises(TaskFailed, match="exited with code 1: ValueError: bad value"):
        task.run(ctx)

    # Then: the script's own frame, none of the template's
    lines = [e.message for e in ctx.logs]
    assert lines[0] == "Traceback (most recent call last):"
    assert "line 2, in <module>" in "\n".join(lines)
    assert not any("runpy" in line or "template.py" in line for line in lines)


def test_a_warm_script_exit_code_is_the_tasks(tmp_path: Path) -> None:
    task = load_task("{id: p, type: scripts.Python, script: 'import sys; sys.exit(3)'}")

    with pytest.raises(TaskFailed, match="exited with code 3"):
        task.run(direct_context(tmp_path))


def test_a_warm_script_is_killed_at_its_timeout(tmp_path: Path) -> None:
    task = load_task("{id: p, type: scripts.Python, timeout: PT0.3S, script: 'import time; time.sleep(60)'}")

    with pytest.raises(TaskTimeout):
        task.run(direct_context(tmp_path))


def test_a_template_that_died_is_started_again(tmp_path: Path) -> None:
    # Given: a template, killed from outside
    task = load_task("{id: p, type: scripts.Python, script: 'print(42)'}")
    (tmp_path / "first").mkdir()
    task.run(direct_context(tmp_path / "first"))
    for template in list(warm._templates.values()):
        os.kill(template.process.pid, signal.SIGKILL)
        template.process.wait()
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then
    assert [e.message for e in ctx.logs] == ["42"]


def _waiting_child(template_pid: int) -> int:
    """The template's one child forked ahead (it forks it while the previous task runs), asleep
    waiting for its task (the previous task's child may still be exiting beside it)."""
    deadline = time.monotonic() + 10
    while len(children := _children_of(template_pid, "S")) != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    (child,) = children
    return child


def _children_of(pid: int, state: str) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] == state:
            found.append(int(stat.parent.name))
    return found


def test_the_child_forked_ahead_runs_the_next_task_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    # Given: a template with a child forked ahead of the next task
    task = load_task("{id: p, type: scripts.Python, script: 'import os; print(os.getpid())'}")
    (tmp_path / "first").mkdir()
    task.run(direct_context(tmp_path / "first"))
    (template,) = [t for t in warm._templates.values() if t.alive]
    spare = _waiting_child(template.process.pid)

    # When: the next task runs on it
    (tmp_path / "second").mkdir()
    ctx = direct_context(tmp_path / "second")
    task.run(ctx)

    # Then: that child ran it, and another one waits for the task after
    assert [e.message for e in ctx.logs] == [str(spare)]
    next_spare = _waiting_child(template.process.pid)
    assert next_spare != spare

    # When: that child is killed while it waits, then a task runs
    os.kill(next_spare, signal.SIGKILL)
    again = direct_context(tmp_path)
    task.run(again)

    # Then: the task ran in a fresh child all the same
    (line,) = [e.message for e in again.logs]
    assert int(line) not in (spare, next_spare)


def test_a_child_forked_ahead_runs_its_task_with_that_tasks_environment(tmp_path: Path) -> None:
    # Given: a child forked ahead while a task with another environment ran
    first = load_task(
        "{id: a, type: scripts.Python, env: {FIRST_ONLY: '1', SHARED: a, TZ: UTC}, script: 'print(1)'}"
    )
    (tmp_path / "first").mkdir()
    first.run(direct_context(tmp_path / "first"))
    (template,) = [t for t in warm._templates.values() if t.alive]
    spare = _waiting_child(template.process.pid)
    probe = (
        "import os, sys, time; print(os.getpid(), os.environ.get('FIRST_ONLY'), os.environ['SHARED'],"
        " time.strftime('%z'), os.path.basename(os.path.dirname(os.getcwd())))"
    )
    second = load_task(
        json.dumps(
            {"id": "b", "type": "scripts.Python", "env": {"SHARED": "b", "TZ": "Asia/Tokyo"}, "script": probe}
        )
    )
    ctx = direct_context(tmp_path)

    # When
    with working_directory() as expected:  # the folder after this one is the task's
        pass
    second.run(ctx)

    # Then: it ran the task with the task's variables, time zone and folder, nothing of the first's
    (line,) = [e.message for e in ctx.logs]
    pid, first_only, shared, zone, folder = line.split()
    assert int(pid) == spare
    assert (first_only, shared, zone) == ("None", "b", "+0900")
    assert int(folder) == int(expected.private.name) + 1


@pytest.mark.parametrize("end", ["exit", "kill"])
def test_the_child_forked_ahead_ends_with_the_runner(tmp_path: Path, end: str) -> None:
    # Given: a runner process that ran a script task, its template and the child forked ahead
    runner_code = f"""
import sys, time
from pathlib import Path
from tests.integration.scripts.test_warm_scripts import _waiting_child
from tests.unit.tasks.task_helpers import direct_context, load_task
from stratoflow.tasks.scripts import warm
from stratoflow.tasks.scripts.environment import LIBRARY
load_task("{{id: p, type: scripts.Python, script: 'print(1)'}}").run(direct_context(Path({str(tmp_path)!r})))
(template,) = warm._templates.values()
print(template.process.pid, _waiting_child(template.process.pid), flush=True)
sys.stdin.readline()
"""
    runner = subprocess.Popen(
        [sys.executable, "-c", runner_code],
        cwd=Path(__file__).parents[3],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert runner.stdout is not None and runner.stdin is not None
    template_pid, spare = (int(pid) for pid in runner.stdout.readline().split())
    assert _running(template_pid) and _running(spare)

    # When: the runner ends, normally or killed
    if end == "kill":
        runner.kill()
    else:
        runner.stdin.close()
    runner.wait(30)

    # Then: the template and its waiting child end too
    deadline = time.monotonic() + 10
    while (_running(template_pid) or _running(spare)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(template_pid)
    assert not _running(spare)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_large_environment_reaches_the_warm_script_whole(tmp_path: Path) -> None:
    # Given: a request larger than a socket's buffer
    big = "x" * (2 * 1024 * 1024)
    task = load_task(
        json.dumps(
            {
                "id": "p",
                "type": "scripts.Python",
                "env": {"BIG": big},
                "script": "import os; print(len(os.environ['BIG']))",
            }
        )
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then
    assert [e.message for e in ctx.logs] == [str(len(big))]


def test_more_modules_can_be_imported_by_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("STRATOFLOW_WARM_IMPORTS", "xml.dom.minidom, no_such_module")
    task = load_task(
        "{id: p, type: scripts.Python, script: \"import sys; print('xml.dom.minidom' in sys.modules)\"}"
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then: imported before the script's first line (and a missing module did not stop the template)
    assert [e.message for e in ctx.logs] == ["True"]


def test_many_scripts_at_once_share_the_template_and_each_gets_its_own_outputs(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given: 24 Python tasks at once (a ForEach without a concurrency limit)
    source = flow_source(
        """
        - id: each
          type: ForEach
          values: "{{ range(0, 23) }}"
          concurrencyLimit: 0
          tasks:
            - id: py
              type: scripts.Python
              script: |
                import os, time
                from kestra import Kestra
                time.sleep(0.05)
                Kestra.outputs({"value": {{ taskrun.value }} * 2, "pid": os.getpid()})
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    runs = [r for r in outcome.task_runs if r.task_id == "py"]
    values = sorted(resolve(r.outputs, platform.blobs)["vars"]["value"] for r in runs)
    pids = {resolve(r.outputs, platform.blobs)["vars"]["pid"] for r in runs}
    assert values == [2 * i for i in range(24)]
    assert len(pids) == 24


def test_a_task_with_dependencies_gets_a_template_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task whose dependency is installed in the cache
    from tests.unit.tasks.test_script_dependencies import build_wheel

    monkeypatch.setenv("STRATOFLOW_DEPENDENCY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    wheel = build_wheel(tmp_path, "ownpkg")
    task = load_task(
        f"{{id: p, type: scripts.Python, dependencies: ['{wheel}'], "
        "script: \"import ownpkg, sys; print(sys.path.index(ownpkg.__path__[0].rsplit('/', 1)[0]) > 0)\"}"
    )
    (tmp_path / "run").mkdir()
    ctx = direct_context(tmp_path / "run")

    # When
    task.run(ctx)

    # Then: a template whose interpreter started with the install on its path
    keys = [key for key in warm._templates if str(tmp_path / "cache") in key]
    assert len(keys) == 1
    assert [e.message for e in ctx.logs if e.message in ("True", "False")] == ["True"]


LOCALE_PROBE = (
    "import locale, os; print(locale.setlocale(locale.LC_CTYPE), locale.setlocale(locale.LC_NUMERIC),"
    " locale.nl_langinfo(locale.CODESET), os.environ.get('LC_CTYPE'))"
)


@pytest.mark.parametrize("variable", ["LC_ALL", "LC_CTYPE", "LANG"])
def test_a_warm_script_gets_its_tasks_locale_as_a_cold_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # Given: a template of its own (its extra import keys it), started in the C.UTF-8 locale
    monkeypatch.setenv(warm.EXTRA_IMPORTS, f"locale,{variable.lower()}_probe_key")
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        monkeypatch.delenv(name, raising=False)
    first = load_task("{id: a, type: scripts.Python, env: {LC_ALL: C.UTF-8}, script: 'print(1)'}")
    (tmp_path / "first").mkdir()
    first.run(direct_context(tmp_path / "first"))
    probe = json.dumps(
        {
            "id": "b",
            "type": "scripts.Python",
            "env": {"LANG": "C.UTF-8", variable: "C"},
            "script": LOCALE_PROBE,
        }
    )
    seen = {}

    # When: a task in the C locale runs warm, then cold
    for switch in ("1", "0"):
        monkeypatch.setenv(warm.SWITCH, switch)
        (tmp_path / switch).mkdir()
        ctx = direct_context(tmp_path / switch)
        load_task(probe).run(ctx)
        seen[switch] = [e.message for e in ctx.logs]

    # Then: the task's locale, as a fresh interpreter sets it: LC_CTYPE from the environment, and a
    # "C" one made C.UTF-8 unless LC_ALL is set (the other categories then from the environment)
    expected = {
        "LC_ALL": "C C ANSI_X3.4-1968 None",
        "LC_CTYPE": "C.UTF-8 C.UTF-8 UTF-8 C.UTF-8",
        "LANG": "C.UTF-8 C UTF-8 C.UTF-8",
    }[variable]
    assert seen == {"0": [expected], "1": [expected]}


def test_a_python_scripts_orphaned_process_does_not_outlive_it(tmp_path: Path) -> None:
    # Given: a script whose shell leaves a process behind in its group, then ends
    pid_file = tmp_path / "orphan.pid"
    script = (
        "import subprocess; subprocess.run("
        f"'sleep 60 > /dev/null 2>&1 & echo $! > {pid_file}', shell=True, check=True)"
    )
    task = load_task(json.dumps({"id": "p", "type": "scripts.Python", "script": script}))

    # When
    task.run(direct_context(tmp_path))

    # Then: killed with the script's group once the script ended
    assert not _running(int(pid_file.read_text()))


def test_a_python_scripts_child_left_running_does_not_outlive_it(tmp_path: Path) -> None:
    # Given: a script that starts a child and ends without waiting for it
    script = "import subprocess; print(subprocess.Popen(['sleep', '60']).pid)"
    task = load_task(json.dumps({"id": "p", "type": "scripts.Python", "script": script}))
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then
    (line,) = [e.message for e in ctx.logs]
    assert not _running(int(line))


def _running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"  # a zombie, killed and not reaped yet, runs nothing


def test_the_template_started_ahead_is_the_one_the_first_script_forks_from(tmp_path: Path) -> None:
    # Given: no shared template, then one started ahead of any task (as `strato run` does once the
    # flow is deployed)
    _fresh_shared_template()
    warm.start_ahead(b"type: scripts.Python")
    (started,) = [t for key, t in warm._templates.items() if key.startswith(f"{LIBRARY}|")]
    task = load_task("{id: p, type: scripts.Python, script: 'import os; print(os.getppid())'}")
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then: the script's process was forked from it
    assert [e.message for e in ctx.logs] == [str(started.process.pid)]


def _fresh_shared_template() -> None:
    """No shared template: the next script starts one that has learned nothing yet."""
    for key in [key for key in warm._templates if key.startswith(f"{LIBRARY}|")]:
        warm._templates.pop(key).close()


def _run_script(tmp_path: Path, script: str, env: dict[str, str] | None = None) -> list[str]:
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    folder.mkdir()
    task = load_task(json.dumps({"id": "p", "type": "scripts.Python", "script": script, "env": env or {}}))
    ctx = direct_context(folder)
    task.run(ctx)
    return [e.message for e in ctx.logs]


def test_the_template_learns_the_standard_modules_scripts_import(tmp_path: Path) -> None:
    # Given: a template that has not imported sqlite3 (it is not among the common modules)
    _fresh_shared_template()
    probe = "import sys; print('sqlite3' in sys.modules)"
    assert _run_script(tmp_path, probe) == ["False"]

    # When: a script imports it
    _run_script(tmp_path, "import sqlite3")

    # Then: the child forked ahead meanwhile has not, the ones forked after have it imported
    assert _run_script(tmp_path, probe) == ["False"]
    assert _run_script(tmp_path, probe) == ["True"]


def test_a_module_whose_import_shows_is_imported_afresh_by_every_script(tmp_path: Path) -> None:
    # Given / When: `import this` prints the Zen of Python, but only the first time in a process
    _fresh_shared_template()
    runs = [_run_script(tmp_path, "import this") for _ in range(3)]

    # Then: every script printed it, as a fresh interpreter does (the template never learns it)
    assert all(lines[0] == "The Zen of Python, by Tim Peters" for lines in runs)


def test_only_standard_modules_are_learned(tmp_path: Path) -> None:
    # Given: a module on a task's own PYTHONPATH, and the runner asking the template for a package
    # of Stratoflow's environment directly
    _fresh_shared_template()
    own = tmp_path / "own"
    own.mkdir()
    (own / "helpers.py").write_text("VALUE = 1\n")
    _run_script(tmp_path, "import helpers", env={"PYTHONPATH": str(own)})
    (template,) = [t for key, t in warm._templates.items() if key.startswith(f"{LIBRARY}|")]
    template.learn(["pydantic", "yaml"])

    # When: the children forked after that look
    probe = "import sys; print(sorted(m for m in ('helpers', 'pydantic', 'yaml') if m in sys.modules))"
    _run_script(tmp_path, probe)
    lines = _run_script(tmp_path, probe)

    # Then: none of them was imported by the template
    assert lines == ["[]"]


def test_a_module_of_the_scripts_own_path_shadows_the_one_the_template_imported(tmp_path: Path) -> None:
    # Given: `csv` (imported by the template) as a file of the task's PYTHONPATH, and `json` as a
    # plain folder there (not a package: the standard one still wins, as in a fresh interpreter)
    own = tmp_path / "own"
    (own / "json").mkdir(parents=True)
    (own / "csv.py").write_text("WHO = 'mine'\n")
    script = "import csv, json; print(getattr(csv, 'WHO', 'standard'), hasattr(json, 'dumps'))"

    # When
    lines = _run_script(tmp_path, script, env={"PYTHONPATH": str(own)})

    # Then
    assert lines == ["mine True"]


def test_names_to_learn_are_never_taken_for_requests_of_children(tmp_path: Path) -> None:
    # Given: a template asked to learn names holding the letter of a request for a child
    _fresh_shared_template()
    _run_script(tmp_path, "print(1)")
    (template,) = [t for key, t in warm._templates.items() if key.startswith(f"{LIBRARY}|")]
    template.learn(["FFFF", "tkinter.FileDialog"])

    # When
    _run_script(tmp_path, "print(2)")

    # Then: still one child forked ahead, not one per "F"
    assert _waiting_child(template.process.pid) > 0


def test_a_module_beside_the_script_shadows_the_one_the_template_imported(tmp_path: Path) -> None:
    # Given: a script file of inputFiles with `csv.py` beside it (`csv` is imported by the template)
    task = load_task(
        json.dumps(
            {
                "id": "p",
                "type": "scripts.Python",
                "file": "main.py",
                "inputFiles": {
                    "main.py": "import csv\nprint(getattr(csv, 'WHO', 'standard'))\n",
                    "csv.py": "WHO = 'beside'\n",
                },
            }
        )
    )
    ctx = direct_context(tmp_path)

    # When
    task.run(ctx)

    # Then
    assert [e.message for e in ctx.logs] == ["beside"]
