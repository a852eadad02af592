"""Benchmark of the local engine: whole-process wall time and peak RSS of `strato run` on the W1-W4 flows.

    .venv/bin/python bench/local_engine.py            # 5 counted runs per workload (+1 warm-up)
    .venv/bin/python bench/local_engine.py --quick    # 1 run each: what the test suite does

Each run is a fresh `strato run FLOW --json --skip-waits` process with durable history (SQLite under
a temporary --home), checked for the right result; a run that is not correct is not reported.
`--skip-waits` makes W4's retry delays (1 s, Step Functions' minimum) pass at once, as the peers'
retry delay of 0. Derived: per-task overhead = (W2 - W1) / 99, per-item = (W3 - W1) / 1000.
Targets (issue 8, whole-process median): W1 under 0.4 s, W2 under 0.5 s, W3 under 1.5 s; each run
shares its workload's home with the others, as a user running the same flow again does (the flow is
deployed and its templates compiled by the warm-up run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `bench` is importable from the checkout
from bench.report import WALL_TARGETS_S  # noqa: E402

STRATO = Path(sys.executable).with_name("strato")
WORKLOADS = {
    "w1_hello": lambda d: d["outputs"] == {"greeting": {"greeting": "hello"}},
    "w2_chain100": lambda d: d["outputs"] == {"result": 100} and len(d["taskRuns"]) == 100,
    "w3_fanout1000": lambda d: d["outputs"] == {"total": 999000} and len(d["taskRuns"]) == 1003,
    "w4_retry": lambda d: d["taskRuns"][0]["attempts"] == 3 and d["state"] == "SUCCESS",
}
# Issue 21's workloads: the same shapes with a Python function in a script task (one process per task).
PYTHON_WORKLOADS = {
    "w5_python_chain100": lambda d: d["outputs"] == {"result": 100} and len(d["taskRuns"]) == 100,
    "w6_python_fanout1000": lambda d: d["outputs"] == {"total": 999000} and len(d["taskRuns"]) == 1003,
    # W6 with `concurrencyLimit: 2`, reported beside W6 (bench/flows/w6_python_fanout1000_c2.yaml).
    "w6_python_fanout1000_c2": lambda d: d["outputs"] == {"total": 999000} and len(d["taskRuns"]) == 1003,
}


def run_once(workload: str, home: Path) -> tuple[float, float]:
    """One whole process: (wall seconds, peak RSS MiB); raises if the result is wrong."""
    flow = ROOT / "bench" / "flows" / f"{workload}.yaml"
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(STRATO), "run", str(flow), "--json", "--skip-waits", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Byte-code caches on, as a user has them (this sandbox sets PYTHONDONTWRITEBYTECODE).
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    document = json.loads(out or b"{}")
    if os.waitstatus_to_exitcode(status) != 0 or not WORKLOADS[workload](document):
        raise RuntimeError(f"{workload}: incorrect run: {err.decode()[-500:]} {out.decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run per workload, no warm-up")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    medians: dict[str, float] = {}
    print(f"{'workload':<15} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13}")
    with tempfile.TemporaryDirectory() as scratch:
        for workload in WORKLOADS:
            home = Path(scratch) / workload
            if not args.quick:
                run_once(workload, home)  # warm-up: byte-code caches, first SQLite schema
            results = [run_once(workload, home) for _ in range(runs)]
            walls = [w for w, _ in results]
            medians[workload] = statistics.median(walls)
            print(
                f"{workload:<15} {medians[workload]:>9.3f} {min(walls):>7.3f} {max(walls):>7.3f} "
                f"{max(r for _, r in results):>13.1f}"
            )
    per_task = (medians["w2_chain100"] - medians["w1_hello"]) / 99 * 1000
    per_item = (medians["w3_fanout1000"] - medians["w1_hello"]) / 1000 * 1000
    print(f"per-task overhead: {per_task:.2f} ms; per-mapped-item overhead: {per_item:.2f} ms")
    for workload, limit in WALL_TARGETS_S.items():
        verdict = "PASS" if medians[workload] < limit else "FAIL"
        print(f"{workload}: {medians[workload]:.3f} s (target < {limit} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
