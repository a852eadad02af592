"""Stratoflow's local engine against Prefect 3, Dagster (in memory and persistent) and Airflow 3.

    .venv/bin/python -m bench.compare_peers                 # full run: 5 counted runs per variant
    .venv/bin/python -m bench.compare_peers --quick         # 1 run, Stratoflow and the plain floor only
    .venv/bin/python -m bench.compare_peers --json-out bench/last-run.json

The four workloads of bench/peers/README.md (W1 hello, W2 chain100, W3 fanout1000, W4 retry) run as
whole processes: Stratoflow as `strato run FLOW --json --skip-waits` with durable SQLite history, each
peer as its own script in its own venv (made under --peers-dir and cached). Variants alternate run by
run, so that a slow minute on this shared machine hits all of them alike. Every run is checked (the
JSON document for Stratoflow, exit 0 and the `RESULT ... ok` line for the peers); one incorrect run
stops the benchmark, so no figure comes from a run that did not complete. Workloads go in the order
W1, W4, W2, W3 from freshly set-up peer state, as the README recommends (their databases grow).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import peer_envs, report
from bench.harness import Check, IncorrectRun, Measurement, Series, measure, result_line_check
from bench.local_engine import WORKLOADS as STRATOFLOW_CHECKS

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "bench" / "flows"
STRATO = Path(sys.executable).with_name("strato")
ORDER = ("w1_hello", "w4_retry", "w2_chain100", "w3_fanout1000")
PEER_VARIANTS = ("dagster-memory", "dagster-persistent", "prefect", "airflow")
BUDGET_S = 15 * 60


@dataclass(frozen=True)
class Variant:
    """One thing measured: how to start a workload and how to tell that it ran correctly."""

    name: str
    command: Callable[[str], list[str]]
    check: Callable[[str], Check]
    env: dict[str, str] = field(default_factory=dict)


def _stratoflow_check(workload: str) -> Check:
    def check(code: int, out: str) -> str | None:
        if code != 0:
            return "non-zero exit"
        try:
            document = json.loads(out)
        except json.JSONDecodeError:
            return "no JSON document"
        return None if STRATOFLOW_CHECKS[workload](document) else "wrong outputs or task runs"

    return check


def stratoflow_variant(home: Path) -> Variant:
    return Variant(
        report.STRATOFLOW,
        lambda w: [
            str(STRATO),
            "run",
            str(FLOWS / f"{w}.yaml"),
            "--json",
            "--skip-waits",
            "--home",
            str(home),
        ],
        _stratoflow_check,
    )


def script_variant(name: str, family: str, python: Path, env: dict[str, str] | None = None) -> Variant:
    """A peer script `bench/peers/<family>/<workload>.py` run by the peer venv's own interpreter."""
    scripts = peer_envs.PEERS_SOURCE / family
    return Variant(
        name,
        lambda w: [str(python), str(scripts / f"{w}.py")],
        lambda w: result_line_check(w, family),
        env or {},
    )


def process_env() -> dict[str, str]:
    """The measured processes' environment: byte-code caches on (a user's default), telemetry off."""
    # The caller's own peer settings (DAGSTER_HOME would turn dagster-memory persistent) are dropped.
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith(("DAGSTER_", "PREFECT_", "AIRFLOW_"))
    }
    return {**env, **peer_envs.QUIET_ENV}


def prepare(args: argparse.Namespace, scratch: Path, log: peer_envs.TextLog) -> tuple[list[Variant], float]:
    """Every variant to measure, in run order, and the seconds spent installing peers."""
    python = peer_envs.base_python()
    args.peers_dir.mkdir(parents=True, exist_ok=True)
    variants = [
        stratoflow_variant(scratch / "stratoflow-home"),
        script_variant(report.FLOOR, "plain", peer_envs.ensure_plain_venv(args.peers_dir, python)),
    ]
    if args.quick:
        return variants, 0.0
    started = time.monotonic()
    interpreters = {
        family: peer_envs.ensure_venv(args.peers_dir, family, python, log)
        for family in peer_envs.INSTALLED_PEERS
    }
    installing = time.monotonic() - started
    for name in args.peers:
        family = name.split("-")[0]
        log(f"fresh state for {name}")
        env = peer_envs.fresh_state(args.peers_dir, name, interpreters[family])
        variants.append(script_variant(name, family, interpreters[family], env))
    return variants, installing


