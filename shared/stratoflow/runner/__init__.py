"""The task runner (see `runner.py`)."""

from stratoflow.runner.runner import TaskCallbacks, TaskRunner

__all__ = ["TaskCallbacks", "TaskRunner"]
