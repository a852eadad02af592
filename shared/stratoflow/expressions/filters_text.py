"""Pebble's and Kestra's string filters: case, trimming, replacing, splitting, substrings, encodings,
hashes and number parsing. Non-string inputs are first printed as they would be in text."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from stratoflow.expressions.errors import ExpressionEvaluationError
from stratoflow.expressions.registry import expect, template_filter
from stratoflow.expressions.runtime import check_items, check_size, split_cost
from stratoflow.expressions.values import to_text

_INTEGER = re.compile(r"[+-]?\d+")
_WORD_START = re.compile(r"(^|\s)(\S)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@template_filter("upper")
def upper(value: Any) -> str:
    return to_text(value).upper()


@template_filter("lower")
def lower(value: Any) -> str:
    return to_text(value).lower()


@template_filter("trim")
def trim(value: Any) -> str:
    return to_text(value).strip()


@template_filter("capitalize")
def capitalize(value: Any) -> str:
    """Pebble's: the first letter upper-cased, the rest unchanged."""
    text = to_text(value)
    return text[:1].upper() + text[1:]


@template_filter("title")
def title(value: Any) -> str:
    """Pebble's: the first letter of every word upper-cased, the rest unchanged."""
    return _WORD_START.sub(lambda match: match.group(1) + match.group(2).upper(), to_text(value))


@template_filter("replace")
def replace(value: Any, search: Any, replacement: Any = None) -> str:
    """`replace('a', 'b')`, or Pebble's `replace({'a': 'b', 'c': 'd'})` applied in order."""
    text = to_text(value)
    if isinstance(search, Mapping):
        pairs = list(search.items())
    elif replacement is None:
        raise ExpressionEvaluationError("replace needs a map of replacements, or a search and a replacement")
    else:
        pairs = [(search, replacement)]
    for old, new in pairs:
        old_text, new_text = to_text(old), to_text(new)
        count = text.count(old_text) if old_text else len(text) + 1
        check_size(len(text) + count * (len(new_text) - len(old_text)))
        text = text.replace(old_text, new_text)
    return text


@template_filter("split")
def split(value: Any, delimiter: Any = ",", limit: int | None = None) -> list[str]:
    """Java's `String.split` on a literal delimiter: a positive `limit` caps the number of parts;
    without one, trailing empty parts are dropped; a negative one keeps them."""
    text, separator = to_text(value), to_text(delimiter)
    parts_made = split_cost(text, separator)
    check_items(min(parts_made, limit) if limit is not None and limit > 0 else parts_made)
    check_size(len(text))
    if not separator:
        parts = list(text)
    elif limit is not None and limit > 0:
        parts = text.split(separator, limit - 1)
    else:
        parts = text.split(separator)
    if limit is None or limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


@template_filter("startsWith")
def starts_with(value: Any, prefix: Any) -> bool:
    return to_text(value).startswith(to_text(prefix))


@template_filter("endsWith")
def ends_with(value: Any, suffix: Any) -> bool:
    return to_text(value).endswith(to_text(suffix))


@template_filter("substringBefore")
def substring_before(value: Any, separator: Any) -> str:
    """The text before the first `separator`; the whole text when it does not occur."""
    text, found = to_text(value), to_text(separator)
    return text.split(found, 1)[0] if found else ""


@template_filter("substringAfter")
def substring_after(value: Any, separator: Any) -> str:
    """The text after the first `separator`; empty when it does not occur."""
    text, found = to_text(value), to_text(separator)
    if not found:
        return text
    position = text.find(found)
    return "" if position < 0 else text[position + len(found) :]


@template_filter("substringBeforeLast")
def substring_before_last(value: Any, separator: Any) -> str:
    text, found = to_text(value), to_text(separator)
    position = text.rfind(found) if found else -1
    return text if position < 0 else text[:position]


@template_filter("substringAfterLast")
def substring_after_last(value: Any, separator: Any) -> str:
    text, found = to_text(value), to_text(separator)
    position = text.rfind(found) if found else -1
    return "" if position < 0 else text[position + len(found) :]


@template_filter("slugify")
def slugify(value: Any) -> str:
    """`Hello, World!` -> `hello-world`; accents are dropped (`é` -> `e`)."""
    ascii_text = unicodedata.normalize("NFKD", to_text(value)).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


@template_filter("abbreviate")
def abbreviate(value: Any, length: int) -> str:
    text = to_text(value)
    if len(text) <= length:
        return text
    return text[: max(length - 3, 0)] + "..." if length >= 3 else text[:length]


@template_filter("escapeChar")
def escape_char(value: Any, kind: str = "single") -> str:
    """Escape quotes for embedding in a `single`- or `double`-quoted string, or a `shell` word."""
    text = to_text(value)
    if kind == "single":
        return text.replace("\\", "\\\\").replace("'", "\\'")
    if kind == "double":
        return text.replace("\\", "\\\\").replace('"', '\\"')
    if kind == "shell":
        return text.replace("'", "'\\''")
    raise ExpressionEvaluationError(f"escapeChar type must be single, double or shell, not {kind!r}")


@template_filter("urlencode")
def urlencode(value: Any) -> str:
    """Like Java's `URLEncoder` (UTF-8): spaces become `+`."""
    return quote_plus(to_text(value), safe="*").replace("~", "%7E")


@template_filter("urldecode")
def urldecode(value: Any) -> str:
    return unquote_plus(to_text(value))


@template_filter("base64encode")
def base64_encode(value: Any) -> str:
    raw = value if isinstance(value, bytes) else to_text(value).encode()
    return base64.b64encode(raw).decode("ascii")


@template_filter("base64decode")
def base64_decode(value: Any) -> str:
    try:
        return base64.b64decode(to_text(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ExpressionEvaluationError(f"base64decode: not valid base64 UTF-8 text ({error})") from None


def _digest(algorithm: str) -> Any:
    def digest(value: Any) -> str:
        raw = value if isinstance(value, bytes) else to_text(value).encode()
        return hashlib.new(algorithm, raw).hexdigest()

    digest.__name__ = algorithm
    return digest


for _algorithm in ("sha1", "sha256", "sha512", "md5"):
    template_filter(_algorithm)(_digest(_algorithm))


@template_filter("number")
def number(value: Any, kind: str | None = None) -> int | float:
    """Parse a number: an int when the text is integral, else a float; `kind` forces one
    (`INT`/`LONG`/`BIGINTEGER` or `FLOAT`/`DOUBLE`/`BIGDECIMAL`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed: int | float = value
    else:
        text = to_text(value).strip()
        try:
            parsed = int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:
            raise ExpressionEvaluationError(f"number: {text!r} is not a number") from None
    wanted = (kind or "").upper()
    if wanted in ("INT", "INTEGER", "LONG", "BIGINTEGER", "SHORT", "BYTE"):
        if isinstance(parsed, float) and not parsed.is_integer():
            raise ExpressionEvaluationError(f"number: {value!r} is not an integer")
        return int(parsed)
    if wanted in ("FLOAT", "DOUBLE", "BIGDECIMAL"):
        return float(parsed)
    if wanted:
        raise ExpressionEvaluationError(f"number: unknown type {kind!r}")
    return parsed


@template_filter("abs")
def absolute(value: Any) -> int | float:
    number: int | float = expect(value, (int, float), "a number", "abs")
    return abs(number)


@template_filter("string")
def string(value: Any) -> str:
    return to_text(value)
