"""The task registry: names, aliases, suggestions, and task types registered after the model exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stratoflow.flow import RunnableTask, load_flow, registry
from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.core import Log
from stratoflow.tasks.http import Request
from stratoflow.tasks.kv import Set
from stratoflow.tasks.native import Subflow

CORE = [
    "AllowFailure", "Dag", "EachParallel", "EachSequential", "Echo", "Exit", "Fail", "ForEach", "If", "Labels",
    "Log", "OutputValues", "Parallel", "Pause", "Return", "Sequential", "Sleep", "Subflow", "Switch", "WaitFor",
    "http.Request", "kv.Delete", "kv.Get", "kv.Set",
]  # fmt: skip


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Undo registrations made by a test."""
    by_name, canonical = dict(registry._by_name), dict(registry._canonical)
    yield
    registry._by_name.clear()
    registry._by_name.update(by_name)
    registry._canonical.clear()
    registry._canonical.update(canonical)


def test_every_core_type_is_registered() -> None:
    assert set(CORE) <= set(registry.names())


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("Log", Log),
        ("io.kestra.plugin.core.log.Log", Log),
        ("io.kestra.core.tasks.log.Log", Log),
        ("kv.Set", Set),
        ("io.kestra.plugin.core.kv.Set", Set),
        ("http.Request", Request),
        ("io.kestra.plugin.core.http.Request", Request),
        ("io.kestra.plugin.fs.http.Request", Request),
        ("io.kestra.core.tasks.flows.Flow", Subflow),
        ("io.kestra.plugin.core.flow.Subflow", Subflow),
    ],
)
def test_resolve_by_canonical_name_or_alias(name: str, cls: type) -> None:
    assert registry.resolve(name) is cls
    assert registry.canonical_name(name) == cls.type_name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("LoopUntil", "WaitFor"),
        ("io.kestra.plugin.core.flow.LoopUntil", "WaitFor"),
        ("io.kestra.core.tasks.debugs.Echo", "Echo"),
        ("io.kestra.core.tasks.flows.EachSequential", "EachSequential"),
        ("io.kestra.plugin.core.execution.Fail", "Fail"),
        ("io.kestra.plugin.core.output.OutputValues", "OutputValues"),
        ("io.kestra.plugin.core.flow.Sleep", "Sleep"),
    ],
)
def test_legacy_and_kestra_aliases(name: str, kind: str) -> None:
    assert registry.canonical_name(name) == kind


def test_unknown_names_resolve_to_none() -> None:
    assert registry.resolve("NoSuchTask") is None
    assert registry.canonical_name("NoSuchTask") is None


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("Logg", "Log"),
        ("log", "Log"),
        ("Paralel", "Parallel"),
        ("kv.Sett", "kv.Set"),
        ("io.kestra.plugin.core.flow.Paralel", "io.kestra.plugin.core.flow.Parallel"),
        ("zzzzzz", None),
        ("io.kestra.plugin.core.log.Logg", "io.kestra.plugin.core.log.Log"),
        # Only close names: another plugin's task of the same short name is no suggestion.
        ("io.kestra.plugin.jdbc.mysql.Query", None),
        ("jdbc.mysql.Query", None),
        ("jdbc.snowflake.Query", None),
        ("aws.athena.Querry", "aws.athena.Query"),
    ],
)
def test_suggest(typo: str, suggestion: str | None) -> None:
    assert registry.suggest(typo) == suggestion


def test_a_type_registered_later_is_picked_up_by_the_model(scratch_registry: None) -> None:
    # Given: a task family that did not exist when the Flow model was built
    @register
    class Shout(RunnableTask):
        type_name: ClassVar[str] = "test.Shout"
        aliases: ClassVar[tuple[str, ...]] = ("io.example.Shout",)
        words: str

        def run(self, ctx: RunContext) -> dict[str, Any]:
            return {"value": self.words.upper()}

    text = "id: f\nnamespace: n\ntasks:\n  - {id: s, type: io.example.Shout, words: hi}\n"

    # When
    flow = load_flow(text)

    # Then
    task = flow.tasks[0]
    assert isinstance(task, Shout) and task.type == "test.Shout" and task.words == "hi"
    assert "test.Shout" in registry.names()


def test_a_name_cannot_be_taken_by_two_classes(scratch_registry: None) -> None:
    class Impostor(RunnableTask):
        type_name: ClassVar[str] = "Log"

        def run(self, ctx: RunContext) -> dict[str, Any]:
            return {}

    with pytest.raises(ValueError, match="already registered"):
        register(Impostor)


def test_missing_extension_families_are_skipped_but_broken_ones_surface(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given: a family module whose own import needs a module that is not installed
    (tmp_path / "broken_family_for_test.py").write_text("import no_such_dependency_for_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_loaded", set())

    # Then: an absent family is ignored...
    registry._load(("stratoflow.tasks.not_installed_family",))
    # ...but a broken one surfaces
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_for_test"):
        registry._load(("broken_family_for_test",))
