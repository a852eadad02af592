"""W6 with concurrencyLimit 2 (bench/flows/w6_python_fanout1000_c2.yaml) for this peer: its W6 run
unchanged, reported under this workload's name.

What runs: Dagster's in-process executor, one op at a time: the same run as its W6. Dagster's
parallel executor (multiprocess, which needs the persistent instance) starts a process per op, each
importing Dagster and this module: with `max_concurrent: 2` it took 87 s for 10 ops and 194 s for 30
on this machine (bench/RESULTS.md), so for 1,000 ops the in-process run stays the peer's fastest.
"""
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("w6_python_fanout1000.py")), run_name="__main__")
    print("RESULT w6_python_fanout1000_c2 dagster ok (its W6 run)")
