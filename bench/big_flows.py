"""Benchmark of big flows (issues 16 and 17): flows too large for one state machine, cut into parts.

    .venv/bin/python bench/big_flows.py             # 2,000-task chain and 20 x 100 Parallel
    .venv/bin/python bench/big_flows.py --quick     # 300-task chain and 3 x 100 Parallel: the test suite

For each shape: compile time (in this process), the size of each state machine as the deployer sends
it (the flow's and each part's, real ARNs of `DeployNames.example()`), then one `strato run FLOW --json`
process on a fresh home: its wall time, its peak RSS, and the history events of its largest execution
(the flow's own or one part's, each counted as Step Functions counts a child execution's). A run that
does not end SUCCESS with every task run is an error, not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `tests` is importable from the checkout
from stratoflow.cloud.deploy.limits import DeployNames, measure  # noqa: E402
from stratoflow.compiler import definition_text  # noqa: E402
from stratoflow.flow import load_flow  # noqa: E402
from tests.unit.compiler.test_parts import chain, parallel  # noqa: E402

STRATO = Path(sys.executable).with_name("strato")


def shapes(quick: bool) -> dict[str, tuple[str, int]]:
    """name -> (flow source, task runs a correct run records)."""
    if quick:
        return {"chain300": (chain(300), 300), "parallel3x100": (parallel(3, 100), 304)}
    return {"chain2000": (chain(2000), 2000), "parallel20x100": (parallel(20, 100), 2021)}


def compiled_sizes(source: str) -> tuple[float, list[int]]:
    """(compile seconds, bytes as sent of the flow's state machine then of each part)."""
    flow = load_flow(source, "flow.yaml")
    start = time.perf_counter()
    measured = measure(flow, DeployNames.example(), "flow.yaml")
    seconds = time.perf_counter() - start
    if measured.problems or measured.definition is None:
        raise SystemExit(f"the flow does not deploy: {measured.problems}")
    names = DeployNames.example()
    sizes = []
    for machine in [measured.definition, *measured.parts]:
        text = definition_text(machine)
        for number in range(1, len(measured.parts) + 1):
            text = text.replace("${FlowPart." + str(number) + "}", names.part_version_arn("big", "x", number))
        sizes.append(len(text.encode()))
    return seconds, sizes


def run(source: str, runs: int) -> tuple[float, float, dict[str, Any]]:
    """One `strato run --json` process: (wall seconds, peak RSS MiB, its document)."""
    with tempfile.TemporaryDirectory() as home:
        flow = Path(home) / "flow.yaml"
        flow.write_text(source, encoding="utf-8")
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(STRATO), "run", str(flow), "--json", "--home", str(Path(home) / "h")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        )
        assert process.stdout is not None and process.stderr is not None
        out = process.stdout.read()
        err = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"strato run failed ({status}): {err.decode()[-2000:]}")
    document: dict[str, Any] = json.loads(out)
    if document["state"] != "SUCCESS" or len(document["taskRuns"]) != runs:
        raise SystemExit(f"incorrect run: {document['state']}, {len(document['taskRuns'])} task runs")
    return wall, usage.ru_maxrss / 1024, document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, for the test suite")
    args = parser.parse_args()
    print(
        "| shape | tasks | compile + measure | flow's machine | parts (bytes as sent) | "
        "largest execution's history events | local run | peak RSS |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (source, runs) in shapes(args.quick).items():
        seconds, sizes = compiled_sizes(source)
        wall, rss, document = run(source, runs)
        counted = document["stepFunctions"]
        events = max([counted["historyEvents"], *(p["historyEvents"] for p in counted.get("parts", []))])
        parts = ", ".join(f"{size:,}" for size in sizes[1:]) or "none"
        print(
            f"| {name} | {runs} | {seconds:.2f} s | {sizes[0]:,} B | {len(sizes) - 1}: {parts} | "
            f"{events:,} | {wall:.2f} s | {rss:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
