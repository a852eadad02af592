"""The simple states (Pass, Wait, Choice, Succeed, Fail) and the input/output processing all states share.

Processing order, as AWS: InputPath -> Parameters/ItemSelector -> (work) -> ResultSelector ->
ResultPath (against the *raw* state input) -> OutputPath. `InputPath: null` and `OutputPath: null`
give `{}`; `ResultPath: null` keeps the raw input and discards the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any, ClassVar

from stratoflow.engine.choice import ChoiceRuntimeError, compile_rule, parse_timestamp
from stratoflow.engine.errors import NO_CHOICE_MATCHED, RUNTIME, StateFailure
from stratoflow.engine.intrinsics import IntrinsicError, compile_intrinsic, is_intrinsic
from stratoflow.engine.paths import ContextFn, PathNotFound, ReferencePath, compile_path
from stratoflow.engine.runtime import CancelScope, Run, StateContext
from stratoflow.engine.templates import Render, TemplateError, compile_template, preview

Select = Callable[[Any, ContextFn | None], Any]


def selector(spec: dict[str, Any], field: str) -> Select | None:
    """InputPath/OutputPath/ItemsPath: None when absent or `$` (identity); `null` selects `{}`."""
    if field not in spec or spec[field] == "$":
        return None
    if spec[field] is None:
        return lambda _data, _context: {}
    path = compile_path(spec[field])
    return path.find


def template(spec: dict[str, Any], field: str) -> Render | None:
    return compile_template(spec[field], field) if field in spec else None


class ResultPlacement:
    """ResultPath: where the result goes in the raw state input."""

    __slots__ = ("reference", "replace")

    def __init__(self, spec: dict[str, Any], field: str = "ResultPath"):
        value = spec.get(field, "$")
        self.replace = value == "$"
        self.reference = None if value is None or value == "$" else ReferencePath(value)

    def apply(self, raw: Any, result: Any) -> Any:
        if self.replace:
            return result
        if self.reference is None:
            return raw
        return self.reference.set(raw, result)


class StateNode:
    """A compiled state: `execute(raw input) -> (output, name of the next state or None at the end)`."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str, spec: dict[str, Any]):
        self.name = name
        self.next: str | None = spec.get("Next")
        self.entered_type = f"{self.kind}StateEntered"
        self.exited_type = f"{self.kind}StateExited"
        self.input_path = selector(spec, "InputPath")
        self.output_path = selector(spec, "OutputPath")

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        raise NotImplementedError

    def runtime_failure(self, entered_id: int, message: str) -> StateFailure:
        """A States.Runtime failure, with the cause AWS writes."""
        return StateFailure(
            RUNTIME,
            f"An error occurred while executing the state '{self.name}' (entered at the event id #{entered_id}). {message}",
        )

    def select(self, select: Select | None, data: Any, context: StateContext, entered_id: int) -> Any:
        if select is None:
            return data
        try:
            return select(data, context.document)
        except PathNotFound as error:
            raise self.runtime_failure(entered_id, str(error)) from None

    def render(self, render: Render, data: Any, context: StateContext, entered_id: int) -> Any:
        try:
            return render(data, context.document)
        except TemplateError as error:
            raise self.runtime_failure(entered_id, str(error)) from None

    def place(self, placement: ResultPlacement, raw: Any, result: Any, entered_id: int) -> Any:
        try:
            return placement.apply(raw, result)
        except PathNotFound as error:
            raise self.runtime_failure(
                entered_id, f"Unable to apply ReferencePath {error.path} to input '{preview(raw)}'"
            ) from None

    def leave(self, run: Run, output: Any, raw: Any) -> tuple[Any, str | None]:
        if output is not raw:  # the input was checked when it was the previous state's output
            run.check_size(output, self.name, "output")
        run.emit(self.exited_type, self.name, output=output)
        return output, self.next


class PassState(StateNode):
    kind = "Pass"

    def __init__(self, name: str, spec: dict[str, Any]):
        super().__init__(name, spec)
        self.parameters = template(spec, "Parameters")
        self.has_result = "Result" in spec
        self.result = spec.get("Result")
        self.placement = ResultPlacement(spec)

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        context = StateContext(run, self.name, run.clock.now())
        if self.has_result:
            result = self.result
        else:
            result = self.select(self.input_path, raw, context, entered_id)
            if self.parameters is not None:
                result = self.render(self.parameters, result, context, entered_id)
        output = self.place(self.placement, raw, result, entered_id)
        return self.leave(run, self.select(self.output_path, output, context, entered_id), raw)


