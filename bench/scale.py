"""Scale benchmark: large loops locally and on the simulated cloud (issue 17).

    .venv/bin/python -m bench.scale                 # every shape (about 9 minutes at load 4 on 2 cores)
    .venv/bin/python -m bench.scale --shapes foreach_1k nested_10x10 --json-out /tmp/scale.json
    .venv/bin/python -m bench.scale --quick         # the small shapes only: what the test suite runs

Each shape is one fresh `strato run FLOW --json` process (durable SQLite history under a temporary
--home; `--cloud-sim` for the cloud shapes), checked for SUCCESS, its task-run count and a stderr
without tracebacks (a thread's crash). Reported: wall time, CPU time (user + system, less sensitive than
wall time to a busy machine), peak RSS (GNU time's, see `run`), per item and per task run the wall and
CPU time above a one-task flow's (the process's fixed cost: imports, deployment), Step Functions
transitions and history events of the largest execution (as the run's document reports them), and from
`strato cost`'s model the monthly cost of 1,000 runs on Standard and on Express.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STRATO = ROOT / ".venv" / "bin" / "strato"
RUNS_PER_MONTH = 1_000
TIME = "/usr/bin/time"  # GNU time: the measured process's peak RSS and CPU time

FOREACH = """id: {name}
namespace: bench.scale
tasks:
  - id: produce
    type: Return
    format: "{{{{ range(0, {last}) }}}}"
  - id: each
    type: ForEach
    values: "{{{{ outputs.produce.value }}}}"
    tasks:
      - id: double
        type: Return
        format: "{{{{ (taskrun.value | number) * 2 }}}}"
"""
NESTED = """id: {name}
namespace: bench.scale
tasks:
  - id: outer
    type: ForEach
    values: "{{{{ range(0, {last}) }}}}"
    tasks:
      - id: inner
        type: ForEach
        values: "{{{{ range(0, {last}) }}}}"
        tasks:
          - id: work
            type: Return
            format: "{{{{ taskrun.value }}}}"
