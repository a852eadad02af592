"""The sandboxed Jinja environment: strict but chainable undefined values, Pebble-style attribute
lookup (a map's keys before its methods), whitelisted methods on builtin types, and size budgets on
every operation that can build a large value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Macro, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, modifies_known_mutable

from stratoflow.expressions.compiler import SandboxCodeGenerator
from stratoflow.expressions.errors import ExpressionEvaluationError, ExpressionSecurityError
from stratoflow.expressions.runtime import (
    CURRENT,
    MACRO_CALL_COST,
    MAX_INT_BITS,
    charge,
    check_items,
    check_size,
    split_cost,
)
from stratoflow.expressions.values import MapEntry, to_text

MAX_ITEMS = 1_000_000

_STRING_METHODS = frozenset(
    {
        "upper", "lower", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith",
        "endswith", "find", "rfind", "index", "rindex", "count", "title", "capitalize", "casefold",
        "swapcase", "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric",
        "isdecimal", "partition", "rpartition", "removeprefix", "removesuffix",
    }
)  # fmt: skip
_SEQUENCE_METHODS = frozenset({"index", "count"})
_MAPPING_METHODS = frozenset({"keys", "values", "items", "get"})
_NO_METHODS = (int, float, bytes, bytearray, set, frozenset)


class PathUndefined(StrictUndefined):
    """A missing value: reading further from it gives itself (so `a.b.c ?? x` works and the first
    missing name is the one reported); any other use raises an error naming it."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def _missing(obj: Any, base: str | None, key: Any, as_attribute: bool) -> str:
    """The message for `base.key` / `base[key]` not existing in `obj`."""
    step = f".{key}" if as_attribute and isinstance(key, str) else f"[{key!r}]"
    if base is not None and isinstance(obj, (Mapping, Sequence)) and not isinstance(obj, str):
        return f"'{base}{step}' is undefined"
    noun = "attribute" if as_attribute else "item"
    if obj is None:
        return f"'{base}' is null, so it has no {noun} {key!r}" if base else f"null has no {noun} {key!r}"
    what = f"'{base}' ({_kind(obj)})" if base is not None else _kind(obj).capitalize()
    return f"{what} has no {noun} {key!r}"


class KestraSandbox(ImmutableSandboxedEnvironment):
    """The environment every Stratoflow template compiles in (see `environment.ENVIRONMENT`)."""

    code_generator_class = SandboxCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, MapEntry):
            return attr in MapEntry._fields
        if isinstance(obj, str):
            return attr in _STRING_METHODS
        if isinstance(obj, Mapping):
            return attr in _MAPPING_METHODS
        if isinstance(obj, (list, tuple)):
            return attr in _SEQUENCE_METHODS
        return not isinstance(obj, _NO_METHODS)

    def getattr(self, obj: Any, attribute: str, base: str | None = None) -> Any:
        """`obj.attribute`: a map's key first, then a safe attribute; `base` is obj's dotted path."""
        if isinstance(obj, Undefined):
            return obj
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (LookupError, TypeError):
                if attribute in _MAPPING_METHODS:
                    return getattr(obj, attribute)
                if attribute.startswith("__") or modifies_known_mutable(obj, attribute):
                    raise SecurityError(
                        f"access to {attribute!r} of a map is not allowed in a template"
                    ) from None
                return self.undefined(_missing(obj, base, attribute, True), obj=obj, name=attribute)
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            return self.undefined(_missing(obj, base, attribute, True), obj=obj, name=attribute)
        if not self.is_safe_attribute(obj, attribute, value):
            raise SecurityError(f"access to {attribute!r} of {_kind(obj)} is not allowed in a template")
        return value

    def getitem(self, obj: Any, argument: Any, base: str | None = None) -> Any:
        """`obj[argument]`; a string argument on a non-map falls back to `getattr`, as in Jinja."""
        if isinstance(obj, Undefined):
            return obj
        try:
            return obj[argument]
        except (LookupError, TypeError):
            if isinstance(argument, str) and argument.startswith("__"):
                raise SecurityError(f"access to {argument!r} is not allowed in a template") from None
            if isinstance(argument, str) and not isinstance(obj, (Mapping, Sequence)):
                return self.getattr(obj, argument, base)
        return self.undefined(_missing(obj, base, argument, False), obj=obj, name=argument)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        state = CURRENT.get()
        if state is not None:
            state.tick(MACRO_CALL_COST if isinstance(obj, Macro) else 1)
        if not self.is_safe_callable(obj):
            raise SecurityError(f"{obj!r} is not safely callable")
        _precheck_method(obj, args, kwargs)
        return charge(context.call(obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise ExpressionEvaluationError("'%' is the modulo of two numbers; build strings with '~'")
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
        elif operator == "+":
            _check_add(left, right)
        return self.binop_table[operator](left, right)

    def concat(self, parts: Iterable[Any]) -> str:
        """`a ~ b ~ c`: each value as it prints in text, within the string budget."""
        texts = [to_text(part) for part in parts]
        check_size(sum(map(len, texts)))
        return "".join(texts)

    @staticmethod
    def is_missing(value: Any, undefined_only: bool) -> bool:
        return isinstance(value, Undefined) or (not undefined_only and value is None)


_SPLITTING = frozenset({"split", "rsplit", "splitlines"})


def _precheck_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Charge `text.split(...)` and its kin before they build their lists (charging after would
    let one call allocate hundreds of megabytes first)."""
    text = getattr(method, "__self__", None)
    if not isinstance(text, str) or getattr(method, "__name__", "") not in _SPLITTING:
        return
    if method.__name__ == "splitlines":
        parts = text.count("\n") + text.count("\r") + 1
    else:
        separator = args[0] if args else kwargs.get("sep")
        parts = split_cost(text, separator if isinstance(separator, str) else None)
        limit = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
        if _is_int(limit) and limit >= 0:
            parts = min(parts, limit + 1)
    check_items(parts)
    check_size(len(text))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base: Any, exponent: Any) -> None:
    big = (
        _is_int(base) and _is_int(exponent) and abs(base) > 1 and exponent * base.bit_length() > MAX_INT_BITS
    )
    if big:
        raise ExpressionSecurityError(f"{base} ** {exponent} is too large a number")


def _check_repeat(left: Any, right: Any) -> None:
    sequence, times = (left, right) if _is_int(right) else (right, left)
    if isinstance(sequence, str) and _is_int(times):
        check_size(len(sequence) * max(times, 0))
    elif isinstance(sequence, (list, tuple)) and _is_int(times):
        if len(sequence) * times > MAX_ITEMS:
            raise ExpressionSecurityError(f"repeating a list would build more than {MAX_ITEMS:,} items")
    elif _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise ExpressionSecurityError("the product is too large a number")


def _check_add(left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        check_size(len(left) + len(right))
    elif (
        isinstance(left, (list, tuple))
        and isinstance(right, (list, tuple))
        and len(left) + len(right) > MAX_ITEMS
    ):
        raise ExpressionSecurityError(f"a list would have more than {MAX_ITEMS:,} items")
