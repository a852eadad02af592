"""Container entrypoint of a script task with a Fargate `taskRunner`: the `run` call Step Functions
put in the container's environment, answered by the same task runner the task-runner Lambda builds.

Thin by design (`stratoflow.execution.runner.container` does the work): exit code 0 when the task
run succeeded, 1 when it failed (Step Functions then fails the state with States.TaskFailed and the
compiled Retry/Catch route it). The task run, its logs and outputs are in the store either way;
this process's own output goes to the stack's container log group.
"""

from __future__ import annotations

import os
import sys

from pydantic import ValidationError

from stratoflow.cloud.assembly import cloud_container_runner
from stratoflow.cloud.config.settings import Settings
from stratoflow.execution.runner.container import hide_from_scripts, run_container


def main() -> int:
    # Before anything reads credentials: the task role is the runner's, never the script's.
    if not hide_from_scripts():
        print("cannot make the runner non-dumpable: refusing to run scripts beside it", file=sys.stderr)
        return 1
    try:
        settings = Settings.from_env()
    except ValidationError as error:  # a task definition without the stack's settings: nothing can run
        names = ", ".join(str(problem["loc"][0]).upper() for problem in error.errors())
        print(f"container settings missing or invalid: {names}", file=sys.stderr)
        return 1
    outcome = run_container(cloud_container_runner(settings), os.environ)
    if outcome.error is not None:
        print(f"task failed: {outcome.error}", file=sys.stderr)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
