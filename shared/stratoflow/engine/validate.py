"""Structural checks of a state machine definition, before anything runs.

`validate_definition` returns every problem found (an empty list when the definition is fine), each
prefixed with where it is, e.g. `States.Loop.ItemProcessor.States.Save.Next: no state named 'Done'`.
It accepts the subset of ASL the local engine runs (JSONPath only; inline Map, and distributed Map
reading a JSON array from S3) - the same subset the compiler emits - and rejects what Step Functions
would reject at CreateStateMachine.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from stratoflow.engine import errors
from stratoflow.engine.choice import ChoiceSyntaxError, compile_rule, parse_timestamp
from stratoflow.engine.intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic
from stratoflow.engine.paths import PathSyntaxError, ReferencePath, compile_path
from stratoflow.engine.templates import TemplateSyntaxError, compile_template

MAX_NAME = 80
_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
_RESULT = {"Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"}
FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"Parameters", "Result", "ResultPath"},
    "Task": _COMMON
    | _IO
    | _FLOW
    | _RESULT
    | {
        "Resource",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _RESULT | {"Branches"},
    "Map": _COMMON
    | _IO
    | _FLOW
    | _RESULT
    | {"ItemsPath", "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath"},
}
_JSONATA_ONLY = {"Arguments", "Output", "Assign", "Items"}
_DISTRIBUTED = {
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
    "Label",
}
"""Fields of a distributed Map (ProcessorConfig.Mode DISTRIBUTED) that the engine runs."""
READER_INPUT_TYPES = ("JSON", "JSONL")
"""The ItemReader formats the engine reads (moto's interpreter reads JSON only)."""
_BATCHER = {
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
    "BatchInput",
}
_DISTRIBUTED_UNSUPPORTED = {
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
}
READ_OBJECT = "arn:aws:states:::s3:getObject"
WRITE_OBJECTS = "arn:aws:states:::s3:putObject"
_TOP = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}
_RETRIER = {
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
}
_HANDLER = {"Retry": "retrier", "Catch": "catcher"}
_CATCHER = {"ErrorEquals", "Next", "ResultPath", "Comment"}


def validate_definition(definition: Any) -> list[str]:
    """Every structural problem of an ASL definition (JSONPath subset the local engine runs)."""
    if not isinstance(definition, dict):
        return ["definition: must be a JSON object"]
    problems: list[str] = []
    names: Counter[str] = Counter()
    for key in definition:
        if key not in _TOP:
            problems.append(f"{key}: unknown top-level field")
    _query_language(definition, "QueryLanguage", problems)
    _positive_int(definition, "TimeoutSeconds", "TimeoutSeconds", problems)
    _machine(definition, "", problems, names)
    for name, count in sorted(names.items()):
        if count > 1:
            problems.append(
                f"States.{name}: the name '{name}' is used by {count} states; names must be unique in the whole machine"
            )
    return problems


def _machine(machine: dict[str, Any], where: str, problems: list[str], names: Counter[str]) -> None:
    start, states = machine.get("StartAt"), machine.get("States")
    if not isinstance(states, dict) or not states:
        problems.append(f"{where}States: must be a non-empty object of states")
        states = {}
    if not isinstance(start, str):
        problems.append(f"{where}StartAt: missing (the name of the first state)")
    elif states and start not in states:
        problems.append(f"{where}StartAt: no state named '{start}'")
    for name, state in states.items():
        names[name] += 1
        here = f"{where}States.{name}"
        if len(name) > MAX_NAME:
            problems.append(
                f"{here}: state names are at most {MAX_NAME} characters, this one has {len(name)}"
            )
        if not isinstance(state, dict):
            problems.append(f"{here}: must be an object")
            continue
        _state(name, state, here, set(states), problems, names)
    if isinstance(start, str) and start in states:
        for name in sorted(set(states) - _reachable(start, states)):
            problems.append(f"{where}States.{name}: unreachable from StartAt '{start}'")


def _targets(state: Any) -> list[str]:
    if not isinstance(state, dict):
        return []
    found = [state.get("Next"), state.get("Default")]
    found += [rule.get("Next") for rule in state.get("Choices") or [] if isinstance(rule, dict)]
    found += [catcher.get("Next") for catcher in state.get("Catch") or [] if isinstance(catcher, dict)]
    return [target for target in found if isinstance(target, str)]


