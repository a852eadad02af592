"""Options and helpers shared by the commands that touch the local store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HOME = ".stratoflow"


def home_option(func: F) -> F:
    """`--home DIR`: where the local history (SQLite) and storage live; env STRATOFLOW_HOME."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: Path(os.environ.get("STRATOFLOW_HOME", DEFAULT_HOME)),
        show_default=DEFAULT_HOME,
        help="Folder of the local history and storage.",
    )(func)


def parse_pairs(pairs: tuple[str, ...], what: str = "input") -> dict[str, str]:
    """KEY=VALUE pairs from the command line; a pair without '=' is a usage error."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--{what} expects KEY=VALUE, got {pair!r}")
        values[key] = value
    return values
