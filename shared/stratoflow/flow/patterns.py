"""Input `validator` patterns, run on RE2 (google-re2): matching takes time linear in the text, so a
pattern like `^(a+)+$` cannot freeze a webhook or the admission Lambda (Python's `re` backtracks for
seconds per extra character on it).

RE2 has no lookaround and no backreferences; a validator using them is refused when the flow is
validated, with the reason, instead of being run on a backtracking engine.
"""

from __future__ import annotations

import functools
from typing import Protocol

import re2  # type: ignore[import-untyped]


class CompiledPattern(Protocol):
    """What a compiled RE2 pattern offers the validators (google-re2 ships no type hints)."""

    def fullmatch(self, text: str) -> object | None: ...


# Validators are short; a larger compiled program is refused (RE2's own memory budget, 8 MiB default).
_MAX_PATTERN = 1000


@functools.lru_cache(maxsize=256)
def compile_validator(pattern: str) -> CompiledPattern:
    """The compiled pattern; ValueError saying why RE2 cannot run it."""
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"invalid regular expression: longer than {_MAX_PATTERN} characters")
    options = re2.Options()
    options.log_errors = False  # the error is raised to the caller, not printed to stderr
    try:
        compiled: CompiledPattern = re2.compile(pattern, options)
        return compiled
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise ValueError(
            f"invalid regular expression: {reason} (validators run on RE2, in linear time: "
            "no lookaround, no backreferences)"
        ) from None


def full_match(pattern: str, text: str) -> bool:
    return compile_validator(pattern).fullmatch(text) is not None