def _reachable(start: str, states: dict[str, Any]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in _targets(states.get(todo.pop())):
            if target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _state(
    name: str, state: dict[str, Any], here: str, siblings: set[str], problems: list[str], names: Counter[str]
) -> None:
    kind = state.get("Type")
    if kind not in FIELDS:
        problems.append(f"{here}.Type: {kind!r} is not a state type ({', '.join(FIELDS)})")
        return
    for key in state:
        if key in _JSONATA_ONLY:
            problems.append(f"{here}.{key}: JSONata and variables are not supported (JSONPath only)")
        elif key in _DISTRIBUTED_UNSUPPORTED and kind == "Map":
            problems.append(f"{here}.{key}: not supported by the local engine (nor by moto's interpreter)")
        elif key in _DISTRIBUTED and kind == "Map":
            if not is_distributed(state):
                problems.append(
                    f"{here}.{key}: only a distributed Map (ProcessorConfig.Mode DISTRIBUTED) has it"
                )
        elif key not in FIELDS[kind]:
            problems.append(f"{here}.{key}: unknown field for a {kind} state")
    _query_language(state, f"{here}.QueryLanguage", problems)
    _transition(kind, state, here, siblings, problems)
    for field in ("InputPath", "OutputPath", "ItemsPath"):
        if state.get(field) is not None:
            _check_path(state[field], f"{here}.{field}", problems)
    if "ResultPath" in state and state["ResultPath"] is not None:
        _check_reference(state["ResultPath"], f"{here}.ResultPath", problems)
    for field in ("Parameters", "ResultSelector", "ItemSelector"):
        if field in state:
            try:
                compile_template(state[field])
            except TemplateSyntaxError as error:
                problems.append(f"{here}.{field}: {error}")
    for field in ("Retry", "Catch"):
        if field in state:
            _handlers(field, state[field], f"{here}.{field}", siblings, problems)
    checks = {
        "Task": _task,
        "Choice": _choice,
        "Wait": _wait,
        "Fail": _fail,
        "Parallel": _parallel,
        "Map": _map,
    }
    if kind in checks:
        checks[kind](state, here, siblings, problems, names)


def _transition(kind: str, state: dict[str, Any], here: str, siblings: set[str], problems: list[str]) -> None:
    has_next, ends = "Next" in state, state.get("End") is True
    if "End" in state and not isinstance(state["End"], bool):
        problems.append(f"{here}.End: must be true or false")
    if kind in ("Choice", "Succeed", "Fail"):
        if has_next or "End" in state:
            problems.append(f"{here}: a {kind} state cannot have Next or End")
    elif has_next == ends:
        problems.append(f"{here}: needs exactly one of Next or End: true")
    if has_next:
        _target(state["Next"], f"{here}.Next", siblings, problems)


def _target(target: Any, where: str, siblings: set[str], problems: list[str]) -> None:
    if not isinstance(target, str):
        problems.append(f"{where}: must be a state name")
    elif target not in siblings:
        problems.append(f"{where}: no state named '{target}' here")


def _check_path(text: Any, where: str, problems: list[str]) -> None:
    try:
        compile_path(text)
    except PathSyntaxError as error:
        problems.append(f"{where}: {error}")


def _check_reference(text: Any, where: str, problems: list[str]) -> None:
    try:
        ReferencePath(text)
    except PathSyntaxError as error:
        problems.append(f"{where}: {error}")


def _check_path_or_intrinsic(text: Any, where: str, problems: list[str]) -> None:
    if is_intrinsic(text):
        try:
            compile_intrinsic(text)
        except IntrinsicSyntaxError as error:
            problems.append(f"{where}: {error}")
    else:
        _check_path(text, where, problems)


def _query_language(holder: dict[str, Any], where: str, problems: list[str]) -> None:
    if holder.get("QueryLanguage", "JSONPath") != "JSONPath":
        problems.append(f"{where}: only JSONPath is supported")


def _positive_int(
    holder: dict[str, Any], key: str, where: str, problems: list[str], minimum: int = 1
) -> None:
    value = holder.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        problems.append(f"{where}: must be an integer >= {minimum}")


def _handlers(field: str, handlers: Any, here: str, siblings: set[str], problems: list[str]) -> None:
    if not isinstance(handlers, list):
        problems.append(f"{here}: must be an array")
        return
    allowed = _RETRIER if field == "Retry" else _CATCHER
    for i, handler in enumerate(handlers):
        where = f"{here}[{i}]"
        if not isinstance(handler, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems.extend(f"{where}.{key}: unknown field" for key in handler if key not in allowed)
        names = handler.get("ErrorEquals")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            problems.append(f"{where}.ErrorEquals: must be a non-empty array of error names")
        elif errors.ALL in names and (len(names) > 1 or i != len(handlers) - 1):
            problems.append(
                f"{where}.ErrorEquals: States.ALL must appear alone, in the last {_HANDLER[field]}"
            )
        if field == "Catch":
            _target(handler.get("Next"), f"{where}.Next", siblings, problems)
            if handler.get("ResultPath") is not None:
                _check_reference(handler["ResultPath"], f"{where}.ResultPath", problems)
            continue
        _positive_int(handler, "IntervalSeconds", f"{where}.IntervalSeconds", problems)
        _positive_int(handler, "MaxAttempts", f"{where}.MaxAttempts", problems, minimum=0)
        _positive_int(handler, "MaxDelaySeconds", f"{where}.MaxDelaySeconds", problems)
        rate = handler.get("BackoffRate", 2.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 1.0:
            problems.append(f"{where}.BackoffRate: must be a number >= 1.0")
        if handler.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
            problems.append(f"{where}.JitterStrategy: must be FULL or NONE")


def _task(
    state: dict[str, Any], here: str, _siblings: set[str], problems: list[str], _names: Counter[str]
) -> None:
    if not isinstance(state.get("Resource"), str):
        problems.append(f"{here}.Resource: missing (the ARN of what runs the task)")
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        _positive_int(state, key, f"{here}.{key}", problems)
        if key in state and f"{key}Path" in state:
            problems.append(f"{here}: use {key} or {key}Path, not both")
        if f"{key}Path" in state:
            _check_path(state[f"{key}Path"], f"{here}.{key}Path", problems)
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
        problems.append(f"{here}.HeartbeatSeconds: must be smaller than TimeoutSeconds")


def _choice(
    state: dict[str, Any], here: str, siblings: set[str], problems: list[str], _names: Counter[str]
) -> None:
    rules = state.get("Choices")
    if not isinstance(rules, list) or not rules:
        problems.append(f"{here}.Choices: must be a non-empty array of rules")
        rules = []
    for i, rule in enumerate(rules):
        where = f"{here}.Choices[{i}]"
        if not isinstance(rule, dict):
            problems.append(f"{where}: must be an object")
            continue
        _target(rule.get("Next"), f"{where}.Next", siblings, problems)
        body = {key: value for key, value in rule.items() if key not in ("Next", "Comment")}
        try:
            compile_rule(body, where)
        except ChoiceSyntaxError as error:
            problems.append(str(error))
        if _nested_next(body):
            problems.append(f"{where}: only top-level rules may have Next")
    if "Default" in state:
        _target(state["Default"], f"{here}.Default", siblings, problems)


def _nested_next(rule: Any) -> bool:
    if not isinstance(rule, dict):
        return False
    nested = [rule.get("Not"), *(rule.get("And") or []), *(rule.get("Or") or [])]
    return any(isinstance(sub, dict) and ("Next" in sub or _nested_next(sub)) for sub in nested)


def _wait(
    state: dict[str, Any], here: str, _siblings: set[str], problems: list[str], _names: Counter[str]
) -> None:
    given = [key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in state]
    if len(given) != 1:
        problems.append(f"{here}: needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
    _positive_int(state, "Seconds", f"{here}.Seconds", problems, minimum=0)
    if "Timestamp" in state and parse_timestamp(state["Timestamp"]) is None:
        problems.append(f"{here}.Timestamp: not an RFC 3339 timestamp such as 2024-01-31T12:00:00Z")
    for key in ("SecondsPath", "TimestampPath"):
        if key in state:
            _check_path(state[key], f"{here}.{key}", problems)


def _fail(
    state: dict[str, Any], here: str, _siblings: set[str], problems: list[str], _names: Counter[str]
) -> None:
    for key in ("Error", "Cause"):
        if key in state and f"{key}Path" in state:
            problems.append(f"{here}: use {key} or {key}Path, not both")
        if key in state and not isinstance(state[key], str):
            problems.append(f"{here}.{key}: must be a string")
        if f"{key}Path" in state:
            _check_path_or_intrinsic(state[f"{key}Path"], f"{here}.{key}Path", problems)


def _parallel(
    state: dict[str, Any], here: str, _siblings: set[str], problems: list[str], names: Counter[str]
) -> None:
    branches = state.get("Branches")
    if not isinstance(branches, list) or not branches:
        problems.append(f"{here}.Branches: must be a non-empty array of state machines")
        return
    for i, branch in enumerate(branches):
        if not isinstance(branch, dict):
            problems.append(f"{here}.Branches[{i}]: must be an object")
            continue
        problems.extend(
            f"{here}.Branches[{i}].{key}: unknown field"
            for key in branch
            if key not in ("StartAt", "States", "Comment")
        )
        _machine(branch, f"{here}.Branches[{i}].", problems, names)


def _map(
    state: dict[str, Any], here: str, _siblings: set[str], problems: list[str], names: Counter[str]
) -> None:
    if ("ItemProcessor" in state) == ("Iterator" in state):
        problems.append(f"{here}: needs exactly one of ItemProcessor or Iterator")
    if "ItemSelector" in state and "Parameters" in state:
        problems.append(f"{here}: use ItemSelector or Parameters (legacy), not both")
    if "MaxConcurrency" in state and "MaxConcurrencyPath" in state:
        problems.append(f"{here}: use MaxConcurrency or MaxConcurrencyPath, not both")
    _positive_int(state, "MaxConcurrency", f"{here}.MaxConcurrency", problems, minimum=0)
    if "MaxConcurrencyPath" in state:
        _check_path(state["MaxConcurrencyPath"], f"{here}.MaxConcurrencyPath", problems)
    key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    processor = state.get(key)
    if not isinstance(processor, dict):
        if key in state:
            problems.append(f"{here}.{key}: must be an object")
        return
    for field in processor:
        if field not in ("StartAt", "States", "Comment", "ProcessorConfig"):
            problems.append(f"{here}.{key}.{field}: unknown field")
    config = processor.get("ProcessorConfig") or {}
    if not isinstance(config, dict) or config.get("Mode", "INLINE") not in ("INLINE", "DISTRIBUTED"):
        problems.append(f"{here}.{key}.ProcessorConfig.Mode: INLINE or DISTRIBUTED")
    elif config.get("Mode") == "DISTRIBUTED":
        _distributed(state, config, here, problems)
    _machine(processor, f"{here}.{key}.", problems, names)


def is_distributed(state: dict[str, Any]) -> bool:
    """True for a Map whose iterations run as child executions (ProcessorConfig.Mode DISTRIBUTED)."""
    processor = state.get("ItemProcessor")
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    return isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"


def _item_batcher(batcher: Any, here: str, problems: list[str]) -> None:
    if not isinstance(batcher, dict):
        problems.append(f"{here}: must be an object")
        return
    for field in batcher:
        if field not in _BATCHER:
            problems.append(f"{here}.{field}: unknown field")
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        _positive_int(batcher, field, f"{here}.{field}", problems)
        if field in batcher and f"{field}Path" in batcher:
            problems.append(f"{here}: {field} and {field}Path exclude each other")
    if not any(field in batcher for field in _BATCHER - {"BatchInput"}):
        problems.append(f"{here}: needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path)")


def _distributed(state: dict[str, Any], config: dict[str, Any], here: str, problems: list[str]) -> None:
    if config.get("ExecutionType", "STANDARD") not in ("STANDARD", "EXPRESS"):
        problems.append(f"{here}.ItemProcessor.ProcessorConfig.ExecutionType: STANDARD or EXPRESS")
    reader = state.get("ItemReader")
    if reader is not None:
        if not isinstance(reader, dict) or reader.get("Resource") != READ_OBJECT:
            problems.append(f"{here}.ItemReader.Resource: only {READ_OBJECT} is supported")
        elif (reader.get("ReaderConfig") or {}).get("InputType") not in READER_INPUT_TYPES:
            problems.append(
                f"{here}.ItemReader.ReaderConfig.InputType: only {' and '.join(READER_INPUT_TYPES)} are supported"
            )
    batcher = state.get("ItemBatcher")
    if batcher is not None:
        _item_batcher(batcher, f"{here}.ItemBatcher", problems)
    writer = state.get("ResultWriter")
    if writer is not None and (not isinstance(writer, dict) or writer.get("Resource") != WRITE_OBJECTS):
        problems.append(f"{here}.ResultWriter.Resource: only {WRITE_OBJECTS} is supported")
    for field in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
        _positive_int(state, field, f"{here}.{field}", problems, minimum=0)
