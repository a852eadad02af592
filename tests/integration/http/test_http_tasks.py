"""`http.Request` and `http.Download` against a local HTTP server, run through the real runner."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import HttpError, TaskTimeout
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    http_server,
    json_route,
    load_task,
    logs_of,
    outputs_of,
    task_run,
)

BIG = b"0123456789abcdef" * (256 * 1024)  # 4 MiB
RELEASE = threading.Event()  # the slow route answers once the test has given up on it


def _echo(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
    document = {"method": handler.command, "body": body.decode(), "headers": dict(handler.headers)}
    return 200, {"Content-Type": "application/json"}, json.dumps(document).encode()


def _slow(_: BaseHTTPRequestHandler, __: bytes) -> tuple[int, dict[str, str], bytes]:
    RELEASE.wait(10)
    return 200, {}, b"late"


def _file(_: BaseHTTPRequestHandler, __: bytes) -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="report 2024.csv"'},
        b"a,b\n1,2\n",
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    routes = {
        "/echo": _echo,
        "/items": json_route([{"id": 1}, {"id": 2}]),
        "/teapot": json_route({"error": "short and stout"}, status=418),
        "/unavailable": json_route({"error": "down"}, status=503),
        "/big": lambda _, __: (200, {"Content-Type": "application/octet-stream"}, BIG),
        "/slow": _slow,
        "/report": _file,
        "/empty": lambda _, __: (200, {}, b""),
    }
    with http_server(routes) as url:
        yield url
    RELEASE.set()


def test_a_get_outputs_code_headers_and_the_body_as_text(
    run_flow: RunFlow, platform: LocalPlatform, server: str
) -> None:
    # Given
    source = flow_source(
        f"""
        - {{id: get, type: http.Request, uri: "{server}/items"}}
        - {{id: count, type: Return, format: "{{{{ outputs.get.body | fromJson | length }}}}"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    outputs = outputs_of(platform, outcome, "get")
    assert outputs["code"] == 200
    assert outputs["headers"]["Content-Type"] == ["application/json"]
    assert json.loads(outputs["body"]) == [{"id": 1}, {"id": 2}]
    assert outputs_of(platform, outcome, "count")["value"] == 2


def test_method_headers_json_body_and_bearer_auth_are_sent(tmp_path: Path, server: str) -> None:
    # Given
    task = load_task(
        f"{{id: r, type: http.Request, uri: '{server}/echo', method: PATCH, headers: {{X-Trace: t1}}, "
        "body: {a: 1}, options: {auth: {type: BEARER, token: tok}}}"
    )

    # When
    echoed = json.loads(task.run(direct_context(tmp_path))["body"])

    # Then
    assert echoed["method"] == "PATCH"
    assert json.loads(echoed["body"]) == {"a": 1}
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["headers"]["X-Trace"] == "t1"
    assert echoed["headers"]["Authorization"] == "Bearer tok"


def test_basic_auth_in_kestras_older_spelling(tmp_path: Path, server: str) -> None:
    task = load_task(
        f"{{id: r, type: http.Request, uri: '{server}/echo', options: {{basicAuthUser: ada, basicAuthPassword: pw}}}}"
    )

    echoed = json.loads(task.run(direct_context(tmp_path))["body"])

    assert echoed["headers"]["Authorization"] == "Basic " + base64.b64encode(b"ada:pw").decode()


def test_form_data_is_url_encoded(tmp_path: Path, server: str) -> None:
    task = load_task(
        f"{{id: r, type: http.Request, uri: '{server}/echo', method: POST, formData: {{q: a b, n: 2}}}}"
    )

    echoed = json.loads(task.run(direct_context(tmp_path))["body"])

    assert echoed["body"] == "q=a+b&n=2"
    assert echoed["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("path", "code"), [("/teapot", 418), ("/unavailable", 503), ("/nowhere", 404)])
def test_a_non_2xx_status_fails_the_task_with_http_error(
    run_flow: RunFlow, platform: LocalPlatform, server: str, path: str, code: int
) -> None:
    # When
    outcome = run_flow(flow_source(f'- {{id: get, type: http.Request, uri: "{server}{path}"}}'))

    # Then
    run = task_run(outcome, "get")
    assert outcome.execution.state == State.FAILED
    assert run.state == State.FAILED
    assert f"failed with status {code}" in (run.error or "")
    assert any(
        e.level == "ERROR" and e.message.startswith("HttpError:") for e in logs_of(platform, outcome, "get")
    )


def test_the_http_error_carries_the_status_code(tmp_path: Path, server: str) -> None:
    task = load_task(f"{{id: r, type: http.Request, uri: '{server}/teapot'}}")

    with pytest.raises(HttpError) as caught:
        task.run(direct_context(tmp_path))

    assert caught.value.code == 418


def test_allow_failed_keeps_the_failed_response_as_outputs(
    run_flow: RunFlow, platform: LocalPlatform, server: str
) -> None:
    outcome = run_flow(
        flow_source(f'- {{id: get, type: http.Request, uri: "{server}/teapot", allowFailed: true}}')
    )

    outputs = outputs_of(platform, outcome, "get")
    assert outcome.execution.state == State.SUCCESS
    assert outputs["code"] == 418
    assert json.loads(outputs["body"]) == {"error": "short and stout"}


def test_a_slow_server_is_a_task_timeout(run_flow: RunFlow, platform: LocalPlatform, server: str) -> None:
    # Given: the server answers only after the test
    source = flow_source(
        f'- {{id: get, type: http.Request, uri: "{server}/slow", options: {{timeout: PT0.2S}}}}'
    )

    # When
    outcome = run_flow(source)

    # Then
    run = task_run(outcome, "get")
    assert run.state == State.FAILED
    assert "timed out" in (run.error or "")
    assert any(e.message.startswith("TaskTimeout:") for e in logs_of(platform, outcome, "get"))


def test_the_tasks_own_timeout_bounds_the_exchange_too(tmp_path: Path, server: str) -> None:
    task = load_task(f"{{id: r, type: http.Request, uri: '{server}/slow', timeout: PT0.2S}}")

    with pytest.raises(TaskTimeout):
        task.run(direct_context(tmp_path))


def test_a_large_body_is_kept_in_storage_and_still_renders(
    run_flow: RunFlow, platform: LocalPlatform, server: str
) -> None:
    # Given: 4 MiB, far above the inline output size
    source = flow_source(
        f"""
        - {{id: get, type: http.Request, uri: "{server}/big"}}
        - {{id: size, type: Return, format: "{{{{ outputs.get.body | length }}}}"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert "__stratoflow_blob__" in task_run(outcome, "get").outputs
    assert outputs_of(platform, outcome, "size")["value"] == len(BIG)


def test_a_body_over_max_content_length_fails(run_flow: RunFlow, server: str) -> None:
    outcome = run_flow(
        flow_source(
            f'- {{id: get, type: http.Request, uri: "{server}/big", options: {{maxContentLength: 1024}}}}'
        )
    )

    assert "maxContentLength" in (task_run(outcome, "get").error or "")


def test_download_stores_the_body_as_a_file_other_tasks_read(
    run_flow: RunFlow, platform: LocalPlatform, server: str
) -> None:
    # Given
    source = flow_source(
        f"""
        - {{id: dl, type: http.Download, uri: "{server}/report"}}
        - {{id: text, type: Return, format: "{{{{ read(outputs.dl.uri) }}}}"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    outputs = outputs_of(platform, outcome, "dl")
    assert outcome.execution.state == State.SUCCESS
    assert outputs["uri"].startswith("strato:///") and outputs["uri"].endswith("/report_2024.csv")
    assert (outputs["code"], outputs["length"]) == (200, 8)
    assert outputs["headers"]["Content-Type"] == ["text/csv"]
    assert platform.blobs.get(outputs["uri"]) == b"a,b\n1,2\n"
    assert outputs_of(platform, outcome, "text")["value"] == "a,b\n1,2\n"


def test_download_of_a_large_file(run_flow: RunFlow, platform: LocalPlatform, server: str) -> None:
    outcome = run_flow(flow_source(f'- {{id: dl, type: http.Download, uri: "{server}/big"}}'))

    outputs = outputs_of(platform, outcome, "dl")
    assert outputs["length"] == len(BIG)
    assert outputs["uri"].endswith("/big")
    assert platform.blobs.get(outputs["uri"]) == BIG


def test_download_of_an_empty_body_fails_unless_allowed(tmp_path: Path, server: str) -> None:
    failing = load_task(f"{{id: d, type: http.Download, uri: '{server}/empty'}}")
    allowed = load_task(f"{{id: d, type: http.Download, uri: '{server}/empty', failOnEmptyResponse: false}}")
    ctx = direct_context(tmp_path)

    with pytest.raises(Exception, match="empty body"):
        failing.run(ctx)
    assert allowed.run(ctx)["length"] == 0


def test_download_of_a_missing_file_is_an_http_error(tmp_path: Path, server: str) -> None:
    task = load_task(f"{{id: d, type: http.Download, uri: '{server}/nowhere'}}")

    with pytest.raises(HttpError) as caught:
        task.run(direct_context(tmp_path))

    assert caught.value.code == 404


def test_kestra_1_options_allow_failed_and_download_save_as(
    run_flow: RunFlow, platform: LocalPlatform, server: str
) -> None:
    # Given Kestra 1.x's spellings: `options.allowFailed` and Download's `saveAs`
    source = flow_source(
        f"""
        - id: get
          type: io.kestra.plugin.core.http.Request
          uri: "{server}/teapot"
          options:
            allowFailed: true
        - id: dl
          type: io.kestra.plugin.core.http.Download
          uri: "{server}/report"
          saveAs: "{{{{ flow.id }}}}.csv"
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert outputs_of(platform, outcome, "get")["code"] == 418
    stored = outputs_of(platform, outcome, "dl")["uri"]
    assert stored.endswith("/demo.csv"), stored
    assert platform.blobs.get(stored) == b"a,b\n1,2\n"
