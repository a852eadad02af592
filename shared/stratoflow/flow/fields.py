"""Building blocks shared by every model of the flow language: the strict base model, ISO-8601
durations, ids, labels, and errors located at a YAML key."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from stratoflow.storage_layout import PLATFORM_FOLDERS


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def _closest(name: str, options: list[str]) -> str | None:
    # Typos are short: one edit in a short word, up to three in a long name.
    allowed = 0 if len(name) <= 2 else 1 if len(name) <= 5 else 2 if len(name) <= 10 else 3
    scored = [(_distance(name.lower(), option.lower()), index) for index, option in enumerate(options)]
    best = min(scored, default=None)
    return options[best[1]] if best is not None and best[0] <= allowed else None


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelled `name`, or None when nothing is close."""
    options = list(dict.fromkeys(choices))
    match = _closest(name, options)
    if match is None and "." in name:
        # Compare last segments too, so `io.kestra.plugin.core.log.Logg` still finds its `Log`, but
        # only among names of the same package: `jdbc.postgresql.Query` is not `aws.athena.Query`.
        package, last = name.rsplit(".", 1)
        tails = {
            option.rsplit(".", 1)[-1]: option
            for option in reversed(options)
            if "." in option and _closest(package, [option.rsplit(".", 1)[0]]) is not None
        }
        tail = _closest(last, list(tails))
        match = tails[tail] if tail is not None else None
    return match


def hint(name: str, choices: Iterable[str]) -> str:
    """` (did you mean X?)` when a close choice exists, else an empty string."""
    suggestion = did_you_mean(name, [choice for choice in choices if choice != name])
    return f" (did you mean {suggestion}?)" if suggestion else ""


def located_error(
    loc: Sequence[str | int], message: str, value: object, kind: str = "invalid"
) -> ValidationError:
    """A validation error placed at `loc` relative to the value being validated.

    Raised from a validator, pydantic prefixes the location of that value, so the error lands on
    the exact YAML key (for example `tasks[0].type`) instead of on the enclosing object.
    """
    return ValidationError.from_exception_data(
        "Flow", [{"type": PydanticCustomError(kind, message), "loc": tuple(loc), "input": value}]
    )


