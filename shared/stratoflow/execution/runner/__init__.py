"""The task runner (see `runner.py`)."""

from stratoflow.execution.runner.activity import TaskRunActivity, recording_task_runs
from stratoflow.execution.runner.call import TaskCallbacks
from stratoflow.execution.runner.runner import TaskRunner

__all__ = ["TaskCallbacks", "TaskRunActivity", "TaskRunner", "recording_task_runs"]