"""
BASELINE = "id: baseline\nnamespace: bench.scale\ntasks:\n  - {id: one, type: Return, format: '1'}\n"


@dataclass(frozen=True)
class Shape:
    name: str
    items: int  # loop items in all (the inner loop's iterations for nested loops)
    task_runs: int  # what a successful run records
    cloud: bool = False
    nested: bool = False

    def source(self) -> str:
        if self.name == "w3_cloud":
            return (ROOT / "bench" / "flows" / "w3_fanout1000.yaml").read_text()
        if self.nested:
            side = round(self.items**0.5)
            return NESTED.format(name=self.name, last=side - 1)
        return FOREACH.format(name=self.name, last=self.items - 1)


SHAPES = {
    shape.name: shape
    for shape in [
        Shape("foreach_1k", 1_000, 1_002),
        Shape("foreach_10k", 10_000, 10_002),
        Shape("foreach_100k", 100_000, 100_002),
        Shape("nested_10x10", 100, 111, nested=True),
        Shape("nested_100x100", 10_000, 10_101, nested=True),
        Shape("w3_cloud", 1_000, 1_003, cloud=True),
        Shape("foreach_10k_cloud", 10_000, 10_002, cloud=True),
    ]
}
QUICK = ["foreach_1k", "nested_10x10"]


@dataclass(frozen=True)
class Result:
    shape: str
    items: int
    task_runs: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    wall_per_item_ms: float
    cpu_per_item_ms: float
    cpu_per_task_run_ms: float
    execution_per_task_run_ms: float | None  # the execution's own time (store dates), local shapes only
    transitions: int | None
    history_events: int | None
    standard_monthly: float | None
    express_monthly: float | None
    dynamodb_reads_per_task_run: float


def run(flow: Path, home: Path, cloud: bool) -> tuple[float, float, float, dict[str, Any]]:
    """(wall s, CPU s, peak RSS MiB, the `--json` document's summary) of one `strato run` process.

    Measured by /usr/bin/time, a small process of its own: Linux gives a child the maximum RSS of the
    process it was forked from as its starting `ru_maxrss`, and this one grows with the documents it
    reads (100,000 task runs)."""
    command = [str(STRATO), "run", str(flow), "--json", "--home", str(home)]
    if cloud:
        command.append("--cloud-sim")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        out, err, usage = (Path(tmp) / name for name in ("out.json", "err.txt", "usage.txt"))
        started = time.perf_counter()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            code = subprocess.call(
                [TIME, "-f", "%M %U %S", "-o", str(usage), *command],
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        wall = time.perf_counter() - started
        errors = err.read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"{flow.name}: exit {code}\n{errors[-1500:]}")
        if "Traceback (most recent call last)" in errors:  # a thread's crash, even in a run that ended
            raise RuntimeError(f"{flow.name}: a traceback on stderr\n{errors[-1500:]}")
        rss_kib, user, system = usage.read_text().split()[-3:]
        return wall, float(user) + float(system), int(rss_kib) / 1024, summary(out)


def summary(document: Path) -> dict[str, Any]:
    """What the report needs of a run document, read by a process of its own (see `run`)."""
    script = (
        "import json, sys; d = json.load(open(sys.argv[1])); "
        "print(json.dumps({'state': d['state'], 'error': d.get('error'), 'taskRuns': len(d['taskRuns']), "
        "'stepFunctions': d.get('stepFunctions', {})}))"
    )
    return dict(json.loads(subprocess.check_output([sys.executable, "-c", script, str(document)])))


def execution_ms(home: Path) -> float:
    """Wall time from the first execution's start to the last one's end, in ms, as the local history
    recorded them: the run without the process's fixed cost (imports, deployment), which a one-task
    baseline can only estimate to within a few tens of ms, more than a small shape's loop takes."""
    with closing(sqlite3.connect(f"file:{home / 'stratoflow.db'}?mode=ro", uri=True)) as db:
        first, last = db.execute(
            "SELECT min(json_extract(data, '$.startDate')), max(json_extract(data, '$.endDate'))"
            " FROM executions"
        ).fetchone()
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() * 1000


def monthly(flow: Path, items: int) -> tuple[float | None, float | None, float]:
    """`strato cost`'s Standard and Express totals for RUNS_PER_MONTH runs, and its DynamoDB read units
    per task run (`items` per ForEach)."""
    from stratoflow.compiler import compile_flow
    from stratoflow.cost import Assumptions, estimate
    from stratoflow.flow import load_flow

    parsed = load_flow(flow.read_text(), str(flow))
    side = items if "inner" not in flow.read_text() else round(items**0.5)
    cost = estimate(compile_flow(parsed).definition, parsed, RUNS_PER_MONTH, Assumptions(items=side))
    reads = cost.usage.dynamo.read_units / cost.usage.task_runs
    if cost.cannot_complete:
        return None, None, reads
    return cost.standard_total, cost.express_total, reads


def measure(shape: Shape, folder: Path, baseline: tuple[float, float]) -> Result:
    flow = folder / f"{shape.name}.yaml"
    flow.write_text(shape.source())
    wall, cpu, rss, document = run(flow, folder / f"home-{shape.name}", shape.cloud)
    runs = document["taskRuns"]
    if document["state"] != "SUCCESS" or runs != shape.task_runs:
        raise RuntimeError(
            f"{shape.name}: {document['state']} with {runs} task runs: {document.get('error')}"
        )
    counted = document.get("stepFunctions", {})
    standard, express, reads = monthly(flow, shape.items)
    return Result(
        shape=shape.name,
        items=shape.items,
        task_runs=runs,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        peak_rss_mib=round(rss, 1),
        wall_per_item_ms=round((wall - baseline[0]) * 1000 / shape.items, 3),
        cpu_per_item_ms=round((cpu - baseline[1]) * 1000 / shape.items, 3),
        cpu_per_task_run_ms=round((cpu - baseline[1]) * 1000 / runs, 3),
        execution_per_task_run_ms=(
            None if shape.cloud else round(execution_ms(folder / f"home-{shape.name}") / runs, 3)
        ),
        transitions=counted.get("stateTransitions"),
        history_events=counted.get("historyEvents"),
        standard_monthly=None if standard is None else round(standard, 2),
        express_monthly=None if express is None else round(express, 2),
        dynamodb_reads_per_task_run=round(reads, 2),
    )


def table(results: list[Result]) -> str:
    rows = [
        "| shape | items | task runs | wall s | CPU s | peak RSS MiB | wall/item ms | CPU/item ms "
        "| CPU/task run ms | execution ms/task run | transitions | history events | DynamoDB RRU/task run "
        f"| {RUNS_PER_MONTH:,} runs/month Standard | Express |",
        "| --- |" + " ---: |" * 14,
    ]
    for r in results:
        money = [f"${v:,.2f}" if v is not None else "n/a" for v in (r.standard_monthly, r.express_monthly)]
        rows.append(
            f"| {r.shape} | {r.items:,} | {r.task_runs:,} | {r.wall_s} | {r.cpu_s} | {r.peak_rss_mib} "
            f"| {r.wall_per_item_ms} | {r.cpu_per_item_ms} | {r.cpu_per_task_run_ms} "
            f"| {'n/a' if r.execution_per_task_run_ms is None else r.execution_per_task_run_ms} "
            f"| {r.transitions} | {r.history_events} | {r.dynamodb_reads_per_task_run} | {money[0]} | {money[1]} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    shapes = QUICK if args.quick else args.shapes
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="stratoflow-scale-") as tmp:
        folder = Path(tmp)
        (folder / "baseline.yaml").write_text(BASELINE)
        baselines: dict[bool, tuple[float, float]] = {}
        for cloud in sorted({SHAPES[name].cloud for name in shapes}):
            # The least of three fresh-home runs: the first may also write byte-code caches.
            runs = [
                run(folder / "baseline.yaml", folder / f"home-baseline-{cloud}-{n}", cloud) for n in range(3)
            ]
            wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
            baselines[cloud] = (wall, cpu)
            print(
                f"baseline (one task{', cloud-sim' if cloud else ''}): {wall:.2f} s, {cpu:.2f} s CPU",
                flush=True,
            )
        for name in shapes:
            result = measure(SHAPES[name], folder, baselines[SHAPES[name].cloud])
            print(f"{name}: {result.wall_s} s, {result.cpu_s} s CPU, {result.peak_rss_mib} MiB", flush=True)
            results.append(result)
    print(table(results))
    if args.json_out:
        args.json_out.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
