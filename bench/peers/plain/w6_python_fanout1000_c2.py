"""W6 with concurrencyLimit 2 (bench/flows/w6_python_fanout1000_c2.yaml) for this peer: its W6 run
unchanged, reported under this workload's name.

What runs: a plain loop, as in its W6 (the same run): the floor.
"""
import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("w6_python_fanout1000.py")), run_name="__main__")
    print("RESULT w6_python_fanout1000_c2 plain ok (its W6 run)")
