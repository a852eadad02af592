"""WorkingDirectory (the directory travels through storage between tasks) and git.Clone (dulwich)
against a repository made in tmp_path; scripts run as subprocesses."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from dulwich import porcelain

from stratoflow.flow import FlowValidationError, load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.tasks.task_helpers import RunFlow, flow_source, logs_of, outputs_of


@pytest.fixture
def repository(tmp_path: Path) -> str:
    """A git repository with `main` (README.md, etl/job.sql) and a `dev` branch (one more file)."""
    path = tmp_path / "origin"
    repo = porcelain.init(str(path))
    (path / "README.md").write_text("hello from main\n")
    (path / "etl").mkdir()
    (path / "etl" / "job.sql").write_text("select 1;\n")
    porcelain.add(repo, [str(path / "README.md"), str(path / "etl" / "job.sql")])
    porcelain.commit(repo, message=b"first", author=b"A <a@example.com>", committer=b"A <a@example.com>")
    porcelain.branch_create(repo, "dev")
    porcelain.checkout(repo, "dev")
    (path / "dev.txt").write_text("only on dev\n")
    porcelain.add(repo, [str(path / "dev.txt")])
    porcelain.commit(repo, message=b"dev", author=b"A <a@example.com>", committer=b"A <a@example.com>")
    porcelain.checkout(repo, "master")
    repo.close()
    return str(path)


def test_clone_then_scripts_share_the_working_directory(
    run_flow: RunFlow, platform: LocalPlatform, repository: str
) -> None:
    # Given: Kestra's blueprint shape: WorkingDirectory { git.Clone, then commands on its files }
    source = flow_source(
        f"""
        - id: wdir
          type: io.kestra.plugin.core.flow.WorkingDirectory
          inputFiles:
            params.txt: "run {{{{ flow.id }}}}"
          tasks:
            - id: clone
              type: io.kestra.plugin.git.Clone
              url: "{repository}"
              branch: dev
              directory: repo
            - id: build
              type: io.kestra.plugin.scripts.shell.Commands
              commands:
                - cat repo/README.md repo/dev.txt params.txt > report.txt
            - id: publish
              type: io.kestra.plugin.scripts.shell.Commands
              commands:
                - cat report.txt
              outputFiles: ["report.txt"]
        - id: outside
          type: io.kestra.plugin.scripts.shell.Commands
          commands:
            - test ! -e report.txt
        """
    )

    # When
    outcome = run_flow(source)

    # Then: each task ran in its own invocation, yet saw the files of the one before
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert outputs_of(platform, outcome, "clone") == {"directory": "repo"}
    report = outputs_of(platform, outcome, "publish")["outputFiles"]["report.txt"]
    assert platform.blobs.get(report) == b"hello from main\nonly on dev\nrun demo"
    assert any("cloned" in e.message for e in logs_of(platform, outcome, "clone"))


def test_a_failed_task_leaves_its_files_for_the_errors_tasks(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given
    source = flow_source(
        """
        - id: wdir
          type: WorkingDirectory
          tasks:
            - id: work
              type: scripts.Commands
              commands:
                - echo partial > debug.log
                - exit 3
          errors:
            - id: inspect
              type: scripts.Commands
              commands:
                - cat debug.log
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.FAILED
    assert any("partial" in e.message for e in logs_of(platform, outcome, "inspect"))


def test_each_loop_iteration_has_its_own_directory(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: the same WorkingDirectory in two iterations; the second must not see the first's file
    source = flow_source(
        """
        - id: each
          type: ForEach
          values: ["a", "b"]
          tasks:
            - id: wdir
              type: WorkingDirectory
              tasks:
                - id: check
                  type: scripts.Commands
                  commands:
                    - test ! -e seen.txt
                    - echo "{{ taskrun.value }}" > seen.txt
        """
    )

    # When / Then
    outcome = run_flow(source)
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]


def test_clone_outside_a_working_directory_of_a_missing_branch_or_url_fail_clearly(
    run_flow: RunFlow, repository: str
) -> None:
    # Given
    source = flow_source(
        f"""
        - {{id: alone, type: git.Clone, url: "{repository}", allowFailure: true}}
        - id: wdir
          type: WorkingDirectory
          tasks:
            - {{id: clone, type: git.Clone, url: "{repository}", branch: nope, allowFailure: true}}
            - {{id: nowhere, type: git.Clone, url: "{repository}-missing", directory: other}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    errors = {r.task_id: r.error or "" for r in outcome.task_runs}
    assert "must run inside a WorkingDirectory" in errors["alone"]
    assert "no branch or tag 'nope'" in errors["clone"]
    assert errors["nowhere"].startswith(f"cannot clone {repository}-missing")


def test_a_working_directory_runs_only_runnable_tasks() -> None:
    # Given / When / Then: Kestra's rule; it also keeps one task at a time on the directory
    with pytest.raises(FlowValidationError, match="a WorkingDirectory runs only runnable tasks"):
        load_flow(
            flow_source(
                """
                - id: wdir
                  type: WorkingDirectory
                  tasks:
                    - {id: p, type: Parallel, tasks: [{id: a, type: Log, message: x}]}
                """
            )
        )


def test_porcelain_clone_is_quiet(repository: str, tmp_path: Path) -> None:
    # Given / When: the library call git.Clone makes, with its progress sent to a buffer
    errors = io.BytesIO()
    porcelain.clone(repository, str(tmp_path / "copy"), depth=1, errstream=errors).close()

    # Then
    assert (tmp_path / "copy" / "README.md").read_text() == "hello from main\n"


@pytest.fixture
def http_repository(repository: str) -> Iterator[str]:
    """The repository served over HTTP (dulwich's smart-HTTP WSGI app) behind basic authentication."""
    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    repo = Repo(repository)
    git_app = make_wsgi_chain(DictBackend({"/": repo}))
    expected = "Basic " + base64.b64encode(b"robot:s3cret").decode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"who are you?"]
        return git_app(environ, start_response)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        repo.close()


def test_clone_over_http_with_username_and_password(
    run_flow: RunFlow, platform: LocalPlatform, http_repository: str
) -> None:
    # Given: credentials from the flow, as Kestra's username/password
    source = flow_source(
        f"""
        - id: wdir
          type: WorkingDirectory
          tasks:
            - {{id: clone, type: git.Clone, url: "{http_repository}", username: robot, password: s3cret}}
            - {{id: show, type: scripts.Commands, commands: [cat README.md]}}
            - {{id: denied, type: git.Clone, url: "{http_repository}", directory: again, username: robot,
                password: wrong, allowFailure: true}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    runs = {r.task_id: r for r in outcome.task_runs}
    assert runs["show"].state == State.SUCCESS, runs["clone"].error
    assert any("hello from main" in e.message for e in logs_of(platform, outcome, "show"))
    assert runs["denied"].error is not None and runs["denied"].error.startswith(
        f"cannot clone {http_repository}"
    )