class WaitState(StateNode):
    kind = "Wait"

    def __init__(self, name: str, spec: dict[str, Any]):
        super().__init__(name, spec)
        self.seconds: int | None = spec.get("Seconds")
        self.seconds_path = compile_path(spec["SecondsPath"]) if "SecondsPath" in spec else None
        self.timestamp = parse_timestamp(spec["Timestamp"]) if "Timestamp" in spec else None
        self.timestamp_path = compile_path(spec["TimestampPath"]) if "TimestampPath" in spec else None

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        context = StateContext(run, self.name, run.clock.now())
        data = self.select(self.input_path, raw, context, entered_id)
        run.sleep(self._seconds(data, context, entered_id, run), scope)
        return self.leave(run, self.select(self.output_path, data, context, entered_id), raw)

    def _seconds(self, data: Any, context: StateContext, entered_id: int, run: Run) -> float:
        if self.seconds is not None:
            return float(self.seconds)
        if self.seconds_path is not None:
            value = self.select(self.seconds_path.find, data, context, entered_id)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.runtime_failure(
                    entered_id,
                    f"The SecondsPath '{self.seconds_path.text}' must be a non-negative integer, got {value!r}",
                )
            return float(value)
        target = self.timestamp
        if self.timestamp_path is not None:
            value = self.select(self.timestamp_path.find, data, context, entered_id)
            target = parse_timestamp(value)
            if target is None:
                raise self.runtime_failure(
                    entered_id,
                    f"The TimestampPath '{self.timestamp_path.text}' must be a timestamp, got {value!r}",
                )
        assert target is not None
        return max(0.0, (target - run.clock.now().astimezone(UTC)).total_seconds())


class ChoiceState(StateNode):
    kind = "Choice"

    def __init__(self, name: str, spec: dict[str, Any]):
        super().__init__(name, spec)
        self.rules = [
            (compile_rule({k: v for k, v in rule.items() if k not in ("Next", "Comment")}), rule["Next"])
            for rule in spec["Choices"]
        ]
        self.default: str | None = spec.get("Default")

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        context = StateContext(run, self.name, run.clock.now())
        data = self.select(self.input_path, raw, context, entered_id)
        target = self.default
        try:
            for predicate, next_state in self.rules:
                if predicate(data, context.document):
                    target = next_state
                    break
        except ChoiceRuntimeError as error:
            raise self.runtime_failure(entered_id, str(error)) from None
        if target is None:
            raise StateFailure(
                NO_CHOICE_MATCHED, f"No choice rule matched and the state '{self.name}' has no Default."
            )
        output = self.select(self.output_path, data, context, entered_id)
        run.emit(self.exited_type, self.name, output=output)
        return output, target


class SucceedState(StateNode):
    kind = "Succeed"

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        context = StateContext(run, self.name, run.clock.now())
        data = self.select(self.input_path, raw, context, entered_id)
        output, _ = self.leave(run, self.select(self.output_path, data, context, entered_id), raw)
        return output, None


class FailState(StateNode):
    kind = "Fail"

    def __init__(self, name: str, spec: dict[str, Any]):
        super().__init__(name, spec)
        self.error = self._part(spec, "Error")
        self.cause = self._part(spec, "Cause")

    @staticmethod
    def _part(spec: dict[str, Any], key: str) -> Callable[[Any, ContextFn | None], Any] | None:
        if key in spec:
            value = spec[key]
            return lambda _data, _context: value
        if f"{key}Path" not in spec:
            return None
        expression = spec[f"{key}Path"]
        if is_intrinsic(expression):
            return compile_intrinsic(expression)
        return compile_path(expression).find

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        context = StateContext(run, self.name, run.clock.now())
        error, cause = (
            self._evaluate(part, key, raw, context, entered_id)
            for part, key in ((self.error, "Error"), (self.cause, "Cause"))
        )
        raise StateFailure(error or "", cause)

    def _evaluate(self, part: Any, key: str, raw: Any, context: StateContext, entered_id: int) -> str | None:
        if part is None:
            return None
        try:
            value = part(raw, context.document)
        except (PathNotFound, IntrinsicError) as error:
            raise self.runtime_failure(entered_id, f"{key}Path: {error}") from None
        if not isinstance(value, str):
            raise self.runtime_failure(entered_id, f"The {key}Path must select a string, got {value!r}")
        return value
