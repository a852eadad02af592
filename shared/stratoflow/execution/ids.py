"""Deterministic identities: the same task instance always gets the same task-run id.

A Step Functions retry, a duplicate Lambda delivery or a restart therefore lands on the task run
that already exists (adding an attempt) instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from typing import Any

from pydantic import JsonValue

Scope = dict[str, Any] | None

_ALPHABET = string.ascii_letters + string.digits


def new_execution_id() -> str:
    """A random 22-character base62 id, as Kestra's (and valid as a Step Functions execution name)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


def scope_chain(scope: Scope) -> list[dict[str, JsonValue]]:
    """The loop iterations enclosing a task, outermost first."""
    chain: list[dict[str, Any]] = []
    while scope:
        chain.append(scope)
        scope = scope.get("parent")
    chain.reverse()
    return chain


def scope_path(scope: Scope) -> list[str]:
    """The enclosing loop iterations as `loopTaskId#iteration`, outermost first (kept on each task run)."""
    return [f"{entry['taskId']}#{entry.get('iteration')}" for entry in scope_chain(scope)]


def task_run_id(execution_id: str, task_id: str, scope: Scope) -> str:
    """A short stable id from the execution, the task and the iteration of every enclosing loop."""
    return task_run_id_at(execution_id, task_id, scope_path(scope))


def task_run_id_at(execution_id: str, task_id: str, path: list[str]) -> str:
    """The id of a task instance at a scope path: a replay re-derives ids in the new execution."""
    return hashlib.blake2b(json.dumps([execution_id, task_id, path]).encode(), digest_size=10).hexdigest()


def loop_value(value: JsonValue) -> str:
    """Kestra's `taskrun.value`: always a string; other values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def scope_values(scope: Scope) -> list[str]:
    """Values of the enclosing ForEach iterations, outermost first (WaitFor iterations carry none)."""
    return [loop_value(e["value"]) for e in scope_chain(scope) if e.get("value") is not None]


def parent_scope(scope: Scope, parent_task_id: str) -> Scope:
    """The scope of a task's parent: a loop's own task run sits outside the iterations it creates."""
    if scope and scope.get("taskId") == parent_task_id:
        return scope.get("parent")
    return scope
