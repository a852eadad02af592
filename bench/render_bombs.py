"""Peak memory and time of the worst templates we found (memory and time bombs), each rendered in its
own process so one's peak RSS does not hide another's. Not a test: run it to see the numbers.

    .venv/bin/python bench/render_bombs.py

Each template is given `s`, a 16.5 MB string of 11-character pieces (the issue's attack), and `n`, a long
list. A render that goes over a budget fails with an error naming the budget; the table shows the
peak RSS it reached before that and how long it took to fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

BOMBS = {
    "six splits (issue 15)": "{{ s.split(',') | length + s.split(',') | length + s.split(',') | length "
    "+ s.split(',') | length + s.split(',') | length + s.split(',') | length }}",
    "six splits kept": "{% set a = s.split(',') %}{% set b = s.split(',') %}{% set c = s.split(',') %}"
    "{% set d = s.split(',') %}{% set e = s.split(',') %}{% set f = s.split(',') %}{{ a | length }}",
    "split filter": "{{ s | split(',') | length }}",
    "split to characters": "{{ s | split('') | length }}",
    "splitlines": "{{ s.splitlines() | length }}",
    "replace growth": "{{ s | replace(',', ',,,,,,,,') | length }}",
    "join of a split": "{{ s | split(',') | join('----') | length }}",
    "repeat": "{{ ('x' * 10000000 ~ 'y' * 10000000) | length }}",
    "loop of concatenations": "{% set t = s %}{% for i in range(10) %}{% set t = t ~ s %}{% endfor %}{{ t | length }}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "json indent of a deep list": "{{ n | toJson(indent=100000) | length }}",
    "jq range": "{{ 1 | jq('[range(100000000)] | length') }}",
    "chunk": "{{ (s | split(',')) | chunk(1) | length }}",
    "distinct": "{{ s | split(',') | distinct | length }}",
    "macro recursion": "{% macro f(x) %}{{ f(x) ~ f(x) }}{% endmacro %}{{ f(1) }}",
    "big number": "{{ 9 ** (9 ** 9) }}",
    "split then upper": "{{ (s | split(',') | join('') | upper | split('A') | length) }}",
    "fromJson of a split": "{{ (s | split(',') | toJson | fromJson) | length }}",
    "urlencode growth": "{{ (s ~ s ~ s) | urlencode | length }}",
}

_CHILD = """
import json, resource, sys, time
from stratoflow.expressions import render
template = sys.argv[1]
context = {"s": "abcdefghij," * 1_500_000, "n": [[[[[[[[[[1]]]]]]]]]]}
start = time.perf_counter()
try:
    render(template, context)
    outcome = "rendered"
except Exception as error:
    outcome = f"{type(error).__name__}: {str(error)[:90]}"
print(json.dumps({"seconds": time.perf_counter() - start, "outcome": outcome,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    print("| template | peak RSS (MB) | seconds | outcome |\n| --- | ---: | ---: | --- |")
    for name, template in BOMBS.items():
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, template], capture_output=True, text=True, timeout=60
            )
            result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
        except subprocess.TimeoutExpired:
            result = None
        if result is None:
            print(f"| {name} | ? | >{time.perf_counter() - started:.0f} | no answer |")
            continue
        print(f"| {name} | {result['rss_mb']:.0f} | {result['seconds']:.2f} | {result['outcome']} |")


if __name__ == "__main__":
    main()
