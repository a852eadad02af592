"""docs/tasks.md is generated from the registry and kept up to date."""

from __future__ import annotations

from pathlib import Path

from stratoflow.flow import registry
from stratoflow.tasks.reference import markdown, task_section

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "tasks.md"


def test_docs_tasks_md_is_up_to_date() -> None:
    assert DOCS.read_text() == markdown(), (
        "docs/tasks.md is out of date: python -m stratoflow.tasks.reference > docs/tasks.md"
    )


def test_every_registered_task_type_has_a_section() -> None:
    text = markdown()

    for name in registry.names():
        assert f"## `{name}`" in text


def test_a_section_lists_aliases_properties_with_defaults_and_outputs() -> None:
    section = task_section(registry.resolve("http.Download"))  # type: ignore[arg-type]

    assert "Aliases: `io.kestra.plugin.core.http.Download`" in section
    assert "| `uri` | string | **required** |" in section
    assert "| `failOnEmptyResponse` | boolean | `true` |" in section
    assert "| `method` | `GET` \\| `POST`" in section
    assert "| `length` | size of the file in bytes |" in section
    assert "| `id` |" not in section  # the common properties are listed once, at the top


def test_readme_task_table_is_up_to_date() -> None:
    from stratoflow.tasks.reference import with_readme_table

    readme = (ROOT / "README.md").read_text()
    assert with_readme_table(readme) == readme, (
        "README's task table is stale: run `python -m stratoflow.tasks.reference --readme`"
    )
