"""`http.Request`: one HTTP call with the standard library; outputs `code`, `headers` and `body`."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from email.message import Message
from typing import Any, ClassVar, Literal

from pydantic import Field
from stratoflow.tasks.base import RunnableTask
from stratoflow.tasks.context import RunContext
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import HttpError, TaskFailed
from stratoflow.tasks.fields import Duration, StrictModel
from stratoflow.tasks.registry import kestra_aliases, register

DEFAULT_TIMEOUT = timedelta(seconds=60)


class RequestOptions(StrictModel):
    """Client options; `timeout` bounds the whole exchange, the others are accepted as its parts."""

    timeout: Duration | None = None
    connect_timeout: Duration | None = None
    read_timeout: Duration | None = None
    follow_redirects: bool = True
    # Responses are task outputs: keep them small enough for the execution store.
    max_content_length: int = Field(default=10 * 1024 * 1024, ge=1)

    def seconds(self) -> float:
        chosen = self.timeout or max(
            (t for t in (self.connect_timeout, self.read_timeout) if t is not None), default=DEFAULT_TIMEOUT
        )
        return chosen.total_seconds()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _headers(message: Message) -> dict[str, list[str]]:
    """Response headers as Kestra gives them: each name with the list of its values."""
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        headers.setdefault(name, []).append(value)
    return headers


@register
class Request(RunnableTask):
    """Send an HTTP request; a non-2xx status fails the task unless `allowFailed`."""

    type_name: ClassVar[str] = "http.Request"
    aliases: ClassVar[tuple[str, ...]] = (
        *kestra_aliases("http", "Request"),
        "io.kestra.plugin.fs.http.Request",
    )

    uri: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    content_type: str | None = None
    form_data: dict[str, Any] | None = None
    allow_failed: bool = False
    options: RequestOptions = Field(default_factory=RequestOptions)

    def _payload(self, ctx: RunContext, headers: dict[str, str]) -> bytes | None:
        if self.form_data is not None:
            form = {k: as_text(v) for k, v in ctx.render(self.form_data).items()}
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return urllib.parse.urlencode(form).encode()
        body = ctx.render(self.body)
        if body is None:
            return None
        if isinstance(body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(body).encode()
        return as_text(body).encode()

    def run(self, ctx: RunContext) -> dict[str, Any]:
        uri = as_text(ctx.render(self.uri))
        if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
            raise TaskFailed(f"'{uri}' is not an http or https URI")
        headers = {as_text(k): as_text(v) for k, v in ctx.render(self.headers).items()}
        if self.content_type is not None:
            headers["Content-Type"] = as_text(ctx.render(self.content_type))
        data = self._payload(ctx, headers)
        request = urllib.request.Request(uri, data=data, headers=headers, method=self.method)
        handlers = [] if self.options.follow_redirects else [_NoRedirect()]
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=self.options.seconds()) as response:
                return self._outputs(response.status, response.headers, response)
        except urllib.error.HTTPError as err:
            outputs = self._outputs(err.code, err.headers, err)
            if self.allow_failed:
                return outputs
            raise HttpError(
                f"{self.method} {uri} failed with status {err.code}: {outputs['body'][:500]}", err.code
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise HttpError(f"{self.method} {uri} failed: {reason}") from None

    def _outputs(self, status: int, headers: Message, stream: Any) -> dict[str, Any]:
        raw = stream.read(self.options.max_content_length + 1) if stream is not None else b""
        if len(raw) > self.options.max_content_length:
            raise TaskFailed(
                f"the response is larger than maxContentLength ({self.options.max_content_length} bytes)"
            )
        charset = headers.get_content_charset() or "utf-8"
        try:
            body = raw.decode(charset, errors="replace")
        except LookupError:  # a charset name Python does not know
            body = raw.decode("utf-8", errors="replace")
        return {"code": status, "headers": _headers(headers), "body": body}
