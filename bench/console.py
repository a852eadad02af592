"""The web console's speed on a large history: time to first byte and time to a usable page.

    .venv/bin/python bench/console.py                 # 100,000 executions, 5 runs, chromium if present
    .venv/bin/python bench/console.py --executions 2000 --runs 2 --no-browser   # a smoke run

Set-up (not measured): a fresh home; `strato run` of bench/flows/w3_fanout1000.yaml (one execution
with 1,003 task runs: produce, the ForEach, 1,000 iterations of `double`, summarize) and 100,000
more executions of that flow and of 19 others in 20 namespaces, all states, over 90 days, written
through the SQLite store; then `strato server --flows-dir <the flow> --home <it>` on a free port.

Measured, each `--runs` times (the median and range are printed):

- TTFB: request sent to the first byte of the answer (status line), for the page's HTML shell and
  for the main API call of the page, on a new connection each time; and for the list's filters
  (namespace, flow + state, a label, a time range);
- usable (HTTP): the HTML shell, its stylesheet and modules, then the API calls the page makes to
  render (as executions.js / execution.js make them), one after the other: an upper bound of what a
  browser spends on the network, without rendering;
- usable (browser): Debian's chromium, headless, through chromedriver: from navigation start to the
  moment the page shows its data (the executions table has its rows; the execution's Gantt is drawn),
  read from the page's own clock (`performance.now()`), and DOMContentLoaded.

Target: usable under 1 s for both pages (no UI budget is published by Kestra or Airflow; see
bench/RESULTS.md for the user-reported figures of Airflow's grid view).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STRATO = REPO / ".venv" / "bin" / "strato"
FLOW = REPO / "bench" / "flows" / "w3_fanout1000.yaml"
TARGET_S = 1.0
MODULES = ["/static/console.css", "/static/main.js", "/static/dom.js", "/static/api.js", "/static/flows.js",
           "/static/forms.js", "/static/topology.js", "/static/executions.js", "/static/execution.js",
           "/static/gantt.js"]  # fmt: skip


def build_history(home: Path, executions: int) -> str:
    """The big execution (run for real) and `executions` more, written through the store; its id."""
    flows = home / "flows"
    flows.mkdir(parents=True)
    shutil.copy(FLOW, flows / FLOW.name)
    done = subprocess.run(
        [str(STRATO), "run", str(flows / FLOW.name), "--json", "--home", str(home / "history")],
        capture_output=True,
        text=True,
        check=True,
    )
    big = json.loads(done.stdout)
    big_id = str(big["executionId"])

    from stratoflow.domain import Execution
    from stratoflow.states import State
    from stratoflow.store.sqlite import SqliteExecutionStore

    store = SqliteExecutionStore(home / "history" / "stratoflow.db")
    states = [State.SUCCESS] * 12 + [State.FAILED, State.WARNING, State.KILLED, State.RUNNING]
    pick = random.Random(20)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(executions):
        namespace, flow_id = ("bench", "w3_fanout1000") if n % 20 == 0 else (f"team{n % 20}", f"flow{n % 7}")
        start = now - timedelta(seconds=pick.uniform(60, 90 * 86_400))
        state = pick.choice(states)
        store.create_execution(
            Execution(
                id=f"hist-{n:06d}",
                namespace=namespace,
                flow_id=flow_id,
                revision=1,
                state=state,
                labels={"team": f"t{n % 5}"},
                start_date=start,
                end_date=None if state == State.RUNNING else start + timedelta(seconds=pick.uniform(1, 600)),
            )
        )
    store.close()
    print(
        f"history: {executions:,} executions written in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return big_id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    command = [str(STRATO), "server", "--flows-dir", str(home / "flows"), "--home", str(home / "history")]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(port, "/api/v1/flows")[0] == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("strato server did not answer within 60 s")


def get(port: int, path: str) -> tuple[int, bytes, float]:
    """(status, body, seconds to the first byte of the answer) on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        sent = time.perf_counter()
        connection.request("GET", path, headers={"accept": "application/json, text/html"})
        response = connection.getresponse()  # returns once the status line and headers are read
        first_byte = time.perf_counter() - sent
        return response.status, response.read(), first_byte
    finally:
        connection.close()


