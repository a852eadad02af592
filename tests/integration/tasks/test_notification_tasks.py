"""Chat webhooks against a loopback HTTP server, email against a loopback SMTP server and moto's SES,
each run through the real runner in a Kestra-shaped flow."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import HttpError, TaskFailed
from tests.integration.tasks.smtp_server import smtp_server
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    http_server,
    load_task,
    outputs_of,
)

Posted = list[tuple[str, Any]]


@pytest.fixture
def chat() -> Iterator[tuple[str, Posted]]:
    """A chat tool's webhook endpoint: it keeps every JSON document posted to /hook."""
    posted: Posted = []

    def hook(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        posted.append((handler.headers["Content-Type"], json.loads(body)))
        return 200, {"Content-Type": "text/plain"}, b"ok"

    def broken(_: BaseHTTPRequestHandler, __: bytes) -> tuple[int, dict[str, str], bytes]:
        return 404, {"Content-Type": "text/plain"}, b"no_service"

    with http_server({"/hook": hook, "/broken": broken}) as url:
        yield url, posted


def test_slack_webhook_posts_message_text_and_json_payloads(
    run_flow: RunFlow, chat: tuple[str, Posted]
) -> None:
    # Given: Kestra's documented shapes: `messageText`, and a `payload` written as JSON text
    url, posted = chat
    source = flow_source(
        f"""
        - id: text
          type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
          url: "{url}/hook"
          messageText: "Hello from the workflow {{{{ flow.id }}}}"
        - id: blocks
          type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
          url: "{url}/hook"
          payload: |
            {{"blocks": [{{"type": "section", "text": {{"type": "mrkdwn", "text": "*{{{{ flow.namespace }}}}*"}}}}]}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert posted[0] == ("application/json", {"text": "Hello from the workflow demo"})
    assert posted[1][1]["blocks"][0]["text"]["text"] == "*tests.tasks*"


def test_teams_and_discord_webhooks_post_their_payloads(run_flow: RunFlow, chat: tuple[str, Posted]) -> None:
    # Given
    url, posted = chat
    source = flow_source(
        f"""
        - id: teams
          type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
          url: "{url}/hook"
          payload: '{{"@type": "MessageCard", "text": "run {{{{ execution.id }}}}"}}'
        - id: discord
          type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook
          url: "{url}/hook"
          messageText: "done"
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert posted[0][1] == {"@type": "MessageCard", "text": f"run {outcome.execution.id}"}
    assert posted[1][1] == {"content": "done"}


def test_a_webhook_that_answers_an_error_fails_the_task_with_http_error(
    tmp_path: Path, chat: tuple[str, Posted]
) -> None:
    # Given: Slack answers 404 `no_service` for a revoked webhook
    url, _ = chat
    task = load_task(f'{{id: t, type: slack.SlackIncomingWebhook, url: "{url}/broken", messageText: hi}}')

    # When / Then: the error names the host, never the secret path of the webhook
    with pytest.raises(HttpError, match="answered 404: no_service") as raised:
        task.run(direct_context(tmp_path))
    assert "/broken" not in raised.value.message and raised.value.code == 404


def test_a_payload_that_is_not_json_fails_with_the_reason(tmp_path: Path, chat: tuple[str, Posted]) -> None:
    # Given
    url, posted = chat
    task = load_task(f'{{id: t, type: slack.SlackIncomingWebhook, url: "{url}/hook", payload: "{{text: hi"}}')

    # When / Then
    with pytest.raises(Exception, match="'payload' is not valid JSON"):
        task.run(direct_context(tmp_path))
    assert posted == []


def test_slack_execution_in_errors_reports_the_failed_task(
    run_flow: RunFlow, chat: tuple[str, Posted]
) -> None:
    # Given: a failing task, and the summary sent from `errors` with custom fields
    url, posted = chat
    source = (
        flow_source("- {id: boom, type: Fail, errorMessage: disk full}")
        + f"""errors:
  - id: alert
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: "{url}/hook"
    channel: "#alerts"
    consoleUrl: "https://strato.example.com/console"
    customFields:
      env: prod
"""
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.FAILED
    alert = next(r for r in outcome.task_runs if r.task_id == "alert")
    assert alert.state == State.SUCCESS, alert.error
    message = posted[0][1]
    fields = {f["title"]: f["value"] for f in message["attachments"][0]["fields"]}
    assert message["text"] == "tests.tasks.demo ➛ FAILED" and message["channel"] == "#alerts"
    assert fields["Execution"] == outcome.execution.id and fields["State"] == "FAILED"
    assert fields["Failed task"] == "boom: disk full" and fields["env"] == "prod"
    assert message["attachments"][0]["color"] == "danger"
    link = f"https://strato.example.com/console/ui/executions/{outcome.execution.id}"
    assert message["attachments"][0]["title_link"] == link


def test_slack_execution_refuses_an_execution_of_another_namespace(
    run_flow: RunFlow, platform: LocalPlatform, chat: tuple[str, Posted]
) -> None:
    # Given: an execution in another namespace, not the one that triggered this flow
    url, posted = chat
    other = run_flow(flow_source("- {id: a, type: Log, message: x}", namespace="secret.team"))
    source = flow_source(
        f'- {{id: alert, type: slack.SlackExecution, url: "{url}/hook", executionId: "{other.execution.id}"}}'
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.FAILED and posted == []
    assert "in another namespace" in (outcome.task_runs[-1].error or "")


def test_discord_and_teams_executions_in_errors_report_the_failed_task(
    run_flow: RunFlow, chat: tuple[str, Posted]
) -> None:
    # Given: a failing task, and Kestra's DiscordExecution and TeamsExecution in `errors`
    url, posted = chat
    source = (
        flow_source("- {id: boom, type: Fail, errorMessage: disk full}")
        + f"""errors:
  - id: discord
    type: io.kestra.plugin.notifications.discord.DiscordExecution
    url: "{url}/hook"
    username: Kestra
    content: "Failure alert for flow {{{{ flow.namespace }}}}.{{{{ flow.id }}}}"
    customFields:
      env: prod
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsExecution
    url: "{url}/hook"
    customMessage: "{{{{ flow.id }}}} needs a look"
    consoleUrl: http://127.0.0.1:8080/
"""
    )

    # When
    outcome = run_flow(source)

    # Then: a Discord embed and a Teams MessageCard, each with the execution's facts
    assert outcome.execution.state == State.FAILED
    assert [r.state for r in outcome.task_runs if r.task_id in ("discord", "teams")] == [State.SUCCESS] * 2
    (_, discord), (_, teams) = posted
    embed = discord["embeds"][0]
    facts = {f["name"]: f["value"] for f in embed["fields"]}
    assert discord["username"] == "Kestra" and discord["content"] == "Failure alert for flow tests.tasks.demo"
    assert embed["title"] == "tests.tasks.demo ➛ FAILED" and embed["color"] == 0xA30200
    assert facts["Failed task"] == "boom: disk full" and facts["env"] == "prod"
    assert facts["Execution"] == outcome.execution.id
    assert teams["@type"] == "MessageCard" and teams["title"] == "demo needs a look"
    teams_facts = {f["name"]: f["value"] for f in teams["sections"][0]["facts"]}
    assert teams_facts["State"] == "FAILED" and teams["themeColor"] == "A30200"
    [action] = teams["potentialAction"]
    assert action["targets"][0]["uri"] == f"http://127.0.0.1:8080/ui/executions/{outcome.execution.id}"
    assert "url" not in embed  # no consoleUrl given: no link


def test_mail_execution_sends_the_summary_through_smtp(run_flow: RunFlow) -> None:
    # Given: Kestra's MailExecution in `errors`, after a task whose error quotes an expression
    with smtp_server() as mailbox:
        source = (
            flow_source("""- {id: boom, type: Fail, errorMessage: "bad {{ '{{' }} x }}"}""")
            + f"""errors:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailExecution
    host: 127.0.0.1
    port: {mailbox.port}
    transportStrategy: SMTP
    from: robot@example.com
    to: ana@example.com
    customFields: {{env: prod}}
    consoleUrl: http://127.0.0.1:8080
"""
        )

        # When
        outcome = run_flow(source)

    # Then: the headline as the subject, the facts in the text and HTML, the console link
    assert outcome.execution.state == State.FAILED
    assert [r.state for r in outcome.task_runs if r.task_id == "mail"] == [State.SUCCESS]
    (received,) = mailbox.messages
    message = received.message
    assert message["Subject"] == "tests.tasks.demo ➛ FAILED"
    plain = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert plain is not None and page is not None
    text = plain.get_content()
    assert "Failed task: boom: bad {{ x }}" in text and "env: prod" in text
    assert f"http://127.0.0.1:8080/ui/executions/{outcome.execution.id}" in text
    assert "<th align='left'>State</th><td>FAILED</td>" in page.get_content()


def test_mail_send_delivers_text_html_and_an_attachment_through_smtp(run_flow: RunFlow) -> None:
    # Given: Kestra's MailSend, with a file written by an earlier task attached
    with smtp_server() as mailbox:
        source = flow_source(
            f"""
            - {{id: report, type: storage.Write, content: "a,b\\n1,2\\n", extension: .csv}}
            - id: mail
              type: io.kestra.plugin.notifications.mail.MailSend
              host: 127.0.0.1
              port: {mailbox.port}
              transportStrategy: SMTP
              username: robot
              password: s3cret
              from: robot@example.com
              to: "ana@example.com, bo@example.com"
              cc: [cy@example.com]
              subject: "Report for {{{{ flow.id }}}}"
              plainTextContent: "see attached"
              htmlTextContent: "<p>see <b>attached</b></p>"
              attachments:
                - name: report.csv
                  uri: "{{{{ outputs.report.uri }}}}"
            """
        )

        # When
        outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    (received,) = mailbox.messages
    assert mailbox.logins == [("robot", "s3cret")]
    assert received.recipients == ["ana@example.com", "bo@example.com", "cy@example.com"]
    message = received.message
    assert message["Subject"] == "Report for demo" and message["Cc"] == "cy@example.com"
    body = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert body is not None and body.get_content().strip() == "see attached"
    assert html is not None and "<b>attached</b>" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "report.csv" and attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "a,b\n1,2\n"


def test_mail_send_to_a_closed_port_fails_with_the_server_named(tmp_path: Path) -> None:
    # Given: a port nothing listens on (the server is gone once the block ends)
    with smtp_server() as mailbox:
        port = mailbox.port
    task = load_task(
        f"{{id: m, type: email.MailSend, host: 127.0.0.1, port: {port}, transportStrategy: SMTP,"
        " from: a@example.com, to: b@example.com, subject: s, plainTextContent: t}"
    )

    # When / Then
    with pytest.raises(Exception, match=f"sending the email through 127.0.0.1:{port} failed"):
        task.run(direct_context(tmp_path))


def test_ses_send_email_sends_the_raw_message(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: a verified sender, as SES requires
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="robot@example.com")
    source = flow_source(
        """
        - id: mail
          type: aws.ses.SendEmail
          region: us-east-1
          from: robot@example.com
          to: ana@example.com
          subject: "Done: {{ flow.id }}"
          htmlTextContent: "<h1>ok</h1>"
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    (sent,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert outputs_of(platform, outcome, "mail")["messageId"] == sent.id
    # moto adds the To header to Destinations; SES delivers to Destinations (the same address here)
    assert set(sent.destinations) == {"ana@example.com"} and "Subject: Done: demo" in sent.raw_data


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (openssl), and the server context holding it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.mark.parametrize("strategy", ["SMTPS", "SMTP_TLS"])
def test_mail_send_over_tls_trusts_only_a_verified_certificate(
    strategy: str, certificate: tuple[Path, ssl.SSLContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a server with TLS from the first byte (SMTPS) or after STARTTLS (SMTP_TLS)
    cert, context = certificate
    with smtp_server(context, implicit_tls=strategy == "SMTPS") as mailbox:
        task = load_task(
            f"{{id: m, type: email.MailSend, host: 127.0.0.1, port: {mailbox.port}, transportStrategy: {strategy},"
            " username: robot, password: s3cret, from: a@example.com, to: b@example.com, subject: s,"
            " plainTextContent: t}"
        )

        # When its certificate is not trusted, Then nothing is sent
        (tmp_path / "untrusted").mkdir()
        with pytest.raises(TaskFailed, match="CERTIFICATE_VERIFY_FAILED"):
            task.run(direct_context(tmp_path / "untrusted"))
        assert mailbox.messages == [] and mailbox.logins == []

        # When it is (the trust store OpenSSL reads), Then the mail goes through TLS
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        (tmp_path / "trusted").mkdir()
        task.run(direct_context(tmp_path / "trusted"))
    assert mailbox.logins == [("robot", "s3cret")] and len(mailbox.messages) == 1
