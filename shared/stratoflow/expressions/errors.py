"""Errors raised while compiling or rendering an expression; nothing else escapes `render`."""

from __future__ import annotations

from stratoflow.errors import StratoflowError


class ExpressionError(StratoflowError):
    """Base of every expression error."""

    # Set once the message says where in the template the error is, so that a template rendered by
    # `render()` inside another does not get a second location.
    located: bool = False


class UndefinedError(ExpressionError):
    """A variable, attribute or key a template uses does not exist; the message names it."""


class ExpressionSecurityError(ExpressionError):
    """A template tried something the sandbox forbids, or exceeded a size or time budget."""


class ExpressionEvaluationError(ExpressionError):
    """A template failed while evaluating: a bad argument to a filter, a bad jq program, ..."""


class ExpressionSyntaxError(ExpressionError):
    """A template does not parse; `lineno` is the line inside the template (1-based)."""

    def __init__(self, message: str, lineno: int = 1):
        self.message = message
        self.lineno = lineno
        super().__init__(f"{message} (line {lineno})")
