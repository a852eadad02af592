"""The task runner (see `runner.py`)."""

from stratoflow.runner.activity import TaskRunActivity, recording_task_runs
from stratoflow.runner.runner import TaskCallbacks, TaskRunner

__all__ = ["TaskCallbacks", "TaskRunActivity", "TaskRunner", "recording_task_runs"]
