"""Errors a task raises while it runs.

The class name of each is the ASL error name: the task runner lets it escape, Lambda reports it as
`errorType`, and the state machine's Retry and Catch match on it (`"ErrorEquals": ["HttpError"]`),
on AWS and on the local engine alike. Expression errors are not repeated here: the runner wraps them.
"""

from __future__ import annotations


class TaskError(Exception):
    """Base of every failure a task reports on purpose; `message` is what the user sees."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class TaskFailed(TaskError):
    """The task decided to fail (a `Fail` task, a missing KV key, a refused write)."""


class TaskTimeout(TaskError):
    """The task ran longer than its `timeout`."""


class TaskStopped(TaskError):
    """The task was stopped while it ran because it no longer matters: a flowable around it timed
    out, or its execution was killed. Its run is recorded KILLED, never retried."""


class HttpError(TaskError):
    """An HTTP request failed: a non-2xx status (`code`), or no response at all (`code` is None)."""

    def __init__(self, message: str, code: int | None = None):
        self.code = code
        super().__init__(message)


class ExitExecution(TaskError):
    """An `Exit` task ends the whole execution with `state` (SUCCESS, WARNING, FAILED or KILLED)."""

    def __init__(self, state: str, message: str | None = None):
        self.state = state
        super().__init__(message or f"execution exited with state {state}")
