"""Helpers shared by the flow-model tests: flow snippets and a fake RunContext."""

from __future__ import annotations

import textwrap
from typing import Any

from stratoflow.errors import Diagnostic
from stratoflow.flow import load_flow, validate_text

HEADER = "id: demo\nnamespace: tests\n"


def flow_text(body: str) -> str:
    """A flow file: the id/namespace header followed by a dedented YAML body."""
    return HEADER + textwrap.dedent(body).lstrip("\n")


def problems(body: str) -> list[Diagnostic]:
    return validate_text(flow_text(body), "flow.yaml")


def messages(body: str) -> list[str]:
    return [f"{d.path}: {d.message}" for d in problems(body)]


class FakeContext:
    """A RunContext that renders with a lookup table and records what the task did."""

    def __init__(self, rendered: dict[str, Any] | None = None):
        self.execution_id = "exec-1"
        self.namespace = "tests"
        self.flow_id = "demo"
        self.task_run_id = "run-1"
        self.attempt = 1
        self.rendered = rendered or {}
        self.logs: list[tuple[str, str]] = []
        self.labels: dict[str, str] = {}
        self.kv: dict[tuple[str | None, str], tuple[Any, int | None]] = {}
        self.render_calls: list[Any] = []
        self.on_stop_hooks: list[Any] = []

    def render(self, value: Any) -> Any:
        self.render_calls.append(value)
        if isinstance(value, str):
            return self.rendered.get(value, value)
        if isinstance(value, dict):
            return {self.render(k): self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        return value

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def add_labels(self, labels: dict[str, str]) -> None:
        self.labels.update(labels)

    def on_stop(self, cancel: Any) -> None:
        self.on_stop_hooks.append(cancel)

    def check_stopped(self) -> None:
        pass

    def kv_set(
        self, key: str, value: Any, namespace: str | None = None, ttl_seconds: int | None = None
    ) -> None:
        self.kv[(namespace, key)] = (value, ttl_seconds)

    def kv_get(self, key: str, namespace: str | None = None) -> Any:
        entry = self.kv.get((namespace, key))
        return entry[0] if entry else None

    def kv_delete(self, key: str, namespace: str | None = None) -> bool:
        return self.kv.pop((namespace, key), None) is not None

    def put_file(self, name: str, data: bytes) -> str:
        return f"strato:///{name}"

    def read_file(self, uri: str) -> bytes:
        return b""

    def secret(self, name: str) -> str:
        return "s3cr3t"


def request(yaml: str, ctx: FakeContext) -> dict[str, Any]:
    """Run one http.Request task, written as a flow's task line, in the given context."""
    task = load_flow(flow_text(f"tasks:\n  - {yaml}\n")).tasks[0]
    return task.run(ctx)  # type: ignore[attr-defined,no-any-return]
