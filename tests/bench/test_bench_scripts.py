"""The benchmark scripts keep working: quick modes run once, incorrect runs are refused, targets judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import cold_start, compare_peers, first_invocation, peer_envs, report
from bench.compare_peers import _stratoflow_check
from bench.harness import IncorrectRun, Measurement, Series, measure, result_line_check

ROOT = Path(__file__).resolve().parents[2]


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_quick_peer_benchmark_runs_every_workload(tmp_path: Path) -> None:
    # When the quick mode runs (Stratoflow and the plain floor, one run each)
    done = run_module("bench.compare_peers", "--quick", "--peers-dir", str(tmp_path))

    # Then every workload is reported for both, and the targets are judged
    assert done.returncode == 0, done.stderr
    for workload in ("w1_hello", "w2_chain100", "w3_fanout1000", "w4_retry"):
        assert f"#### {workload}" in done.stdout
    assert done.stdout.count("| stratoflow | 1 |") == 4
    assert done.stdout.count("| plain | 1 |") == 4
    assert "| peak RSS |" in done.stdout
    assert "no peer measured" in done.stdout


def test_a_full_run_needs_five_runs() -> None:
    done = run_module("bench.compare_peers", "--runs", "3")

    assert done.returncode == 2
    assert "at least 5 runs" in done.stderr


def test_measure_refuses_a_run_without_its_result_line() -> None:
    check = result_line_check("w1_hello", "plain")
    command = [sys.executable, "-c", "print('RESULT w1_hello plain failed')"]

    with pytest.raises(IncorrectRun, match="no 'RESULT w1_hello plain ok' line"):
        measure(command, check)


def test_measure_refuses_a_non_zero_exit() -> None:
    check = result_line_check("w1_hello", "plain")
    command = [sys.executable, "-c", "print('RESULT w1_hello plain ok'); raise SystemExit(3)"]

    with pytest.raises(IncorrectRun, match="exit 3"):
        measure(command, check)


def test_measure_reports_wall_time_and_peak_rss_of_a_correct_run() -> None:
    command = [sys.executable, "-c", "x = bytearray(40 * 2**20); print('RESULT w1_hello plain ok')"]

    m = measure(command, result_line_check("w1_hello", "plain"))

    assert m.wall_s > 0
    assert m.peak_rss_mib > 40  # the 40 MiB buffer is in the child's peak


def test_stratoflow_runs_are_checked_by_their_json_document() -> None:
    check = _stratoflow_check("w2_chain100")
    good = '{"outputs": {"result": 100}, "taskRuns": [' + ",".join(["{}"] * 100) + "]}"

    assert check(0, good) is None
    assert check(0, '{"outputs": {"result": 99}, "taskRuns": []}') == "wrong outputs or task runs"
    assert check(0, "Traceback") == "no JSON document"
    assert check(1, good) == "non-zero exit"


def series(*walls: float, rss: float = 40.0) -> Series:
    return Series(tuple(Measurement(w, rss) for w in walls))


def test_targets_compare_stratoflow_with_the_fastest_peer() -> None:
    # Given W1 where Stratoflow takes 0.3 s, the fastest peer 2 s and another 8 s
    results = {
        "w1_hello": {
            "stratoflow": series(0.3, 0.31, 0.29),
            "plain": series(0.02),
            "dagster-memory": series(2.0, 2.1, 1.9),
            "prefect": series(8.0),
        }
    }

    found = {t.name: t for t in report.targets(results)}

    assert found["w1_hello wall"].passed is True  # 0.3 < 0.4
    ratio = found["w1_hello vs fastest peer (dagster-memory)"]
    assert ratio.value == "0.150" and ratio.passed is True
    assert found["peak RSS"].passed is True


def test_targets_fail_honestly() -> None:
    results = {"w2_chain100": {"stratoflow": series(0.9, rss=90.0), "dagster-memory": series(2.0)}}

    found = {t.name: t for t in report.targets(results)}

    assert found["w2_chain100 wall"].verdict == "FAIL"
    assert found["peak RSS"].verdict == "FAIL"  # 90 MiB = 94 MB
    assert found["w2_chain100 vs fastest peer (dagster-memory)"].verdict == "FAIL"  # 0.45


def test_quick_cold_start_imports_both_handlers_cleanly() -> None:
    done = run_module("bench.cold_start", "--quick")

    assert done.returncode == 0, done.stderr  # exit 1 would mean a forbidden import
    assert "| task_runner |" in done.stdout
    assert "| admission |" in done.stdout


def test_the_task_runners_first_invocations_run_in_the_process_that_imported_it() -> None:
    # When the handler is imported in a fresh process and called four times (moto served on loopback)
    found = first_invocation.measure(cold_start.handler_env())

    # Then the import and each call are timed, in the order they ran, and each task succeeded
    assert found.import_ms > 0
    assert list(found.calls_ms) == ["return t1", "return t2", "script t1", "script t2"]
    assert all(ms > 0 for ms in found.calls_ms.values())


def test_cold_start_refuses_cli_and_test_packages(tmp_path: Path) -> None:
    for name in ("pydantic", "click", "moto-5.2.5.dist-info", "aws_cdk", "boto3"):
        (tmp_path / name).mkdir()

    # boto3 is bundled on purpose: the functions run the SDK pinned in uv.lock
    assert cold_start.packaged_forbidden(tmp_path) == ["aws_cdk", "click", "moto"]
    assert cold_start.forbidden_imports(frozenset({"rich.console", "pydantic", "boto3"})) == ["rich"]


def test_the_estimate_adds_warm_ups_and_counted_runs_and_names_what_it_cannot_estimate() -> None:
    # Given per-run medians for two variants on two workloads, one of them missing
    medians = {"w1_hello": {"stratoflow": 0.5, "prefect": 8.0}, "w2_chain100": {"stratoflow": 1.0}}

    # When 5 runs of each, with a warm-up run of the first workload, are estimated
    seconds, unknown = report.expected_seconds(
        medians, ["stratoflow", "prefect"], ["w1_hello", "w2_chain100"], 5, True
    )

    # Then W1 counts 6 runs of each variant, W2 5 runs of Stratoflow; Prefect's W2 is unknown
    assert seconds == 6 * 0.5 + 6 * 8.0 + 5 * 1.0
    assert unknown == ["w2_chain100 prefect"]


def test_the_default_full_run_fits_the_budget_on_an_idle_machine() -> None:
    # Given the default variants and the README's per-run medians of an idle machine
    args = compare_peers.parse_args([])
    variants = ["stratoflow", "plain", *args.peers]

    # When the runs are estimated
    seconds, unknown = report.expected_seconds(
        report.REFERENCE_MEDIANS_S, variants, args.workloads, args.runs, True
    )

    # Then dagster-persistent is opt-in, and the runs leave room for the state set-up in 15 minutes
    assert "dagster-persistent" not in args.peers and not unknown
    assert seconds < 13 * 60 < args.budget * 60


def test_the_budget_is_judged_without_the_cached_installs() -> None:
    phases = compare_peers.Phases(installs=120.0, state=5.0, warmups=20.0, runs=700.0)

    assert phases.line(845.0, 15, peers_s=600.0).endswith(
        "(budget 15 min without the installs, which are cached: 12.1 min, PASS)"
    )
    assert phases.line(845.0, 10, peers_s=500.0).endswith("12.1 min, FAIL)")


def test_a_budget_missed_by_the_peers_alone_says_so() -> None:
    # Given a run whose peers' counted runs alone took 11 minutes
    phases = compare_peers.Phases(installs=0.0, state=1.0, warmups=20.0, runs=700.0)

    # When it is judged against a 10-minute budget
    line = phases.line(721.0, 10, peers_s=660.0)

    # Then the verdict names the peers' share
    assert "FAIL: the peers' own counted runs took 11.0 min, over the budget by themselves" in line


def test_the_time_table_shows_where_the_counted_runs_went() -> None:
    results = {
        "w1_hello": {"stratoflow": series(0.3, 0.3, 0.3), "airflow": series(8.0, 8.0, 8.0)},
        "w3_fanout1000": {"stratoflow": series(0.7, 0.7, 0.7), "airflow": series(100.0, 100.0, 100.0)},
    }

    table = report.time_table(results)

    assert table[2] == "| airflow | 5.4 | w3_fanout1000 5.0 min |"
    assert table[3] == "| stratoflow | 0.0 | w3_fanout1000 0.0 min |"
    assert report.peers_seconds(results) == pytest.approx(324.0)


def test_medians_are_merged_into_those_of_earlier_runs(tmp_path: Path) -> None:
    # Given medians kept from a run of W1 and W2
    kept = tmp_path / "medians.json"
    kept.write_text('{"w1_hello": {"prefect": 9.0, "airflow": 7.0}, "w2_chain100": {"prefect": 10.0}}')

    # When a later run measured W1 for Prefect only
    compare_peers.save_medians(kept, {"w1_hello": {"prefect": series(8.0, 8.5, 8.2)}})

    # Then its median replaces the old one, and the rest stays
    assert json.loads(kept.read_text()) == {
        "w1_hello": {"prefect": 8.2, "airflow": 7.0},
        "w2_chain100": {"prefect": 10.0},
    }


def test_peer_state_is_set_up_once_per_venv_and_copied_afterwards(tmp_path: Path) -> None:
    # Given a peer venv (its stamp) and a set-up command that counts its runs in a file outside
    venv = tmp_path / "peer-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / peer_envs.STAMP).write_text("pins-1")
    python = venv / "bin" / "python"
    home, runs = tmp_path / "peer-home", tmp_path / "set-up-runs"
    script = f"import pathlib; pathlib.Path({str(runs)!r}).open('a').write('x'); pathlib.Path({str(home)!r}, 'db').write_text('migrated')"
    set_up = [[sys.executable, "-c", script]]

    # When fresh state is asked for three times, the measured runs dirtying it in between
    for _ in range(3):
        peer_envs._restore(home, python, set_up, dict(os.environ))
        assert (home / "db").read_text() == "migrated" and not (home / "grown").exists()
        (home / "grown").write_text("rows added by a measured run")

    # Then the set-up ran once; and again once the venv's pins changed
    assert runs.read_text() == "x"
    (venv / peer_envs.STAMP).write_text("pins-2")
    peer_envs._restore(home, python, set_up, dict(os.environ))
    assert runs.read_text() == "xx"


@pytest.mark.parametrize("function", cold_start.HANDLERS)
def test_the_measured_handlers_import_no_boto3_at_init(function: str) -> None:
    # When a handler is imported as Lambda's INIT imports it (the cold-start benchmark's profile)
    profile = cold_start.profile_import(function, cold_start.handler_env())

    # Then no boto3 module nor botocore session or client was loaded: clients wait for their first use,
    # which the same profile then times
    assert not {"boto3", "botocore.session", "botocore.client"} & profile.modules
    assert profile.first_use_ms > 0


def test_a_failed_run_is_recorded_and_the_benchmark_goes_on() -> None:
    # Given a peer whose script fails, and one that works
    broken = compare_peers.Variant(
        "prefect",
        lambda w: [sys.executable, "-c", "raise SystemExit(1)"],
        lambda w: result_line_check(w, "prefect"),
    )
    working = compare_peers.Variant(
        "plain",
        lambda w: [sys.executable, "-c", f"print('RESULT {w} plain ok')"],
        lambda w: result_line_check(w, "plain"),
    )
    failures: dict[str, dict[str, str]] = {}

    # When two rounds run
    results = compare_peers.run_all(
        [broken, working], ["w1_hello"], 2, False, lambda _: None, compare_peers.Phases(), failures
    )

    # Then the failure is recorded once, the broken peer is skipped, the other one is measured
    assert list(failures) == ["w1_hello"] and list(failures["w1_hello"]) == ["prefect"]
    assert "non-zero exit" in failures["w1_hello"]["prefect"]
    assert list(results["w1_hello"]) == ["plain"] and len(results["w1_hello"]["plain"].runs) == 2
    assert any(line.startswith("| w1_hello | prefect | ") for line in report.failures_table(failures))


def test_script_task_figures_run_and_are_checked() -> None:
    done = run_module("bench.script_tasks", "--quick", "--no-lambda")

    assert done.returncode == 0, done.stderr
    assert "local script task, warm template:" in done.stdout
    assert "local script task, cold interpreter:" in done.stdout


def test_the_python_workloads_are_measured_on_request_and_checked_by_their_outputs() -> None:
    # Given / When
    default = compare_peers.parse_args([])
    chosen = compare_peers.parse_args(["--workloads", "w6_python_fanout1000", "w5_python_chain100"])
    check = _stratoflow_check("w5_python_chain100")
    runs = [{"taskId": f"step_{i}"} for i in range(1, 101)]

    # Then
    assert "w5_python_chain100" not in default.workloads
    assert chosen.workloads == ["w5_python_chain100", "w6_python_fanout1000"]
    assert check(0, json.dumps({"outputs": {"result": 100}, "taskRuns": runs})) is None
    assert check(0, json.dumps({"outputs": {"result": 99}, "taskRuns": runs})) is not None
    for family in ("plain", "dagster", "prefect", "airflow"):
        for workload in ("w5_python_chain100", "w6_python_fanout1000", "w6_python_fanout1000_c2"):
            assert (peer_envs.PEERS_SOURCE / family / f"{workload}.py").is_file()


def test_the_parallel_w6_runs_the_same_flow_two_at_a_time_and_the_plain_peer_reports_it(
    tmp_path: Path,
) -> None:
    # Given: W6 and its variant
    sequential = yaml.safe_load((ROOT / "bench" / "flows" / "w6_python_fanout1000.yaml").read_text())
    parallel = yaml.safe_load((ROOT / "bench" / "flows" / "w6_python_fanout1000_c2.yaml").read_text())

    # When the plain peer runs the variant's script
    done = subprocess.run(
        [sys.executable, str(peer_envs.PEERS_SOURCE / "plain" / "w6_python_fanout1000_c2.py")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    # Then: the same tasks, only the ForEach's concurrency differs; the peer's line names the variant
    assert parallel["tasks"][1].pop("concurrencyLimit") == 2
    assert "concurrencyLimit" not in sequential["tasks"][1]
    assert parallel["tasks"] == sequential["tasks"]
    assert result_line_check("w6_python_fanout1000_c2", "plain")(done.returncode, done.stdout) is None


def test_cold_start_as_the_readme_runs_it_finds_the_infra_package(tmp_path: Path) -> None:
    # Given the script run by its path (the README's `python bench/cold_start.py`), from another folder
    script = ROOT / "bench" / "cold_start.py"
    probe = f"import runpy; runpy.run_path({str(script)!r}); import infra.bundling"

    # When its module code runs and the layer step imports infra
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    # Then infra is importable (it was "No module named 'infra'")
    assert done.returncode == 0, done.stderr


def test_quick_scale_benchmark_reports_its_shapes(tmp_path: Path) -> None:
    # When the scale benchmark's quick mode runs (1,000 items, nested 10 x 10)
    out = tmp_path / "scale.json"
    done = run_module("bench.scale", "--quick", "--json-out", str(out))

    # Then each shape succeeded with its task runs and is reported with its figures
    assert done.returncode == 0, done.stderr
    rows = {row["shape"]: row for row in json.loads(out.read_text())}
    assert set(rows) == {"foreach_1k", "nested_10x10"}
    assert rows["foreach_1k"]["task_runs"] == 1_002 and rows["nested_10x10"]["task_runs"] == 111
    assert all(row["standard_monthly"] > row["express_monthly"] > 0 for row in rows.values())
    # ... with the execution's own time per task run, read from the local history's dates
    assert all(row["execution_per_task_run_ms"] > 0 for row in rows.values())
    assert "| foreach_1k | 1,000 | 1,002 |" in done.stdout


def test_scale_benchmark_refuses_a_run_with_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a `strato` that exits 0 but printed a thread's traceback on stderr
    from bench import scale

    fake = tmp_path / "strato"
    fake.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho '{}'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(scale, "STRATO", fake)

    # When the benchmark runs a shape with it
    # Then the run is refused, naming the flow and showing the traceback
    with pytest.raises(RuntimeError, match=r"loop\.yaml: a traceback on stderr\nTraceback"):
        scale.run(tmp_path / "loop.yaml", tmp_path / "home", cloud=False)


def test_quick_big_flows_benchmark_reports_every_shape() -> None:
    # When the quick mode runs (small shapes, one `strato run` each)
    done = run_module("bench.big_flows", "--quick")

    # Then each shape is a row with its sizes, its largest execution's events, its time and memory
    assert done.returncode == 0, done.stderr
    rows = [
        line
        for line in done.stdout.splitlines()
        if line.startswith("| chain") or line.startswith("| parallel")
    ]
    assert [row.split(" | ")[0] for row in rows] == ["| chain300", "| parallel3x100"]
    assert all(row.endswith("MiB |") for row in rows)
