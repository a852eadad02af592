"""The console Lambda on the stack's code path on moto: API Gateway (HTTP API) events in, answers out.

The handler is `stratoflow.console.cloud_lambda.console_handler` over the simulated stack's table,
data bucket and Step Functions; starts go through the stack's `Starter`, kills through
`RemoteControl`. The caller is what API Gateway's authorizer verified (JWT claims with Cognito groups,
or an IAM identity); the event without one shows what the function does if a route ever lost its
authorizer.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.console.cloud_lambda import cloud_console_backend, console_handler
from stratoflow.engine.lambdas import LambdaContext
from stratoflow.states import State
from tests.integration.conftest import event_fixture, eventually

pytestmark = pytest.mark.slow

GREETING = """id: greet
namespace: company.team
inputs:
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: say
    type: Log
    message: "hello x{{ inputs.times }}"
  - id: done
    type: Return
    format: "{{ inputs.times * 2 }}"
"""

SLEEPING = """id: nap
namespace: company.team
tasks:
  - id: hold
    type: Sleep
    duration: PT1H
"""

OTHER = """id: other
namespace: finance
tasks:
  - id: say
    type: Log
    message: money
"""

Call = Callable[..., tuple[int, Any]]


def request(
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    body: Any = None,
    groups: list[str] | None = None,
    iam: bool = False,
    anonymous: bool = False,
) -> dict[str, Any]:
    """An HTTP API event as API Gateway delivers it after its authorizer (tests/fixtures/events)."""
    event = event_fixture("console_api_request")
    context = event["requestContext"]
    if iam:
        event["routeKey"] = context["routeKey"] = "ANY /iam/api/{proxy+}"
        path = "/iam" + path
        context["authorizer"] = {
            "iam": {"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:user/ci"}
        }
    elif anonymous:
        del context["authorizer"]
    elif groups is not None:
        context["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[" + " ".join(groups) + "]"
    event["rawPath"] = context["http"]["path"] = path
    context["http"]["method"] = method
    event["rawQueryString"] = urlencode(query or {}, doseq=True)
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


@pytest.fixture(scope="module")
def call(sim: CloudSimulation) -> Call:
    """Send one request to the console Lambda; returns (status, decoded JSON body)."""
    assert sim.upload("greet.yaml", GREETING).status == "DEPLOYED"
    assert sim.upload("nap.yaml", SLEEPING).status == "DEPLOYED"
    assert sim.upload("other.yaml", OTHER).status == "DEPLOYED"
    handle = console_handler(sim.settings, backend=cloud_console_backend(sim.settings, sim.clients))

    def send(method: str, path: str, **options: Any) -> tuple[int, Any]:
        answer = handle(request(method, path, **options), None)
        body = answer.get("body") or "null"
        return answer["statusCode"], json.loads(body)

    return send


def test_a_signed_in_user_starts_a_flow_and_follows_it_to_its_end(sim: CloudSimulation, call: Call) -> None:
    # When a user of company.team starts the flow from the console with a typed input
    status, started = call(
        "POST", "/api/v1/flows/company.team/greet/executions", body={"inputs": {"times": "3"}}
    )

    # Then it is admitted (typed as the CLI types it) and runs on Step Functions to its end
    assert status == 201, started
    execution_id = started["id"]
    done = eventually(lambda: sim.store.get_execution(execution_id).state.is_terminal)  # type: ignore[union-attr]
    assert done
    status, detail = call("GET", f"/api/v1/executions/{execution_id}")
    assert status == 200 and detail["state"] == "SUCCESS"
    assert detail["inputs"] == {"times": 3}
    status, runs = call("GET", f"/api/v1/executions/{execution_id}/taskruns")
    assert [run["taskId"] for run in runs["taskRuns"]] == ["say", "done"]
    # And its logs are read by polling with the `after` cursor, as the pages do in the cloud
    status, page = call("GET", f"/api/v1/executions/{execution_id}/logs")
    assert status == 200 and any("hello x3" in line["message"] for line in page["logs"])
    status, later = call(
        "GET", f"/api/v1/executions/{execution_id}/logs", query={"after": page["nextCursor"]}
    )
    assert status == 200 and later["logs"] == []


def test_a_bad_input_is_refused_with_its_name_and_nothing_is_recorded(
    sim: CloudSimulation, call: Call
) -> None:
    before = len(sim.store.list_executions("company.team", "greet", limit=1000))

    status, problem = call(
        "POST", "/api/v1/flows/company.team/greet/executions", body={"inputs": {"times": "x"}}
    )

    assert status == 400
    assert "times" in problem["message"]
    assert len(sim.store.list_executions("company.team", "greet", limit=1000)) == before


def test_the_list_is_paged_with_a_cursor_newest_first_on_dynamodb(sim: CloudSimulation, call: Call) -> None:
    # Given three executions of the flow
    ids = [call("POST", "/api/v1/flows/company.team/greet/executions", body={})[1]["id"] for _ in range(3)]

    # When the list is read two at a time
    query = {"namespace": "company.team", "flowId": "greet", "limit": 2}
    status, first = call("GET", "/api/v1/executions", query=query)
    status2, second = call("GET", "/api/v1/executions", query={**query, "cursor": first["nextCursor"]})

    # Then the pages follow each other without overlap, newest first
    assert (status, status2) == (200, 200)
    listed = [e["id"] for e in first["executions"]] + [e["id"] for e in second["executions"]]
    assert listed[:3] == list(reversed(ids))
    assert len(set(listed)) == len(listed)


def test_a_request_without_a_verified_identity_is_refused(call: Call) -> None:
    for method, path in (
        ("GET", "/api/v1/executions"),
        ("GET", "/api/v1/flows"),
        ("POST", "/api/v1/flows/company.team/greet/executions"),
        ("GET", "/api/v1/executions/any/logs/stream"),
    ):
        status, problem = call(method, path, anonymous=True, body={} if method == "POST" else None)
        assert status == 401, (method, path, problem)
        assert "authentication required" in problem["message"]


def test_namespaces_come_from_cognito_groups(sim: CloudSimulation, call: Call) -> None:
    # Given an execution of company.team
    execution_id = call("POST", "/api/v1/flows/company.team/greet/executions", body={})[1]["id"]

    # Then a user of the finance group cannot read it, start that flow or see it in the list
    finance = ["namespace:finance"]
    assert call("GET", f"/api/v1/executions/{execution_id}", groups=finance)[0] == 403
    assert call("POST", "/api/v1/flows/company.team/greet/executions", body={}, groups=finance)[0] == 403
    status, page = call("GET", "/api/v1/executions", groups=finance)
    assert status == 200 and {e["namespace"] for e in page["executions"]} <= {"finance"}
    # And a reader of company may read it (a grant covers child namespaces) but not act on it
    readers = ["read:company"]
    assert call("GET", f"/api/v1/executions/{execution_id}", groups=readers)[0] == 200
    assert call("POST", f"/api/v1/executions/{execution_id}/kill", groups=readers)[0] == 403
    # And a signed-in user in no group sees nothing; an admin sees every namespace
    assert call("GET", f"/api/v1/executions/{execution_id}", groups=[])[0] == 403
    status, flows = call("GET", "/api/v1/flows", groups=["admins"])
    assert status == 200
    assert {"company.team", "finance"} <= {f["namespace"] for f in flows["flows"]}


def test_programmatic_callers_use_the_iam_routes(call: Call) -> None:
    status, flows = call("GET", "/api/v1/flows", iam=True)

    assert status == 200
    assert {"company.team", "finance"} <= {f["namespace"] for f in flows["flows"]}


def test_kill_from_the_console_stops_the_run_on_step_functions(sim: CloudSimulation, call: Call) -> None:
    # Given a sleeping execution started from the console
    status, started = call("POST", "/api/v1/flows/company.team/nap/executions", body={})
    assert status == 201, started
    execution_id = started["id"]
    eventually(lambda: sim.store.list_task_runs(execution_id))

    # When it is killed from the console
    status, killed = call("POST", f"/api/v1/executions/{execution_id}/kill")

    # Then it is recorded KILLED (Step Functions reports the run aborted)
    assert status == 200 and killed["killed"] == [execution_id]
    record = sim.store.get_execution(execution_id)
    assert record is not None and record.state == State.KILLED
    # And a second kill is a conflict, not a server error
    assert call("POST", f"/api/v1/executions/{execution_id}/kill")[0] == 409


def test_live_logs_reach_the_browser_as_one_answer_per_reconnect(sim: CloudSimulation, call: Call) -> None:
    # Given an execution that ended, with its log lines
    execution_id = call("POST", "/api/v1/flows/company.team/greet/executions", body={"inputs": {"times": 5}})[
        1
    ]["id"]
    eventually(lambda: sim.store.get_execution(execution_id).state.is_terminal)  # type: ignore[union-attr]
    handle = console_handler(sim.settings, backend=cloud_console_backend(sim.settings, sim.clients))
    path = f"/api/v1/executions/{execution_id}/logs/stream"

    # When the page opens its event stream
    answer = handle(request("GET", path), None)

    # Then it gets, at once, the lines so far with their cursors as event ids, the state and the end,
    # with the delay after which EventSource asks again
    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"] == "text/event-stream"
    body = answer["body"]
    assert body.startswith("retry: 2000\n\n")
    assert "event: log\n" in body and "hello x5" in body
    assert body.rstrip().endswith('event: end\ndata: {"state": "SUCCESS"}')
    last_id = [line for line in body.splitlines() if line.startswith("id: ")][-1].removeprefix("id: ")
    # And asked again from its last event id, nothing is sent twice
    again = request("GET", path)
    again["headers"]["last-event-id"] = last_id
    repeat = handle(again, None)["body"]
    assert "event: log" not in repeat and "event: end" in repeat
    # And a reader of another namespace gets a 403, not the lines
    assert handle(request("GET", path, groups=["namespace:finance"]), None)["statusCode"] == 403


def test_the_lambda_handler_module_serves_the_stack_it_is_configured_for(
    sim: CloudSimulation, call: Call
) -> None:
    # Given functions/console/handler.py imported with the stack's settings, as Lambda's INIT does
    environment = {name.upper(): str(value) for name, value in sim.settings.model_dump().items()}
    environment.update({"POWERTOOLS_SERVICE_NAME": "stratoflow-console", "POWERTOOLS_TRACE_DISABLED": "true"})
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        sys.modules.pop("functions.console.handler", None)  # settings are read at import
        handler = importlib.import_module("functions.console.handler")
        context = LambdaContext(
            function_name="console",
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:console",
        )

        # When a signed-in user and a caller without identity ask for the flows
        signed_in = handler.lambda_handler(request("GET", "/api/v1/flows"), context)
        anonymous = handler.lambda_handler(request("GET", "/api/v1/flows", anonymous=True), context)

    # Then the first gets company.team's flows only, the second a 401
    assert signed_in["statusCode"] == 200
    assert {f["namespace"] for f in json.loads(signed_in["body"])["flows"]} == {"company.team"}
    assert anonymous["statusCode"] == 401


FLAKY = """id: flaky
namespace: company.team
tasks:
  - id: load
    type: Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    errorMessage: the warehouse is down
  - id: report
    type: Return
    format: loaded
