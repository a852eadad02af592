"""`from kestra import Kestra`: the part of Kestra's Python library that scripts use, speaking the
script protocol of Stratoflow's script tasks (lines `::{"outputs": {...}}::` on stdout).

Shipped with Stratoflow and put on every Python script's path, as Kestra's images ship the library.
`Kestra.outputs({...})` sets the task's `vars`; `Kestra.counter` and `Kestra.timer` report metrics
(logged at DEBUG: Stratoflow records no metrics); `Kestra.logger()` logs lines the task records.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any


class Kestra:
    @staticmethod
    def _send(document: dict[str, Any]) -> None:
        # One line, whatever the size: the task reads an outputs line whole (up to its size limit).
        sys.stdout.write("::" + json.dumps(document, default=str) + "::\n")
        sys.stdout.flush()

    @staticmethod
    def _metric(name: str, kind: str, value: float, tags: dict[str, Any] | None) -> None:
        Kestra._send({"metrics": [{"name": name, "type": kind, "value": value, "tags": tags or {}}]})

    @staticmethod
    def outputs(values: dict[str, Any]) -> None:
        """Values for the task's `vars` output (`{{ outputs.task.vars.name }}`)."""
        Kestra._send({"outputs": values})

    @staticmethod
    def counter(name: str, value: float, tags: dict[str, Any] | None = None) -> None:
        Kestra._metric(name, "counter", value, tags)

    @staticmethod
    def timer(name: str, duration: float | Callable[[], Any], tags: dict[str, Any] | None = None) -> None:
        """A duration in seconds, or a function whose run is timed."""
        if callable(duration):
            started = time.perf_counter()
            duration()
            duration = time.perf_counter() - started
        Kestra._metric(name, "timer", duration, tags)

    @staticmethod
    def logger() -> logging.Logger:
        """A logger whose lines the task records (INFO and below on stdout, WARNING and above on
        stderr, which the task records as WARN)."""
        logger = logging.getLogger("Kestra")
        if not logger.handlers:
            low = logging.StreamHandler(sys.stdout)
            low.addFilter(lambda record: record.levelno < logging.WARNING)
            high = logging.StreamHandler(sys.stderr)
            high.setLevel(logging.WARNING)
            for handler in (low, high):
                handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
                logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        return logger
