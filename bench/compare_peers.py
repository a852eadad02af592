"""Stratoflow's local engine against Prefect 3, Dagster (in memory and persistent) and Airflow 3.

    .venv/bin/python -m bench.compare_peers                 # full run: 5 counted runs per variant
    .venv/bin/python -m bench.compare_peers --quick         # 1 run, Stratoflow and the plain floor only
    .venv/bin/python -m bench.compare_peers --json-out bench/last-run.json
    .venv/bin/python -m bench.compare_peers --peers dagster-memory dagster-persistent prefect airflow
    .venv/bin/python -m bench.compare_peers --peers dagster-memory --workloads w1_hello w5_python_chain100 w6_python_fanout1000

The workloads of bench/peers/README.md (W1 hello, W2 chain100, W3 fanout1000, W4 retry, and W5/W6:
W2/W3 with the same Python function in a script task of Stratoflow, one process per task; and W6 c2,
W6 with the ForEach's `concurrencyLimit: 2`, the peers running their W6 unchanged) run as whole
processes: Stratoflow as `strato run FLOW --json --skip-waits` with durable SQLite history, each
peer as its own script in its own venv (made under --peers-dir and cached). Variants alternate run by
run, so that a slow minute on this shared machine hits all of them alike. Every run is checked (the
JSON document for Stratoflow, exit 0 and the `RESULT ... ok` line for the peers); an incorrect run
is recorded as a failure of that variant on that workload (which it then skips) and the benchmark
goes on, so no figure comes from a run that did not complete and one broken peer does not lose the
others' figures (the exit code is 1 when any run failed). Workloads go in the order W1, W4, W2, W3,
W5, W6 from freshly set-up peer state, as the README recommends (their databases grow).

The whole run has a budget (`--budget`, 15 minutes). Before measuring, the script prints what the run
should take from per-run medians (those the last run on this machine left in --peers-dir, else the
README's); at the end it reports where the time went (installs, state set-up, warm-ups, counted runs)
and judges the budget without the installs, which are made once per machine and cached. The
`dagster-persistent` variant is opt-in: it is the same peer as `dagster-memory`, never the fastest one
(the ratios are against the fastest peer), and its W3 alone takes 5 x 34 s on an idle machine.
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
from bench.local_engine import PYTHON_WORKLOADS, WORKLOADS

STRATOFLOW_CHECKS = {**WORKLOADS, **PYTHON_WORKLOADS}

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "bench" / "flows"
STRATO = Path(sys.executable).with_name("strato")
ORDER = (
    "w1_hello",
    "w4_retry",
    "w2_chain100",
    "w3_fanout1000",
    "w5_python_chain100",
    "w6_python_fanout1000",
    "w6_python_fanout1000_c2",
)
# By default the expression workloads W1-W4 (W5/W6 would double the peers' W2/W3 time, out of the
# budget): `--workloads w5_python_chain100 w6_python_fanout1000` measures the Python ones.
DEFAULT_ORDER = ORDER[:4]
PEER_VARIANTS = ("dagster-memory", "dagster-persistent", "prefect", "airflow")
DEFAULT_PEERS = ("dagster-memory", "prefect", "airflow")
BUDGET_MIN = 15.0
MEDIANS_FILE = "last-medians.json"  # under --peers-dir: the estimate of the next run


@dataclass
class Phases:
    """Where the wall time of the whole benchmark went, in seconds."""

    installs: float = 0.0
    state: float = 0.0
    warmups: float = 0.0
    runs: float = 0.0

    def line(self, elapsed: float, budget_min: float, peers_s: float) -> str:
        """The budget verdict; a miss says when the peers' own counted runs exceed the budget alone."""
        without_installs = elapsed - self.installs
        verdict = "PASS" if without_installs <= budget_min * 60 else "FAIL"
        if verdict == "FAIL" and peers_s > budget_min * 60:
            verdict += (
                f": the peers' own counted runs took {peers_s / 60:.1f} min, over the budget by themselves"
                " (see the table above: no change to Stratoflow can bring this run within it)"
            )
        return (
            f"Whole benchmark: {elapsed / 60:.1f} min: peer installs {self.installs / 60:.1f} min, "
            f"peer state set-up {self.state / 60:.1f} min, warm-ups {self.warmups / 60:.1f} min, "
            f"counted runs {self.runs / 60:.1f} min (budget {budget_min:g} min without the installs, "
            f"which are cached: {without_installs / 60:.1f} min, {verdict})"
        )


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


def prepare(args: argparse.Namespace, scratch: Path, log: peer_envs.TextLog, phases: Phases) -> list[Variant]:
    """Every variant to measure, in run order; the time spent installing peers and setting up their
    state goes into `phases`."""
    python = peer_envs.base_python()
    args.peers_dir.mkdir(parents=True, exist_ok=True)
    variants = [
        stratoflow_variant(scratch / "stratoflow-home"),
        script_variant(report.FLOOR, "plain", peer_envs.ensure_plain_venv(args.peers_dir, python)),
    ]
    if args.quick:
        return variants
    started = time.monotonic()
    families = sorted({name.split("-")[0] for name in args.peers})
    interpreters = {family: peer_envs.ensure_venv(args.peers_dir, family, python, log) for family in families}
    phases.installs = time.monotonic() - started
    started = time.monotonic()
    for name in args.peers:
        family = name.split("-")[0]
        log(f"fresh state for {name}")
        env = peer_envs.fresh_state(args.peers_dir, name, interpreters[family])
        variants.append(script_variant(name, family, interpreters[family], env))
    phases.state = time.monotonic() - started
    return variants


