"""Where the CLI prints: a terminal gets rich's styled, width-fitted output; anything else (a pipe, a
file, a test) gets plain text at full width, so no id, URI or log line is wrapped or cut at 80 columns."""

from __future__ import annotations

from typing import Any

# Wide enough for any line a command prints: rich fits tables to the content, not to this width.
PLAIN_WIDTH = 100_000


def console(stderr: bool = False) -> Any:
    """A rich Console: styled for a terminal, plain and unwrapped otherwise."""
    from rich.console import Console

    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(
        stderr=stderr, width=PLAIN_WIDTH, no_color=True, highlight=False, soft_wrap=True, emoji=False
    )
