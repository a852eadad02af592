"""The persistent cache of compiled templates: a later process loads what an earlier one compiled,
keyed by the source (and what the code generator depends on), without weakening the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.expressions import (
    ExpressionSecurityError,
    UndefinedError,
    referenced_outputs,
    render_string,
    syntax_errors,
    template_cache,
)
from stratoflow.expressions import environment as environment_module
from stratoflow.expressions.environment import compile_template
from stratoflow.expressions.template_cache import TemplateCache, persistent_templates

CONTEXT: dict[str, Any] = {"inputs": {"name": "World"}, "outputs": {"a": {"value": 41}}}
GENERATE = environment_module.generate  # the real code generator, before a test forbids it


def new_process() -> None:
    """What a new process starts with: no template compiled in memory."""
    compile_template.cache_clear()


def refuse(source: str) -> Any:
    raise AssertionError(f"compiled again instead of loaded: {source!r}")


@pytest.fixture
def no_code_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a template is generated instead of loaded from the cache."""
    monkeypatch.setattr(environment_module, "generate", refuse)


@pytest.fixture(autouse=True)
def clean_memory_cache() -> Iterator[None]:
    new_process()
    yield
    new_process()


def test_a_later_process_loads_compiled_templates_instead_of_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first process that rendered two templates with the cache on
    templates = ["{{ outputs.a.value + 1 }}", "Hello {{ inputs.name }}!"]
    with persistent_templates(tmp_path):
        first = [render_string(template, CONTEXT) for template in templates]
    assert len(list(tmp_path.glob("*.tpl"))) == 2

    # When a new process renders them again, forbidden to generate code
    new_process()
    monkeypatch.setattr(environment_module, "generate", refuse)
    with persistent_templates(tmp_path):
        again = [render_string(template, CONTEXT) for template in templates]

    # Then the results are the same: a native value and a text
    assert first == again == [42, "Hello World!"]


def test_validation_facts_come_back_from_the_cache(tmp_path: Path, no_code_generation: None) -> None:
    # Given templates compiled by an earlier process (written by hand here: code generation is off)
    with persistent_templates(tmp_path) as cache:
        for source in ("{{ nowz() }}\n{{ outputs.extract.value }}", "{{ outputs['load'].rows }}"):
            cache.store(GENERATE(source))

        # When validation checks them
        errors = syntax_errors("{{ nowz() }}\n{{ outputs.extract.value }}")
        references = referenced_outputs("{{ outputs['load'].rows }}")

    # Then the unknown function keeps its line and the outputs read are known
    assert [(error.message, error.lineno) for error in errors] == [("unknown function 'nowz'", 1)]
    assert references == {"load"}


def test_the_sandbox_still_guards_a_template_loaded_from_the_cache(tmp_path: Path) -> None:
    # Given a template that walks to Python internals, compiled and kept by an earlier process
    template = "{{ inputs.__class__ }}"
    with persistent_templates(tmp_path), pytest.raises(ExpressionSecurityError):
        render_string(template, CONTEXT)
    new_process()

    # When a later process loads it from the cache, Then the sandbox refuses it at run time
    with persistent_templates(tmp_path), pytest.raises(ExpressionSecurityError):
        render_string(template, CONTEXT)


def test_a_changed_source_or_code_generator_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one template in the cache
    cache = TemplateCache(tmp_path)
    cache.store(GENERATE("{{ 1 + 1 }}"))

    # Then a different source misses, and so does the same source once the generator changed
    assert cache.load("{{ 1 + 1 }}") is not None
    assert cache.load("{{ 1 + 2 }}") is None
    monkeypatch.setattr(template_cache, "fingerprint", lambda: b"another expression compiler")
    assert cache.load("{{ 1 + 1 }}") is None


def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path: Path) -> None:
    # Given a cached template whose file was truncated
    template = "{{ inputs.name | upper }}"
    with persistent_templates(tmp_path):
        render_string(template, CONTEXT)
    (entry,) = tmp_path.glob("*.tpl")
    entry.write_bytes(entry.read_bytes()[:10])
    new_process()

    # When a later process renders it
    with persistent_templates(tmp_path) as cache:
        value = render_string(template, CONTEXT)

        # Then it compiles it again and repairs the entry
        assert value == "WORLD"
        assert cache.load(template) is not None


def test_a_cache_folder_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    # Given a cache "folder" that is a file
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")

    # When a template is rendered through it, Then it renders and nothing is left behind
    with persistent_templates(blocked / "templates"):
        assert render_string("{{ inputs.name }}", CONTEXT) == "World"
    assert list(tmp_path.iterdir()) == [blocked]


def test_the_cache_is_off_outside_the_block(tmp_path: Path) -> None:
    with persistent_templates(tmp_path):
        assert template_cache.active() is not None
    assert template_cache.active() is None
    render_string("{{ inputs.name }} outside", CONTEXT)
    assert list(tmp_path.glob("*.tpl")) == []


def test_errors_still_name_the_template_line_after_a_cache_hit(tmp_path: Path) -> None:
    # Given a multi-line template kept by an earlier process
    template = "a\nb {{ inputs.name }}\n{{ missing.z }}"
    with persistent_templates(tmp_path), pytest.raises(UndefinedError, match="line 3"):
        render_string(template, CONTEXT)
    new_process()

    # When a later process renders it from the cache, Then the error points at the same line
    with (
        persistent_templates(tmp_path),
        pytest.raises(UndefinedError, match=r"'missing' is undefined \(line 3\)"),
    ):
        render_string(template, CONTEXT)