def run_all(
    variants: list[Variant], workloads: list[str], runs: int, warmup: bool, log: peer_envs.TextLog
) -> dict[str, dict[str, Series]]:
    base_env = process_env()

    def once(variant: Variant, workload: str) -> Measurement:
        return measure(
            variant.command(workload),
            variant.check(workload),
            env={**base_env, **variant.env},
            label=f"{variant.name} {workload}",
        )

    if warmup:
        for variant in variants:  # byte-code and page caches; checked, not counted
            log(f"warm-up {variant.name}: {once(variant, workloads[0]).wall_s:.2f} s")
    results: dict[str, dict[str, Series]] = {}
    for workload in workloads:
        measured: dict[str, list[Measurement]] = {v.name: [] for v in variants}
        for round_ in range(runs):
            for variant in variants:
                m = once(variant, workload)
                measured[variant.name].append(m)
                log(
                    f"{workload} run {round_ + 1}/{runs} {variant.name}: {m.wall_s:.2f} s {m.peak_rss_mib:.0f} MiB"
                )
        results[workload] = {name: Series(tuple(ms)) for name, ms in measured.items()}
    return results


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions(variants: list[Variant], peers_dir: Path) -> dict[str, str]:
    """Installed versions of the measured packages, read from each venv."""
    found = {"stratoflow": _git_revision()}
    for family, package in (("prefect", "prefect"), ("dagster", "dagster"), ("airflow", "apache-airflow")):
        if any(v.name.startswith(family) for v in variants):
            python = peer_envs.venv_python(peers_dir, family)
            code = f"import importlib.metadata as m; print(m.version({package!r}))"
            found[package] = subprocess.run(
                [str(python), "-c", code], capture_output=True, text=True
            ).stdout.strip()
    return found


def _git_revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    return done.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="counted runs per variant and workload (>= 5)")
    parser.add_argument("--quick", action="store_true", help="1 run, Stratoflow and the plain floor only")
    parser.add_argument("--peers-dir", type=Path, default=peer_envs.DEFAULT_PEERS_DIR)
    parser.add_argument("--peers", nargs="*", choices=PEER_VARIANTS, default=list(PEER_VARIANTS))
    parser.add_argument("--workloads", nargs="*", choices=ORDER, default=list(ORDER))
    parser.add_argument("--json-out", type=Path, help="write every measurement to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.peers = 1, []
    elif args.runs < 5:
        parser.error("a full run counts at least 5 runs per variant (use --quick for a smoke run)")
    args.workloads = [w for w in ORDER if w in args.workloads]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = peer_envs.TextLog()
    started = time.monotonic()
    about = machine()
    with tempfile.TemporaryDirectory(prefix="strato-bench-") as scratch:
        variants, installing = prepare(args, Path(scratch), log)
        try:
            results = run_all(variants, args.workloads, args.runs, not args.quick, log)
        except IncorrectRun as error:
            print(f"benchmark stopped: {error}", file=sys.stderr)
            return 1
    elapsed = time.monotonic() - started
    about["load average at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"- {key}: {value}" for key, value in {**about, **versions(variants, args.peers_dir)}.items()]
    lines += ["", *(row for w, v in results.items() for row in report.workload_table(w, v))]
    lines += report.derived(results)
    lines += report.targets_table(report.targets(results))
    verdict = "PASS" if elapsed <= BUDGET_S else "FAIL"
    lines.append(
        f"Whole benchmark: {elapsed / 60:.1f} min, peer installs {installing / 60:.1f} min of it "
        f"(budget {BUDGET_S // 60} min: {verdict})"
    )
    print("\n".join(lines))
    if args.json_out is not None:
        raw = {w: {n: [vars(m) for m in s.runs] for n, s in v.items()} for w, v in results.items()}
        args.json_out.write_text(
            json.dumps({"machine": about, "results": raw, "elapsed_s": elapsed}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
