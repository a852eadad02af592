"""Every task lowers through one table, keyed on the kind its class declares (`Task.compiled_as`)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from stratoflow.compiler.builder import Builder, Names, Scope
from stratoflow.compiler.lowering import LOWERERS
from stratoflow.errors import CompileError
from stratoflow.flow import registry
from stratoflow.flow.task import Task


def test_every_registered_task_type_has_a_lowering() -> None:
    # Given every task type the registry knows (extension families included)
    classes = registry.task_classes()

    # When each one's kind is looked up in the compiler's table
    missing = [cls.type_name for cls in classes if cls.compiled_as not in LOWERERS]

    # Then none is missing
    assert classes and missing == []


class _Unlowerable(Task):
    type_name: ClassVar[str] = "tests.Unlowerable"
    compiled_as: ClassVar[str] = "no-such-kind"


def test_a_task_whose_kind_has_no_lowering_is_a_compile_error_naming_it() -> None:
    # Given a builder with the compiler's table and a task of a kind it does not know
    builder = Builder(Names(), [], lowerers=LOWERERS)
    task = _Unlowerable(id="odd", type="tests.Unlowerable")

    # When it is lowered, Then the error names the task and its type
    with pytest.raises(CompileError, match=r"task 'odd': no lowering for task type tests\.Unlowerable"):
        builder.lower_task(task, Scope(), None)
