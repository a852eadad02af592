import base64
import hashlib
import re
from typing import Any

import pytest

from stratoflow.engine.intrinsics import IntrinsicError, IntrinsicSyntaxError, compile_intrinsic

DATA: dict[str, Any] = {
    "name": "Ann",
    "n": 5,
    "f": 1.5,
    "list": [1, 3, 5],
    "obj": {"a": 1, "b": [1, 2]},
    "other": {"b": 9, "c": 3},
    "json": '{"k": [1, 2]}',
    "dups": [1, 1.0, True, "a", "a", {"x": 1}, {"x": 1}],
    "csv": "a,b;;c",
}
CONTEXT = {"Execution": {"Name": "run-7"}}


def evaluate(call: str) -> Any:
    return compile_intrinsic(call)(DATA, lambda: CONTEXT)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("States.Format('Hello {} n={} f={}', $.name, $.n, $.f)", "Hello Ann n=5 f=1.5"),
        ("States.Format('{} {} {}', true, null, $.list)", "true null [1, 3, 5]"),
        ("States.Format('{}', $.obj)", "{a=1, b=[1, 2]}"),
        ("States.Format('it\\'s \\{\\} {} \\\\', $.name)", "it's {} Ann \\"),
        ("States.Format('{}', $$.Execution.Name)", "run-7"),
        ("States.StringToJson($.json)", {"k": [1, 2]}),
        ("States.JsonToString($.obj)", '{"a":1,"b":[1,2]}'),
        ("States.Array(1, 'two', $.n, States.Array(true, null), -2.5)", [1, "two", 5, [True, None], -2.5]),
        ("States.Array()", []),
        ("States.ArrayPartition($.list, 2)", [[1, 3], [5]]),
        ("States.ArrayContains($.list, 3)", True),
        ("States.ArrayContains($.list, 4)", False),
        ("States.ArrayContains(States.Array(1), 1.0)", True),
        ("States.ArrayContains(States.Array(1), true)", False),
        ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
        ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
        ("States.ArrayGetItem($.list, 1)", 3),
        ("States.ArrayLength($.list)", 3),
        ("States.ArrayUnique($.dups)", [1, True, "a", {"x": 1}]),
        ("States.Base64Encode($.name)", "QW5u"),
        ("States.Base64Decode('aMOpbGxv')", "héllo"),
        ("States.Hash($.name, 'SHA-256')", hashlib.sha256(b"Ann").hexdigest()),
        ("States.Hash($.name, 'MD5')", hashlib.md5(b"Ann").hexdigest()),
        ("States.JsonMerge($.obj, $.other, false)", {"a": 1, "b": 9, "c": 3}),
        ("States.MathAdd($.n, -3)", 2),
        ("States.MathAdd(1.5, 1)", 3),
        ("States.MathAdd(-1.5, 0)", -1),
        ("States.StringSplit($.csv, ',;')", ["a", "b", "c"]),
        ("States.MathRandom(5, 5)", 5),
        ("States.MathRandom(1, 100, 42)", compile_intrinsic("States.MathRandom(1, 100, 42)")({}, None)),
    ],
)
def test_intrinsic_functions(call: str, expected: Any) -> None:
    assert evaluate(call) == expected


def test_uuid_is_a_fresh_version_4_uuid() -> None:
    first, second = evaluate("States.UUID()"), evaluate("States.UUID()")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


def test_math_random_stays_in_range() -> None:
    values = {evaluate("States.MathRandom(1, 3)") for _ in range(200)}
    assert values <= {1, 2, 3}


def test_base64_round_trip() -> None:
    encoded = evaluate("States.Base64Encode('plain text')")
    assert base64.b64decode(encoded) == b"plain text"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("States.ArrayGetItem($.list, 5)", "out of bounds"),
        ("States.ArrayLength($.name)", "expected an array"),
        ("States.ArrayPartition($.list, 0)", "positive"),
        ("States.ArrayRange(1, 2000, 1)", "more than 1000"),
        ("States.ArrayRange(1, 5, 0)", "must not be 0"),
        ("States.StringToJson('{nope')", "not valid JSON"),
        ("States.JsonMerge($.obj, $.other, true)", "shallow merge"),
        ("States.JsonMerge($.obj, $.list, false)", "JSON objects"),
        ("States.Hash($.name, 'SHA-999')", "unknown hash"),
        ("States.Base64Decode('%%%')", "base64"),
        ("States.MathAdd('1', 2)", "expected an integer"),
        ("States.MathRandom(5, 1)", "greater than"),
        ("States.Format('{} {}', $.name)", "more {}"),
        ("States.Format('{}', $.name, $.n)", "more arguments"),
        ("States.Format($.n)", "string template"),
        ("States.Array($.missing)", "does not resolve"),
    ],
)
def test_intrinsic_errors(call: str, message: str) -> None:
    with pytest.raises(IntrinsicError, match=re.escape(message)):
        evaluate(call)


@pytest.mark.parametrize(
    "call",
    [
        "States.Nope()",
        "States.UUID(1)",
        "States.ArrayLength()",
        "States.Format()",
        "States.Array(1,",
        "States.Array('open)",
        "States.Array(1) trailing",
        "States.Array(@)",
        "States.Array($.a[)",
    ],
)
def test_intrinsic_syntax_errors(call: str) -> None:
    with pytest.raises(IntrinsicSyntaxError):
        compile_intrinsic(call)


def test_path_arguments_may_hold_brackets_commas_and_filters() -> None:
    assert compile_intrinsic("States.Array($['a,b'], $.l[?(@ > 1)])")({"a,b": 1, "l": [1, 2, 3]}, None) == [
        1,
        [2, 3],
    ]
