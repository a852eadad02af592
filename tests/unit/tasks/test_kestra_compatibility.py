"""docs/kestra-compatibility.md is generated from the registry and cannot drift from it."""

from __future__ import annotations

from pathlib import Path

from stratoflow.flow import registry
from stratoflow.tasks.compatibility import NOT_SUPPORTED, markdown

PAGE = Path(__file__).resolve().parents[3] / "docs" / "kestra-compatibility.md"


def test_the_checked_in_page_is_what_the_generator_produces() -> None:
    # Given / When / Then
    assert PAGE.read_text() == markdown(), (
        "docs/kestra-compatibility.md is out of date: python -m stratoflow.tasks.compatibility > docs/kestra-compatibility.md"
    )


def test_every_registered_kestra_name_is_on_the_page_with_its_status() -> None:
    # Given
    page = markdown()

    # When
    kestra_names = [name for name in registry.all_names() if name.startswith("io.kestra.")]

    # Then
    assert kestra_names and all(f"`{name}`" in page for name in kestra_names)
    row = next(line for line in page.splitlines() if "`io.kestra.plugin.git.Clone`" in line)
    assert "| partly |" in row and "privateKey" in row
    row = next(line for line in page.splitlines() if "`io.kestra.plugin.core.storage.Write`" in line)
    assert "| supported |" in row


def test_a_type_listed_as_not_supported_is_not_registered() -> None:
    # Given / When / Then: supporting one of them means moving it off the list
    registered = [name for name in NOT_SUPPORTED if registry.resolve(name) is not None]
    assert registered == []
