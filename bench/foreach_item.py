"""ForEachItem over a large file on the local engine: a 1,000,000-line JSON Lines file in batches of
1,000 lines, each batch an execution of a subflow that runs one cheap task (a Log of its batch's URI).

    .venv/bin/python bench/foreach_item.py                      # 1,000,000 lines, batches of 1,000
    .venv/bin/python bench/foreach_item.py --lines 10000 --rows 100

The flows are deployed on a fresh local platform (SQLite history, local blob folder, the real clock);
the file is written to the blob folder first (not timed), then the parent is admitted and run to its
end (timed). Prints the wall time, the process's peak RSS, the number of batches and of batch
executions by state, and what the engine counted for the parent execution: its history events, state
transitions and largest payload, which stay the same whatever the number of lines.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "shared") not in sys.path:
    sys.path.insert(0, str(ROOT / "shared"))

from stratoflow.local import LocalPlatform  # noqa: E402
from stratoflow.states import State  # noqa: E402

BATCH = """
id: one_batch
namespace: bench.items
inputs:
  - id: batch
    type: STRING
tasks:
  - id: log
    type: Log
    message: "batch {{ inputs.batch }}"
"""

PARENT = """
id: each_line
namespace: bench.items
inputs:
  - id: lines
    type: STRING
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ inputs.lines }}"
    batch:
      rows: {rows}
    namespace: bench.items
    flowId: one_batch
    inputs:
      batch: "{{ taskrun.items }}"
"""


def items_file(lines: int) -> bytes:
    """JSON Lines of small orders, as a Query task would store them."""
    return "".join(
        json.dumps({"order_id": n, "customer": f"c{n % 977}", "amount": n % 1000 / 10}) + "\n"
        for n in range(lines)
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratoflow-foreach-item-") as home:
        platform = LocalPlatform(Path(home))
        try:
            platform.deploy_source(BATCH, "one_batch.yaml")
            flow, record = platform.deploy_source(PARENT.replace("{rows}", str(args.rows)), "each_line.yaml")
            data = items_file(args.lines)
            uri = platform.blobs.put("namespaces/bench.items/files/lines.jsonl", data)  # a namespace file
            execution = platform.admit(flow, record, {"lines": uri})
            started = time.perf_counter()
            outcome = platform.run(execution)
            seconds = time.perf_counter() - started
        finally:
            platform.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    each = next(run for run in outcome.task_runs if run.task_id == "each")
    if each.error:
        print(f"each: {each.state}: {each.error}")
    result = outcome.result
    print(f"lines: {args.lines:,} ({len(data) / 1e6:.1f} MB), batches of {args.rows:,}")
    print(f"state: {outcome.execution.state}  wall: {seconds:.1f} s  peak RSS: {rss_mb:.0f} MB")
    print(f"batches: {each.outputs.get('numberOfBatches')}  executions: {each.outputs.get('iterations')}")
    print(
        f"parent execution: {result.history_events} history events, {result.transitions} state transitions "
        f"(children's included), largest payload {result.largest_payload:,} bytes"
    )
    return 0 if outcome.execution.state == State.SUCCESS else 1


if __name__ == "__main__":
    raise SystemExit(main())