def checked(port: int, path: str) -> bytes:
    status, body, _ = get(port, path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return body


def usable_http(port: int, shell: str, api_calls: Callable[[], None]) -> float:
    started = time.perf_counter()
    checked(port, shell)
    for module in MODULES:
        checked(port, module)
    api_calls()
    return time.perf_counter() - started


def list_calls(port: int) -> Callable[[], None]:
    def calls() -> None:
        page = json.loads(checked(port, "/api/v1/executions?limit=50"))
        if len(page["executions"]) != 50:
            raise RuntimeError(f"the list has {len(page['executions'])} rows, not 50")

    return calls


def execution_calls(port: int, execution_id: str) -> Callable[[], None]:
    path = f"/api/v1/executions/{execution_id}"

    def calls() -> None:
        execution = json.loads(checked(port, path))
        runs = json.loads(checked(port, f"{path}/taskruns"))["taskRuns"]
        if len(runs) < 1000:
            raise RuntimeError(f"the execution has {len(runs)} task runs, not 1,000+")
        flow = f"/api/v1/flows/{execution['namespace']}/{execution['flowId']}"
        checked(port, flow)
        checked(port, f"{flow}/topology?revision={execution['revision']}")
        checked(port, f"{path}/files")
        checked(port, f"{path}/logs")  # what the stream sends first, as one page

    return calls


def browser_timings(port: int, url_path: str, ready_script: str) -> tuple[float, float] | None:
    """(DOMContentLoaded, data shown) in seconds from navigation start, in headless chromium."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver_path:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(f"http://127.0.0.1:{port}/ui/flows")  # warm the browser itself (not the page's cache)
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        driver.get(f"http://127.0.0.1:{port}{url_path}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = driver.execute_script(f"return ({ready_script}) ? performance.now() : null")
            if shown is not None:
                loaded = driver.execute_script(
                    "const t = performance.getEntriesByType('navigation')[0]; return t.domContentLoadedEventEnd;"
                )
                return float(loaded) / 1000, float(shown) / 1000
            time.sleep(0.005)
        raise RuntimeError(f"{url_path}: the page did not show its data within 60 s")
    finally:
        driver.quit()


def summary(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ms (range {min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="stratoflow-console-bench-"))
    big_id = build_history(home, args.executions)
    port = free_port()
    server = start_server(home, port)
    pages = {
        "executions list": ("/ui/executions", "/api/v1/executions?limit=50", list_calls(port),
                            "document.querySelectorAll('#executions tbody tr').length >= 50"),
        "execution (1,003 task runs)": (f"/ui/executions/{big_id}", f"/api/v1/executions/{big_id}/taskruns",
                                       execution_calls(port, big_id), "document.querySelector('svg.gantt')"),
    }  # fmt: skip
    figures: dict[str, dict[str, list[float]]] = {}
    try:
        for name, (shell, api, calls, ready) in pages.items():
            usable_http(port, shell, calls)  # warm-up, not counted (imports, SQLite page cache)
            runs: dict[str, list[float]] = {"TTFB shell": [], "TTFB API": [], "usable (HTTP)": []}
            for _ in range(args.runs):
                runs["TTFB shell"].append(get(port, shell)[2])
                runs["TTFB API"].append(get(port, api)[2])
                runs["usable (HTTP)"].append(usable_http(port, shell, calls))
                if not args.no_browser:
                    timing = browser_timings(port, shell, ready)
                    if timing is not None:
                        runs.setdefault("DOMContentLoaded (browser)", []).append(timing[0])
                        runs.setdefault("usable (browser)", []).append(timing[1])
            figures[name] = runs
        # The list's filters: each served by an index, a label by a bounded scan of the newest.
        filters = {
            "list: namespace": "namespace=team3",
            "list: flow + state": "namespace=bench&flowId=w3_fanout1000&state=FAILED",
            "list: label (1 in 5 match)": "label=team:t3",
            "list: 30 days ago": f"until={(datetime.now(UTC) - timedelta(days=30)).strftime('%Y-%m-%dT%H:%M:%S')}",
        }
        figures["executions list, filtered (TTFB API)"] = {
            what: [get(port, f"/api/v1/executions?limit=50&{query}")[2] for _ in range(args.runs)]
            for what, query in filters.items()
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(home, ignore_errors=True)

    print(f"history: {args.executions:,} executions + 1 with 1,003 task runs; {args.runs} runs each; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for name, runs in figures.items():
        print(f"\n{name}")
        for what, values in runs.items():
            verdict = ""
            if what.startswith("usable"):
                verdict = "  within 1 s" if statistics.median(values) < TARGET_S else "  OVER 1 s"
            print(f"  {what:28} {summary(values)}{verdict}")
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
