"""The Payload of a Task state that calls the task runner: a template of the action's call model.

Keys are the ASL's: `name` holds a static value, checked here against the model
(`stratoflow.runner_call`); `name.$` holds a JSONPath the state machine resolves, so its value is
checked when the runner parses the resolved call. A misspelled field, a missing callback token or a
static value of the wrong type is a compile-time error, not a failure when the flow runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import JsonValue, TypeAdapter, ValidationError

from stratoflow.runner_call import CALLS, PATH_SUFFIX, CallBase, InvalidRunnerCall


def payload_template(fields: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The Payload `fields` make, checked against the call model of their `action` (order kept).

    Every required field of the call must be given, as a static value or as a path.
    """
    action = fields.get("action")
    model = CALLS.get(action) if isinstance(action, str) else None
    if model is None:
        raise InvalidRunnerCall(f"runner call template: action {action!r} is not one of {', '.join(CALLS)}")
    names = {info.alias or name: name for name, info in model.model_fields.items()}
    given: set[str] = set()
    for key, value in fields.items():
        alias = key.removesuffix(PATH_SUFFIX)
        where = f"runner call template ({action})"
        if alias not in names:
            raise InvalidRunnerCall(f"{where}: no field '{alias}' in {model.__name__}")
        if alias in given:
            raise InvalidRunnerCall(f"{where}: '{alias}' is given twice")
        given.add(alias)
        if key.endswith(PATH_SUFFIX):
            if not (isinstance(value, str) and value.startswith("$")):
                raise InvalidRunnerCall(f"{where}: '{key}' must hold a JSONPath")
            continue
        try:
            _field_type(model, names[alias]).validate_python(value)
        except ValidationError as error:
            messages = "; ".join(problem["msg"] for problem in error.errors(include_url=False))
            raise InvalidRunnerCall(f"{where}: {alias}: {messages}") from None
    required = [alias for alias, name in names.items() if model.model_fields[name].is_required()]
    missing = [alias for alias in required if alias not in given]
    if missing:
        raise InvalidRunnerCall(f"runner call template ({action}): missing {', '.join(missing)}")
    return dict(fields)


@cache
def _field_type(model: type[CallBase], name: str) -> TypeAdapter[Any]:
    """One field's type with its constraints (`ge=0`), to check a static value alone."""
    info = model.model_fields[name]
    annotation: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(annotation)
