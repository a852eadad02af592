"""ASL error names, the exceptions that carry them, and how Retry/Catch match them.

Matching follows AWS Step Functions:

- `States.ALL` matches every error name except the terminal ones: `States.Runtime` (a path that does
  not resolve, a bad intrinsic argument, ...) and `States.DataLimitExceeded`.
- `States.TaskFailed` matches every error name except `States.Timeout` and the terminal ones.
- `States.Runtime` is never retried nor caught, even when named explicitly: it always fails the
  execution.
- `States.DataLimitExceeded` is caught or retried only when named explicitly.
- Any other name matches itself exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
BRANCH_FAILED = "States.BranchFailed"


class TaskError(Exception):
    """Raised by a resource handler to fail its Task state with an ASL error name and cause."""

    def __init__(self, error: str, cause: str | None = None):
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}" if cause else error)


class StateFailure(Exception):
    """An ASL error raised while a state runs; Retry and Catch see it, or it fails the execution."""

    def __init__(self, error: str, cause: str | None = None):
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}" if cause else error)

    def as_output(self) -> dict[str, str]:
        """The error object a Catch places at its ResultPath (AWS binds "" for a missing part)."""
        return {"Error": self.error, "Cause": self.cause or ""}


class Cancelled(Exception):
    """The branch or execution was stopped (StopExecution, a timeout, or a failed sibling branch)."""


class InvalidDefinition(ValueError):
    """The state machine definition is not valid; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid state machine definition:\n" + "\n".join(f"  {p}" for p in problems))


class UnknownResource(LookupError):
    """No resource handler answers the Task's Resource ARN."""


class InvalidTaskToken(LookupError):
    """The task token is unknown, or its task is no longer waiting (as AWS's TaskTimedOut)."""


TERMINAL_ERRORS = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    """True when a Retrier's or Catcher's ErrorEquals matches `error`, with AWS's wildcard rules."""
    if error == RUNTIME:
        return False
    for name in error_equals:
        if name == error:
            return True
        if error in TERMINAL_ERRORS:
            continue
        if name == ALL or (name == TASK_FAILED and error != TIMEOUT):
            return True
    return False
