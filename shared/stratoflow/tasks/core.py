"""Core runnable tasks: logging, returning values, labels, failing and exiting."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from stratoflow import expressions
from stratoflow.flow.fields import LabelMap, normalize_labels
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import LogLevel, RunnableTask
from stratoflow.tasks.errors import ExitExecution, TaskFailed


def as_text(value: Any) -> str:
    """A rendered value as a log line or message: maps and lists as JSON, null as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


@register
class Log(RunnableTask):
    """Write one log line per message."""

    type_name: ClassVar[str] = "Log"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("log", "Log")

    message: str | list[str]
    level: LogLevel = "INFO"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        messages = self.message if isinstance(self.message, list) else [self.message]
        for message in messages:
            ctx.log(self.level, as_text(ctx.render(message)))
        return {}


@register
class Echo(RunnableTask):
    """Deprecated form of `Log` (Kestra's `debugs.Echo`): one `format` message."""

    type_name: ClassVar[str] = "Echo"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.log.Echo",
        "io.kestra.plugin.core.debug.Echo",
        "io.kestra.core.tasks.debugs.Echo",
    )

    format: str
    level: LogLevel = "INFO"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ctx.log(self.level, as_text(ctx.render(self.format)))
        return {}


@register
class Return(RunnableTask):
    """Output `value`: the rendered `format`."""

    type_name: ClassVar[str] = "Return"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("debug", "Return", "debugs")

    format: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"value": ctx.render(self.format)}


@register
class OutputValues(RunnableTask):
    """Output `values`: the rendered map."""

    type_name: ClassVar[str] = "OutputValues"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("output", "OutputValues", "outputs")

    values: dict[str, Any] = Field(default_factory=dict)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"values": ctx.render(self.values)}


def _an_expression(text: str) -> str:
    if "{{" not in text and "{%" not in text:
        raise ValueError("labels must be a map, a list of {key, value}, or an expression giving one")
    return text


TemplateText = Annotated[str, AfterValidator(_an_expression)]


@register
class Labels(RunnableTask):
    """Add (or replace) labels on the running execution."""

    type_name: ClassVar[str] = "Labels"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("execution", "Labels", "executions")

    # A map, a list of {key, value}, or (Kestra) an expression giving either, or a JSON string of one.
    labels: Annotated[LabelMap, Field(min_length=1)] | TemplateText

    def run(self, ctx: RunContext) -> dict[str, Any]:
        rendered = ctx.render(self.labels)
        if isinstance(rendered, str):
            try:
                rendered = json.loads(rendered)
            except ValueError:
                raise TaskFailed(f"labels rendered to text that is not JSON: {rendered[:200]!r}") from None
        try:
            labels = normalize_labels(rendered)
        except (PydanticCustomError, ValueError) as error:
            raise TaskFailed(f"labels must be a map or a list of {{key, value}}: {error}") from None
        ctx.add_labels({as_text(key): as_text(value) for key, value in labels.items()})
        return {}


@register
class Fail(RunnableTask):
    """Fail the task run: always, or when `condition` renders to a truthy value."""

    type_name: ClassVar[str] = "Fail"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("execution", "Fail", "executions")

    condition: str | bool | None = None
    error_message: str = "Task failure"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        if self.condition is not None and not expressions.is_truthy(ctx.render(self.condition)):
            return {}
        raise TaskFailed(as_text(ctx.render(self.error_message)))


@register
class Exit(RunnableTask):
    """End the whole execution now, with `state`."""

    type_name: ClassVar[str] = "Exit"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("execution", "Exit", "executions")

    state: Literal["SUCCESS", "WARNING", "FAILED", "KILLED"] = "SUCCESS"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        raise ExitExecution(self.state)


@register
class Assert(RunnableTask):
    """Fail the task run when one of `conditions` is falsy, naming every failed one."""

    type_name: ClassVar[str] = "Assert"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("execution", "Assert", "executions")

    conditions: list[str] = Field(min_length=1)
    error_message: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:

        failed = [
            condition for condition in self.conditions if not expressions.is_truthy(ctx.render(condition))
        ]
        for condition in failed:
            ctx.log("ERROR", f"assertion failed: {condition}")
        if failed:
            message = (
                as_text(ctx.render(self.error_message))
                if self.error_message is not None
                else f"{len(failed)} of {len(self.conditions)} assertion(s) failed: " + "; ".join(failed)
            )
            raise TaskFailed(message)
        return {}
