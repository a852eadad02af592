"""Pebble- and Kestra-compatible filters and tests."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.expressions import ExpressionEvaluationError, UndefinedError, render_string

CONTEXT: dict[str, Any] = {
    "s": "Hello World",
    "csv": "a,b,,c,,",
    "items": [3, 1, 2],
    "words": ["b", "a", "c"],
    "people": [{"name": "bo", "age": 40}, {"name": "al", "age": 30}],
    "map": {"x": 1, "y": 2},
    "nothing": None,
    "blank": "  ",
    "number_text": "12.5",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ s | upper }}", "HELLO WORLD"),
        ("{{ s | lower }}", "hello world"),
        ("{{ '  pad  ' | trim }}", "pad"),
        ("{{ 'hello wORLD' | capitalize }}", "Hello wORLD"),
        ("{{ 'hello big wORLD' | title }}", "Hello Big WORLD"),
        ("{{ s | replace('World', 'There') }}", "Hello There"),
        ("{{ 'I like %a% and %b%' | replace({'%a%': 'tea', '%b%': 'cake'}) }}", "I like tea and cake"),
        ("{{ csv | split(',') }}", ["a", "b", "", "c"]),
        ("{{ csv | split(',', 2) }}", ["a", "b,,c,,"]),
        ("{{ csv | split(',', -1) }}", ["a", "b", "", "c", "", ""]),
        ("{{ s | startsWith('Hell') }}", True),
        ("{{ s | endsWith('x') }}", False),
        ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
        ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
        ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
        ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
        ("{{ 'abc' | substringBefore('z') }}", "abc"),
        ("{{ 'abc' | substringAfter('z') }}", ""),
        ("{{ 'abc' | substringBeforeLast('z') }}", "abc"),
        ("{{ 'abc' | substringAfterLast('z') }}", ""),
        ("{{ 'Héllo, Wörld! 2024' | slugify }}", "hello-world-2024"),
        ("{{ 'abcdefghij' | abbreviate(6) }}", "abc..."),
        ("{{ \"it's\" | escapeChar('single') }}", "it\\'s"),
        ("{{ 'say \"hi\"' | escapeChar('double') }}", 'say \\"hi\\"'),
        ("{{ \"it's\" | escapeChar('shell') }}", "it'\\''s"),
        ("{{ 'a b&c=d/é~' | urlencode }}", "a+b%26c%3Dd%2F%C3%A9%7E"),
        ("{{ 'a+b%26' | urldecode }}", "a b&"),
        ("{{ 'hello' | base64encode }}", "aGVsbG8="),
        ("{{ 'aGVsbG8=' | base64decode }}", "hello"),
        ("{{ 'abc' | sha256 }}", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("{{ 'abc' | sha1 }}", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("{{ 'abc' | md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
        ("{{ number_text | number }}", 12.5),
        ("{{ '42' | number }}", 42),
        ("{{ '42' | number('FLOAT') }}", 42.0),
        ("{{ '42.0' | number('INT') }}", 42),
        ("{{ -3 | abs }}", 3),
        ("{{ 12 | string }}", "12"),
    ],
)
def test_text_filters(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ map | keys }}", ["x", "y"]),
        ("{{ map | values }}", [1, 2]),
        ("{{ items | length }}", 3),
        ("{{ s | length }}", 11),
        ("{{ map | length }}", 2),
        ("{{ nothing | length }}", 0),
        ("{{ items | first }}", 3),
        ("{{ items | last }}", 2),
        ("{{ s | first }}", "H"),
        ("{{ [] | first }}", None),
        ("{{ items | slice(1, 3) }}", [1, 2]),
        ("{{ s | slice(0, 5) }}", "Hello"),
        ("{{ items | sort }}", [1, 2, 3]),
        ("{{ items | rsort }}", [3, 2, 1]),
        ("{{ people | sort(attribute='age') | map(attribute='name') | join(',') }}", "al,bo"),
        ("{{ items | reverse }}", [2, 1, 3]),
        ("{{ 'abc' | reverse }}", "cba"),
        ("{{ words | join }}", "bac"),
        ("{{ words | join(', ') }}", "b, a, c"),
        ("{{ [1, none, true, [2]] | join('|') }}", "1||true|[2]"),
        ("{{ nothing | default('d') }}", "d"),
        ("{{ blank | default('d') }}", "d"),
        ("{{ [] | default('d') }}", "d"),
        ("{{ 0 | default('d') }}", 0),
        ("{{ 0 | default('d', true) }}", "d"),
        ("{{ s | default('d') }}", "Hello World"),
        ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", [[1, 2], [3, 4], [5]]),
        ("{{ [1, 2, 1, {'a': 1}, {'a': 1}] | distinct }}", [1, 2, {"a": 1}]),
        ("{{ map | merge({'y': 3, 'z': 4}) }}", {"x": 1, "y": 3, "z": 4}),
        ("{{ items | merge([4]) }}", [3, 1, 2, 4]),
        ("{{ [[1, 2], 3, [4]] | flatten }}", [1, 2, 3, 4]),
        ("{{ items | sum }}", 6),
        ("{{ items | max }}", 3),
        ("{{ people | selectattr('age', 'gt', 35) | map(attribute='name') }}", ["bo"]),
    ],
)
def test_collection_filters(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ map | json }}", '{"x":1,"y":2}'),
        ("{{ map | toJson }}", '{"x":1,"y":2}'),
        ("{{ 'é' | toJson }}", '"é"'),
        ("{{ map | toJson(indent=2) }}", '{\n  "x": 1,\n  "y": 2\n}'),
        ("{{ '{\"a\": [1, 2]}' | fromJson }}", {"a": [1, 2]}),
        ('{{ (\'{"a": {"b": 3}}\' | fromJson).a.b }}', 3),
        ("{{ map | yaml }}", "x: 1\ny: 2\n"),
        ("{{ 'a: [1, 2]' | fromYaml }}", {"a": [1, 2]}),
    ],
)
def test_json_and_yaml_filters(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '{\"a\": 1}' is json }}", True),
        ("{{ '[1, 2]' is json }}", True),
        ("{{ '42' is json }}", True),
        ("{{ 'not json' is json }}", False),
        ("{{ map is json }}", False),
        ("{{ nothing is null }}", True),
        ("{{ blank is empty }}", True),
        ("{{ items is empty }}", False),
        ("{{ map is map }}", True),
        ("{{ items is iterable }}", True),
        ("{{ 3 is odd }}", True),
    ],
)
def test_tests(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'abc' | number }}", "number: 'abc' is not a number"),
        ("{{ '1.5' | number('INT') }}", "is not an integer"),
        ("{{ '1' | number('COMPLEX') }}", "unknown type"),
        ("{{ '%%%' | base64decode }}", "not valid base64"),
        ("{{ '{bad' | fromJson }}", "fromJson: invalid JSON"),
        ("{{ 'a: [' | fromYaml }}", "fromYaml: invalid YAML"),
        ("{{ 'a: &x 1\nb: *x' | fromYaml }}", "aliases are not allowed"),
        ("{{ 'x' | keys }}", "keys needs a map, got str"),
        ("{{ 5 | join }}", "join needs a list, got int"),
        ("{{ 'x' | escapeChar('perl') }}", "single, double or shell"),
        ("{{ 'x' | abs }}", "abs needs a number, got str"),
        ("{{ true | abs }}", "abs needs a number, got bool"),
        ("{{ 5 contains 1 }}", "'contains' needs a string, list or map"),
        ("{{ s | replace('x') }}", "replace needs a map"),
        ("{{ items | chunk(0) }}", "chunk size must be a positive integer"),
    ],
)
def test_filter_errors_are_clear(template: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        render_string(template, CONTEXT)


def test_filters_fail_on_undefined_input_naming_it() -> None:
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        render_string("{{ missing | slugify }}", CONTEXT)