def property_names(model: type[BaseModel], python_names: bool = True) -> list[str]:
    """Every key a model accepts: aliases and alias choices (YAML's camelCase), and python names."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        if field.alias:
            names.append(field.alias)
        if isinstance(field.validation_alias, AliasChoices):
            names.extend(c for c in field.validation_alias.choices if isinstance(c, str))
        elif isinstance(field.validation_alias, str):
            names.append(field.validation_alias)
        if python_names or not field.alias:
            names.append(name)
    return list(dict.fromkeys(names))


def _text_not_boolean(annotation: Any) -> bool:
    """True for `str`, `str | None`, `str | list[str]`...: text accepted, a boolean not."""
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return str in options and bool not in options and Any not in options


class StrictModel(BaseModel):
    """Base of every flow-language model: unknown keys are errors, YAML keys are camelCase."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        # Numbers are fine where text is expected (`message: 42`), as in Kestra's YAML reader.
        coerce_numbers_to_str=True,
        # Schemas are built on first use: importing the model stays cheap for the CLI.
        defer_build=True,
        field_title_generator=lambda name, _: name.rstrip("_").replace("_", " ").capitalize(),
    )

    @model_validator(mode="before")
    @classmethod
    def _booleans_as_text(cls, data: Any) -> Any:
        """`format: true` where text is expected is the text "true", as Kestra's reader (Jackson)
        gives it; a property that also takes a boolean keeps it."""
        if not isinstance(data, dict):
            return data
        converted = None
        for name, info in cls.model_fields.items():
            key = next((k for k in (info.alias, name) if k and k in data), None)
            if key is None or not isinstance(data[key], bool) or not _text_not_boolean(info.annotation):
                continue
            converted = converted if converted is not None else dict(data)
            converted[key] = "true" if data[key] else "false"
        return converted if converted is not None else data

    @model_validator(mode="wrap")
    @classmethod
    def _name_unknown_properties(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Turn pydantic's "Extra inputs are not permitted" into `unknown property 'x' (did you mean y?)`."""
        try:
            return handler(data)
        except ValidationError as err:
            errors = err.errors(include_url=False)
            if not any(e["type"] == "extra_forbidden" and len(e["loc"]) == 1 for e in errors):
                raise
            details: list[Any] = []
            for e in errors:
                if e["type"] == "extra_forbidden" and len(e["loc"]) == 1:
                    key = str(e["loc"][0])
                    message = f"unknown property '{key}'{hint(key, property_names(cls, python_names=False))}"
                    details.append(
                        {
                            "type": PydanticCustomError("unknown_property", message),
                            "loc": e["loc"],
                            "input": e["input"],
                        }
                    )
                else:
                    details.append(
                        {
                            "type": PydanticCustomError(e["type"], e["msg"]),
                            "loc": e["loc"],
                            "input": e["input"],
                        }
                    )
            raise ValidationError.from_exception_data(err.title, details) from None


# --- ISO-8601 durations -------------------------------------------------------------------------

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION_RE = re.compile(
    rf"([-+])?P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?",
    re.IGNORECASE,
)
_CALENDAR_RE = re.compile(r"[-+]?P(\d+Y|\d+M)", re.IGNORECASE)


def parse_iso_duration(text: str) -> timedelta:
    """`PT1H30M`, `P2D`, `PT0.5S`, `P1W` -> timedelta. Raises ValueError naming the expected form."""
    value = text.strip()
    match = _DURATION_RE.fullmatch(value)
    if not match or not any(match.groups()[1:]) or value.upper().endswith("T"):
        if _CALENDAR_RE.match(value):
            raise ValueError(f"'{text}' uses years or months, which have no fixed length; use days (P30D)")
        raise ValueError(f"'{text}' is not an ISO-8601 duration (for example PT30S, PT5M, PT1H30M, P1D)")
    sign, weeks, days, hours, minutes, seconds = match.groups()

    def number(part: str | None) -> float:
        return float(part.replace(",", ".")) if part else 0.0

    delta = timedelta(
        weeks=number(weeks),
        days=number(days),
        hours=number(hours),
        minutes=number(minutes),
        seconds=number(seconds),
    )
    return -delta if sign == "-" else delta


def format_iso_duration(delta: timedelta) -> str:
    """timedelta -> ISO-8601 as Java's `Duration.toString()` writes it (`PT1H30M`, `PT48H`, `PT0.5S`)."""
    if delta < timedelta(0):
        return "-" + format_iso_duration(-delta)
    total_micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    hours, rest = divmod(total_micro, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micro = divmod(rest, 1_000_000)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if seconds or micro or out == "PT":
        out += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    return out


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        try:
            return parse_iso_duration(value)
        except ValueError as err:
            raise PydanticCustomError("duration", str(err)) from None
    raise PydanticCustomError(
        "duration", "expected an ISO-8601 duration string such as PT5M, got {kind}", {"kind": describe(value)}
    )


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT30S", "PT5M", "PT1H", "P1D"]}),
]


# --- ids -----------------------------------------------------------------------------------------

_TASK_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
_FLOW_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
_NAMESPACE_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def _id_checker(pattern: re.Pattern[str], max_length: int, rule: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise PydanticCustomError("id_kind", "expected a string, got {kind}", {"kind": describe(value)})
        if len(value) > max_length:
            raise PydanticCustomError("id_length", f"must be at most {max_length} characters")
        if not pattern.fullmatch(value):
            raise PydanticCustomError("id_pattern", f"'{value}' is not valid: it must {rule}")
        return value

    return BeforeValidator(check)


_ID_RULE = "start with a letter or digit and contain only letters, digits, '_' or '-'"
TaskId = Annotated[
    str,
    _id_checker(_TASK_ID_RE, 100, _ID_RULE),
    WithJsonSchema({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"}),
]
FlowId = Annotated[
    str,
    _id_checker(
        _FLOW_ID_RE, 100, "start with a letter or digit and contain only letters, digits, '.', '_' or '-'"
    ),
    WithJsonSchema({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$", "maxLength": 100}),
]
InputId = FlowId


def _not_a_platform_folder(value: str) -> str:
    if value in PLATFORM_FOLDERS:
        raise PydanticCustomError(
            "namespace_reserved",
            f"'{value}' is reserved: the data bucket's '{value}/' folder is the platform's",
        )
    return value


Namespace = Annotated[
    str,
    AfterValidator(_not_a_platform_folder),
    _id_checker(
        _NAMESPACE_RE,
        150,
        "start with a lowercase letter or digit and contain only lowercase letters, digits, '.', '_' or '-'",
    ),
    WithJsonSchema({"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$", "maxLength": 150}),
]


# --- labels --------------------------------------------------------------------------------------


def _label_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PydanticCustomError(
        "label", "label '{key}' must have a text value, got {kind}", {"key": key, "kind": describe(value)}
    )


# Labels under this prefix are the system's (`system.correlationId`, `system.replayOf`, ...): Kestra
# refuses them in flows, and so does Stratoflow, so that lineage cannot be forged.
SYSTEM_LABEL_PREFIX = "system."


def is_system_label(key: str) -> bool:
    return key.startswith(SYSTEM_LABEL_PREFIX)


def _refuse_system_labels(keys: list[tuple[str | int, str]]) -> None:
    located = [(where, key) for where, key in keys if is_system_label(key)]
    if located:
        raise ValidationError.from_exception_data(
            "Flow",
            [
                {
                    "type": PydanticCustomError(
                        "system_label",
                        f"label '{key}': labels starting with '{SYSTEM_LABEL_PREFIX}' are set by the "
                        "system, a flow cannot set them",
                    ),
                    "loc": (where,),
                    "input": key,
                }
                for where, key in located
            ],
        )


def normalize_labels(value: object) -> dict[str, str]:
    """Labels as Kestra accepts them: a map, or a list of `{key, value}`; values become text.
    `system.*` keys are refused, located at the key."""
    if value is None:
        return {}
    if isinstance(value, dict):
        _refuse_system_labels([(str(k), str(k)) for k in value])
        return {str(k): _label_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        _refuse_system_labels(
            [
                (i, str(item["key"]))
                for i, item in enumerate(value)
                if isinstance(item, dict) and "key" in item
            ]
        )
        labels: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or set(item) != {"key", "value"}:
                raise PydanticCustomError(
                    "label", "each label in a list must be a mapping with 'key' and 'value'"
                )
            labels[str(item["key"])] = _label_value(str(item["key"]), item["value"])
        return labels
    raise PydanticCustomError(
        "label",
        "labels must be a map or a list of {key, value} mappings, got {kind}",
        {"kind": describe(value)},
    )


LabelMap = Annotated[
    dict[str, str],
    BeforeValidator(normalize_labels),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "value": {"type": ["string", "number", "boolean"]},
                        },
                        "required": ["key", "value"],
                        "additionalProperties": False,
                    },
                },
            ]
        }
    ),
]


def describe(value: object) -> str:
    """A short, user-facing name of a YAML value's kind, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_Class = TypeVar("_Class")


class TypesImportedOnUse(Generic[_Class]):
    """A table of classes by type name that `module` fills as it is imported (each class registers
    itself), imported on the first lookup, as the task registry imports task modules: a flow that
    names none of these types never defines them. Call it for the table."""

    def __init__(self, module: str, table: dict[str, _Class]):
        self.module, self._table = module, table
        self._loaded = False

    def __call__(self) -> dict[str, _Class]:
        if not self._loaded:
            # Another thread importing it meanwhile holds the module's import lock: this waits for all of it.
            importlib.import_module(self.module)
            self._loaded = True
        return self._table

    def validate(self, value: object, base: type, noun: str) -> object:
        """`value` (a mapping with `type`) as its type's class, for a before-validator of a list of
        `base` items (an input, a trigger); an instance of `base` as it is. Errors name the `type`
        property of the item, with a hint when the name is close to a known one."""
        if isinstance(value, base):
            return value
        if not isinstance(value, dict):
            article = "an" if noun[0] in "aeiou" else "a"
            raise PydanticCustomError(
                noun,
                f"{article} {noun} must be a mapping with 'id' and 'type', got {{kind}}",
                {"kind": describe(value)},
            )
        name = value.get("type")
        if name is None:
            raise located_error(("type",), "missing required property 'type'", value, "missing")
        table = self()
        cls: Any = table.get(name) if isinstance(name, str) else None
        if cls is None:
            shown = name if isinstance(name, str) else describe(name)
            message = f"unknown {noun} type '{shown}'{hint(str(name), table)}"
            raise located_error(("type",), message, name, f"unknown_{noun}")
        return cls.model_validate({**value, "type": cls.type_name})
