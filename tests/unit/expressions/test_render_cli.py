"""`strato render`, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli


def _context_file(tmp_path: Path) -> Path:
    path = tmp_path / "context.json"
    path.write_text(json.dumps({"inputs": {"name": "ada", "items": [1, 2]}}))
    return path


def test_renders_text(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["render", "Hello {{ inputs.name | upper }}", "--context", str(_context_file(tmp_path))]
    )
    assert result.exit_code == 0
    assert result.output == "Hello ADA\n"


def test_prints_non_strings_as_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["render", "{{ {'items': inputs.items, 'ok': true} }}", "--context", str(_context_file(tmp_path))],
    )
    assert result.exit_code == 0
    assert json.loads(result.output) == {"items": [1, 2], "ok": True}


def test_reads_the_template_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["render", "-"], input="{{ range(1, 3) | join('-') }}")
    assert result.exit_code == 0
    assert result.output == "1-2-3\n"


def test_an_expression_error_exits_1_with_the_message_and_no_traceback() -> None:
    result = CliRunner().invoke(cli, ["render", "{{ outputs.extract.value }}"])
    assert result.exit_code == 1
    assert result.output == "Error: 'outputs' is undefined\n"
    assert "Traceback" not in result.output


def test_a_syntax_error_exits_1() -> None:
    result = CliRunner().invoke(cli, ["render", "{{ 1 + }}"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")


def test_a_context_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    result = CliRunner().invoke(cli, ["render", "{{ 1 }}", "--context", str(path)])
    assert result.exit_code == 1
    assert "must hold a JSON object" in result.output


def test_an_invalid_context_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    result = CliRunner().invoke(cli, ["render", "{{ 1 }}", "--context", str(path)])
    assert result.exit_code == 1
    assert "cannot read the context" in result.output