def estimate(args: argparse.Namespace, variants: list[Variant], log: peer_envs.TextLog) -> None:
    """Log what the measured runs should take, from the per-run medians the last runs on this machine
    left (else the README's idle-machine ones), against the budget."""
    medians = {workload: dict(found) for workload, found in report.REFERENCE_MEDIANS_S.items()}
    saved = args.peers_dir / MEDIANS_FILE
    if saved.exists():
        for workload, found in json.loads(saved.read_text()).items():
            medians.setdefault(workload, {}).update(found)
    names = [v.name for v in variants]
    seconds, unknown = report.expected_seconds(medians, names, args.workloads, args.runs, not args.quick)
    source = f"{saved}, else bench/peers/README.md" if saved.exists() else "bench/peers/README.md"
    log(
        f"expected: {seconds / 60:.1f} min of runs and warm-ups, from the per-run medians of {source}"
        + (f" (no median for {', '.join(unknown)})" if unknown else "")
        + f"; budget {args.budget:g} min"
    )


def save_medians(path: Path, results: dict[str, dict[str, Series]]) -> None:
    """Merge this run's per-run medians into those kept for the next estimate."""
    kept: dict[str, dict[str, float]] = json.loads(path.read_text()) if path.exists() else {}
    for workload, medians in report.medians_of(results).items():
        kept.setdefault(workload, {}).update(medians)
    path.write_text(json.dumps(kept, indent=2))


def run_all(
    variants: list[Variant],
    workloads: list[str],
    runs: int,
    warmup: bool,
    log: peer_envs.TextLog,
    phases: Phases,
    failures: dict[str, dict[str, str]],
) -> dict[str, dict[str, Series]]:
    """The counted runs; a variant whose run is incorrect goes into `failures` (workload -> variant ->
    why) and is not run again on that workload."""
    base_env = process_env()

    def once(variant: Variant, workload: str) -> Measurement:
        return measure(
            variant.command(workload),
            variant.check(workload),
            env={**base_env, **variant.env},
            label=f"{variant.name} {workload}",
        )

    started = time.monotonic()
    if warmup:
        for variant in variants:  # byte-code and page caches; checked, not counted
            try:
                log(f"warm-up {variant.name}: {once(variant, workloads[0]).wall_s:.2f} s")
            except IncorrectRun as error:
                failures.setdefault(workloads[0], {})[variant.name] = f"warm-up: {error}"
                log(f"warm-up {variant.name}: FAILED: {error}")
    phases.warmups = time.monotonic() - started
    started = time.monotonic()
    results: dict[str, dict[str, Series]] = {}
    for workload in workloads:
        measured: dict[str, list[Measurement]] = {v.name: [] for v in variants}
        for round_ in range(runs):
            for variant in variants:
                if variant.name in failures.get(workload, {}):
                    continue
                try:
                    m = once(variant, workload)
                except IncorrectRun as error:
                    failures.setdefault(workload, {})[variant.name] = str(error)
                    log(
                        f"{workload} run {round_ + 1}/{runs} {variant.name}: FAILED, skipped from now on: {error}"
                    )
                    continue
                measured[variant.name].append(m)
                log(
                    f"{workload} run {round_ + 1}/{runs} {variant.name}: {m.wall_s:.2f} s {m.peak_rss_mib:.0f} MiB"
                )
        results[workload] = {
            name: Series(tuple(ms)) for name, ms in measured.items() if name not in failures.get(workload, {})
        }
    phases.runs = time.monotonic() - started
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
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=PEER_VARIANTS,
        default=list(DEFAULT_PEERS),
        help=f"peer variants to measure (default: {' '.join(DEFAULT_PEERS)})",
    )
    parser.add_argument("--workloads", nargs="*", choices=ORDER, help="default: all; with --quick: W1-W4")
    parser.add_argument("--json-out", type=Path, help="write every measurement to this file")
    parser.add_argument(
        "--budget", type=float, default=BUDGET_MIN, help="minutes the whole run should take (reported)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.peers = 1, []
    elif args.runs < 5:
        parser.error("a full run counts at least 5 runs per variant (use --quick for a smoke run)")
    chosen = args.workloads or DEFAULT_ORDER
    args.workloads = [w for w in ORDER if w in chosen]
    args.peers = [p for p in PEER_VARIANTS if p in args.peers]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = peer_envs.TextLog()
    started = time.monotonic()
    about = machine()
    phases = Phases()
    with tempfile.TemporaryDirectory(prefix="strato-bench-") as scratch:
        variants = prepare(args, Path(scratch), log, phases)
        estimate(args, variants, log)
        failures: dict[str, dict[str, str]] = {}
        results = run_all(variants, args.workloads, args.runs, not args.quick, log, phases, failures)
    elapsed = time.monotonic() - started
    if not args.quick:  # a smoke run's single runs would make a poor estimate
        save_medians(args.peers_dir / MEDIANS_FILE, results)
    about["load average at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"- {key}: {value}" for key, value in {**about, **versions(variants, args.peers_dir)}.items()]
    lines += ["", *(row for w, v in results.items() for row in report.workload_table(w, v))]
    lines += report.derived(results)
    lines += report.targets_table(report.targets(results))
    lines += report.time_table(results)
    lines.append(phases.line(elapsed, args.budget, report.peers_seconds(results)))
    lines += report.failures_table(failures)
    print("\n".join(lines))
    if args.json_out is not None:
        raw = {w: {n: [vars(m) for m in s.runs] for n, s in v.items()} for w, v in results.items()}
        document = {
            "machine": about,
            "results": raw,
            "failures": failures,
            "elapsed_s": elapsed,
            "phases_s": vars(phases),
        }
        args.json_out.write_text(json.dumps(document, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
