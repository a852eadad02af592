"""The core's public functions name their types: no `Any` in a parameter or a return of the seams.

`mypy --strict` checks the leaves and not the joints when a joint says `store: Any`. Core modules are
execution/, store/base.py, compiler/, flow/ and triggers/; a public function is a top-level `def`
without a leading underscore, or such a method (or `__init__`/`__call__`: the constructor is where a
store is injected) of a top-level class without one. Where a value is honestly any JSON, name it:
`JsonValue` says what it is, `Any` says nothing; where it is anything at all (what a task returns,
raw YAML), `object` makes the reader narrow it. There is no allow-list: the only `Any` left is the
raw input of a pydantic before-validator, which is whatever the caller passed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.unit.architecture.imports import PACKAGE, ROOT

CORE = ["execution", "store/base.py", "compiler", "flow", "triggers"]
PUBLIC_DUNDERS = {"__init__", "__call__"}
# pydantic hands a before-validator the raw input, whatever it is: `Any` is the honest type there.
RAW_INPUT_DECORATORS = {"field_validator", "model_validator", "validator", "root_validator"}


@dataclass(frozen=True)
class Loose:
    """A parameter or return of a public core function annotated with `Any`."""

    path: str
    line: int
    function: str
    slot: str  # a parameter name, or "return"
    annotation: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.function}({self.slot}: {self.annotation})"


def core_files() -> list[str]:
    found: list[str] = []
    for part in CORE:
        target = PACKAGE / part
        paths = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
        found += [str(path.relative_to(ROOT)) for path in paths]
    return found


def _mentions_any(annotation: ast.expr) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _mentions_any(ast.parse(annotation.value, mode="eval").body)  # a quoted annotation
    for node in ast.walk(annotation):
        if (isinstance(node, ast.Name) and node.id == "Any") or (
            isinstance(node, ast.Attribute) and node.attr == "Any"
        ):
            return True
        quoted = isinstance(node, ast.Constant) and isinstance(node.value, str) and node is not annotation
        if quoted and _mentions_any(node):  # e.g. list["Any"]
            return True
    return False


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name in PUBLIC_DUNDERS


def _takes_raw_input(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in RAW_INPUT_DECORATORS:
            return True
    return False


def public_functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_public(member.name):
                    yield f"{node.name}.{member.name}", member


def loose_annotations(path: str) -> Iterator[Loose]:
    return loose_in(ast.parse((ROOT / path).read_text(), path), path)


def loose_in(tree: ast.Module, path: str) -> Iterator[Loose]:
    for name, function in public_functions(tree):
        if _takes_raw_input(function):
            continue
        args = function.args
        slots = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        slots += [arg for arg in (args.vararg, args.kwarg) if arg is not None]
        for arg in slots:
            if arg.annotation is not None and _mentions_any(arg.annotation):
                yield Loose(path, function.lineno, name, arg.arg, ast.unparse(arg.annotation))
        if function.returns is not None and _mentions_any(function.returns):
            yield Loose(path, function.lineno, name, "return", ast.unparse(function.returns))


@pytest.mark.parametrize("path", core_files())
def test_public_core_signatures_name_their_types(path: str) -> None:
    # Given the public functions of a core module
    # When their annotations are read
    loose = [str(found) for found in loose_annotations(path)]
    # Then none says `Any`: a value that can be anything the user wrote is `object`, narrowed where
    # it is used
    assert loose == [], (
        "`Any` in public signatures (use ExecutionStore, Flow, JsonValue, ...):\n" + "\n".join(loose)
    )


def test_the_check_sees_any_in_every_position() -> None:
    # Given a module with Any in a parameter, nested in a generic, in a string and in a return
    source = (
        "from typing import Any\n"
        "import typing\n"
        "def run(store: Any, values: dict[str, Any], flow: 'Any | None' = None) -> typing.Any: ...\n"
        "def _private(store: Any) -> None: ...\n"
        "class Runner:\n"
        "    def __init__(self, store: Any, *args: Any, **kwargs: object) -> None: ...\n"
        "    def _helper(self, store: Any) -> None: ...\n"
        "    @field_validator('x', mode='before')\n"
        "    def raw(cls, value: Any) -> Any: ...\n"
    )
    # When its public functions are read
    found = [(loose.function, loose.slot) for loose in loose_in(ast.parse(source), "example.py")]
    # Then each Any of the public ones is found; the private ones and the validator's input are not
    assert found == [
        ("run", "store"),
        ("run", "values"),
        ("run", "flow"),
        ("run", "return"),
        ("Runner.__init__", "store"),
        ("Runner.__init__", "args"),
    ]