"""

APPROVAL = """id: approval
namespace: company.team
tasks:
  - id: approve
    type: Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: after
    type: Return
    format: "approved={{ outputs.approve.onResume.approved }}"
"""

UPLOAD = """id: upload
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: show
    type: Log
    message: "{{ read(inputs.data) }}"
"""


def ended(sim: CloudSimulation, execution_id: str) -> Any:
    return eventually(
        lambda: (e := sim.store.get_execution(execution_id)) is not None and e.state.is_terminal and e
    )


def test_restart_replay_and_resume_from_the_console(sim: CloudSimulation, call: Call) -> None:
    assert sim.upload("flaky.yaml", FLAKY).status == "DEPLOYED"
    assert sim.upload("approval.yaml", APPROVAL).status == "DEPLOYED"

    # Given a failed execution, when it is restarted from the console, then it ends SUCCESS
    failed = call("POST", "/api/v1/flows/company.team/flaky/executions", body={})[1]["id"]
    assert ended(sim, failed).state == State.FAILED
    status, restarted = call("POST", f"/api/v1/executions/{failed}/restart")
    assert status == 200 and restarted["id"] == failed
    assert ended(sim, failed).state == State.SUCCESS

    # When a finished execution is replayed from a task, a new linked execution runs from it
    status, replay = call("POST", f"/api/v1/executions/{failed}/replay", body={"fromTask": "report"})
    assert status == 201 and replay["id"] != failed
    replayed = ended(sim, replay["id"])
    assert replayed.state == State.SUCCESS and replayed.original_execution_id == failed

    # When a paused execution is resumed with a bad input, then a good one
    paused = call("POST", "/api/v1/flows/company.team/approval/executions", body={})[1]["id"]
    eventually(lambda: sim.store.get_execution(paused).state == State.PAUSED)  # type: ignore[union-attr]
    bad, problem = call("POST", f"/api/v1/executions/{paused}/resume", body={"inputs": {"approved": "maybe"}})
    good, _ = call("POST", f"/api/v1/executions/{paused}/resume", body={"inputs": {"approved": True}})

    # Then the first is refused naming the input, the second continues it to its end
    assert bad == 400 and "approved" in problem["message"]
    assert good == 200
    assert ended(sim, paused).state == State.SUCCESS
    runs = {r.task_id: r for r in sim.store.list_task_runs(paused)}
    assert runs["after"].outputs == {"value": "approved=true"}


def test_a_file_input_uploaded_through_api_gateway_is_stored_in_the_data_bucket(
    sim: CloudSimulation, call: Call
) -> None:
    # Given a flow with a FILE input, and a form upload as API Gateway delivers it (base64 body)
    assert sim.upload("upload.yaml", UPLOAD).status == "DEPLOYED"
    boundary = "strato-boundary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="rows.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\nid,amount\r\n1,42\r\n--{boundary}--\r\n"
    ).encode()
    event = request("POST", "/api/v1/flows/company.team/upload/executions")
    event["headers"]["content-type"] = f"multipart/form-data; boundary={boundary}"
    event["body"] = base64.b64encode(form).decode()
    event["isBase64Encoded"] = True
    handle = console_handler(sim.settings, backend=cloud_console_backend(sim.settings, sim.clients))

    # When it is sent
    answer = handle(event, None)

    # Then the file is kept with the execution in S3 and the flow reads it
    assert answer["statusCode"] == 201, answer["body"]
    execution_id = json.loads(answer["body"])["id"]
    execution = ended(sim, execution_id)
    uri = execution.inputs["data"]
    assert uri.startswith(f"strato:///company.team/upload/executions/{execution_id}/inputs/data/")
    assert sim.blobs.get(uri) == b"id,amount\r\n1,42"
    assert execution.state == State.SUCCESS
