"""Errors Stratoflow reports to a user, each saying what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in a flow file, located as precisely as the loader can."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = field(default="error", compare=False)

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        kind = "warning: " if self.is_warning else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{where}{self.message}"

    @property
    def is_warning(self) -> bool:
        """A warning does not make the flow invalid: Kestra runs such flows too."""
        return self.severity == "warning"


class StratoflowError(Exception):
    """Base of every error Stratoflow raises on purpose."""


class FlowValidationError(StratoflowError):
    """A flow is invalid; carries every diagnostic found, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class InputError(StratoflowError):
    """An execution input is missing or does not satisfy its type; names the input and the rule."""

    def __init__(self, input_id: str, message: str):
        self.input_id = input_id
        super().__init__(f"input '{input_id}': {message}")


class CompileError(StratoflowError):
    """The compiler could not produce a valid state machine for a flow."""


class StorageError(StratoflowError):
    """The local history or storage cannot be written: a full disk, a read-only or missing home, a
    name the file system refuses. The message names the cause and the place."""


class NotFoundError(StratoflowError):
    """A flow, execution or task run does not exist."""


class ConflictError(StratoflowError):
    """A conditional write lost: the record changed or already exists."""
