"""`strato schedule preview` and `strato backfill` as a user runs them, on the example flow."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "triggers" / "schedule.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_example_flow_is_valid() -> None:
    code, _, err = invoke("validate", str(EXAMPLE))
    assert code == 0, err


def test_preview_json_marks_the_skipped_and_the_repeated_local_times() -> None:
    # When previewing the Paris trigger over both DST nights of 2026
    code, out, _ = invoke(
        "schedule",
        "preview",
        str(EXAMPLE),
        "--trigger",
        "nightly",
        "--from",
        "2026-03-28",
        "-n",
        "2",
        "--json",
    )
    assert code == 0
    fall = json.loads(
        invoke(
            "schedule",
            "preview",
            str(EXAMPLE),
            "--trigger",
            "nightly",
            "--from",
            "2026-10-25",
            "-n",
            "1",
            "--json",
        )[1]
    )

    # Then the skipped 29 March is listed but not counted, and 25 October runs once, marked
    (trigger,) = json.loads(out)["triggers"]
    assert trigger["schedulerExpressions"] == ["cron(30 2 * * ? *)"]
    assert trigger["fireTimes"] == [
        {"local": "2026-03-28T02:30:00+01:00", "utc": "2026-03-28T01:30:00Z", "dst": None},
        {"local": "2026-03-29T02:30:00", "utc": None, "dst": "skipped"},
        {"local": "2026-03-30T02:30:00+02:00", "utc": "2026-03-30T00:30:00Z", "dst": None},
    ]
    assert fall["triggers"][0]["fireTimes"] == [
        {"local": "2026-10-25T02:30:00+02:00", "utc": "2026-10-25T00:30:00Z", "dst": "repeated"}
    ]


def test_preview_table_lists_every_schedule_trigger() -> None:
    code, out, _ = invoke("schedule", "preview", str(EXAMPLE), "--from", "2026-03-28T00:00:00Z", "-n", "3")
    assert code == 0
    assert "trigger nightly" in out and "trigger weekdays" in out
    assert "cron(0 9 ? * MON-FRI *)" in out
    assert "2026-03-30T09:00:00-04:00" in out  # Saturday 28th: the first weekday is Monday
    assert "skipped" in out


def test_preview_refuses_an_unknown_trigger_and_a_bad_date() -> None:
    code, _, err = invoke("schedule", "preview", str(EXAMPLE), "--trigger", "nope")
    assert code == 2 and "no trigger 'nope'" in err
    code, _, err = invoke("schedule", "preview", str(EXAMPLE), "--from", "yesterday")
    assert code == 2 and "ISO 8601" in err
    code, _, err = invoke("schedule", "preview", "missing.yaml")
    assert code == 2 and "no such flow file" in err


def test_backfill_runs_each_slot_once_even_when_run_twice(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    window = (
        "--trigger",
        "nightly",
        "--from",
        "2026-03-27",
        "--to",
        "2026-03-31",
        "--home",
        home,
        "--skip-waits",
    )

    # A dry run starts nothing and creates no history
    code, out, err = invoke("backfill", str(EXAMPLE), *window, "--dry-run")
    assert code == 0, err
    assert [line.split()[1:3] for line in out.splitlines()] == [["would", "start"]] * 3
    assert not (tmp_path / "home").exists()

    # When the backfill runs
    code, out, err = invoke("backfill", str(EXAMPLE), *window)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-30T02:30:00+02:00",
    ]
    assert all(line.split()[1] == "started" and line.endswith("SUCCESS") for line in lines)
    assert "3 started, 0 already done, 0 failed" in err

    # Then running it again by NAMESPACE.FLOW_ID over a wider range starts only the new slot
    code, out, err = invoke(
        "backfill", "examples.triggers.nightly_report", *window[:3], "2026-03-26", *window[4:]
    )
    assert code == 0, err
    assert "1 started, 3 already done" in err
    assert [line.split()[1] for line in out.splitlines()] == ["started", "already", "already", "already"]

    # And each execution saw its slot as trigger.date
    code, out, _ = invoke("executions", "list", "--home", home, "--json")
    executions = json.loads(out)
    assert sorted(e["trigger"]["date"][:10] for e in executions) == [
        "2026-03-26",
        "2026-03-27",
        "2026-03-28",
        "2026-03-30",
    ]
    assert {e["outputs"]["day"] for e in executions} == {
        "2026-03-26",
        "2026-03-27",
        "2026-03-28",
        "2026-03-30",
    }


def test_backfill_refuses_a_disabled_flow_with_a_clear_message(tmp_path: Path) -> None:
    disabled = tmp_path / "off.yaml"
    disabled.write_text(
        EXAMPLE.read_text().replace("namespace: examples.triggers", "namespace: off\ndisabled: true")
    )
    code, out, err = invoke(
        "backfill",
        str(disabled),
        "--trigger",
        "nightly",
        "--from",
        "2026-03-27",
        "--to",
        "2026-03-31",
        "--home",
        str(tmp_path / "h"),
    )
    assert code == 2 and out == ""
    assert "flow off.nightly_report is disabled" in err


def test_backfill_by_name_needs_a_deployed_flow(tmp_path: Path) -> None:
    code, _, err = invoke(
        "backfill", "nope.flow", "--from", "2026-01-01", "--to", "2026-01-02", "--home", str(tmp_path)
    )
    assert code == 2 and "no deployed flow named 'nope.flow'" in err
