"""Soak benchmark of `strato server`: a real server process under a steady load, on loopback only.

    .venv/bin/python bench/soak.py                    # 3 minutes (the default)
    .venv/bin/python bench/soak.py --minutes 15       # the issue-24 soak
    .venv/bin/python bench/soak.py --json-out /tmp/soak.json

What runs at once, for `--minutes`:
- a schedule firing every minute (`tick`);
- waited webhooks (`?wait=true`) on a 1-task flow: 20 one at a time on the idle server, then a burst
  of `--burst` concurrent requests, then `--rate` per second for the whole run;
- a Flow trigger (`after_hook`) on every successful webhook execution, and on `upstream`, which a
  separate `strato run` process runs every 30 s on the same home (the server must see those ends too);
- a flow limited to 2 concurrent executions (a 1 s Sleep each) fed faster than it drains;
- a redeploy of one flow file every 20 s.
Then SIGTERM, and the history is read back.

Reported: missed and doubled schedule fires, webhook requests lost (no answer, or no execution) and
their latency percentiles, Flow-trigger starts against the upstream ends they answer (and the lag),
the limited flow's highest concurrency, the server's RSS / open fds / threads sampled every 5 s with
their slope per minute after the first minute, tracebacks in its output, and its shutdown.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

KEY = "soakKey0123456789abcdef"
FLOWS = {
    "tick.yaml": """
id: tick
namespace: soak
tasks: [{id: t, type: Return, format: tick}]
triggers: [{id: every_minute, type: Schedule, cron: "* * * * *"}]
""",
    "hook.yaml": f"""
id: hook
namespace: soak
tasks: [{{id: answer, type: Return, format: "{{{{ trigger.body.n }}}}"}}]
outputs: [{{id: n, type: STRING, value: "{{{{ outputs.answer.value }}}}"}}]
triggers: [{{id: http, type: Webhook, key: {KEY}}}]
""",
    "upstream.yaml": """
id: upstream
namespace: soak
tasks: [{id: u, type: Return, format: up}]
""",
    "after_hook.yaml": """
id: after_hook
namespace: soak
tasks: [{id: a, type: Return, format: after}]
triggers:
  - id: on_hook
    type: Flow
    states: [SUCCESS]
    conditions: [{type: ExecutionFlow, namespace: soak, flowId: hook}]
  - id: on_upstream
    type: Flow
    states: [SUCCESS]
    conditions: [{type: ExecutionFlow, namespace: soak, flowId: upstream}]
""",
    "limited.yaml": f"""
id: limited
namespace: soak
concurrency: {{limit: 2, behavior: QUEUE}}
tasks: [{{id: nap, type: Sleep, duration: PT1S}}]
triggers: [{{id: http, type: Webhook, key: {KEY}}}]
""",
}
UPSTREAMS = ("hook", "upstream")  # the flows whose successes start after_hook
REDEPLOYED = "upstream.yaml"


class Server:
    def __init__(self, flows: Path, home: Path) -> None:
        strato = Path(sys.executable).with_name("strato")
        self.process = subprocess.Popen(
            [str(strato), "server", "--flows-dir", str(flows), "--home", str(home), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(60):
            raise SystemExit("the server did not start:\n" + "\n".join(self.lines))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            found = re.search(r"webhooks on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                self.port = int(found.group(1))
            if self.port and sum("deployed" in x for x in self.lines) >= len(FLOWS):
                self._ready.set()

    def sample(self) -> dict[str, float]:
        pid = self.process.pid
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
        return {"t": time.monotonic(), "rss_mib": rss, "fds": fds, "threads": threads}


def post(url: str, body: dict[str, Any], timeout: float = 60.0) -> tuple[int | None, float, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, time.perf_counter() - started, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, time.perf_counter() - started, {}
    except OSError:  # reset, refused, timed out: a lost request
        return None, time.perf_counter() - started, {}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def slope_per_minute(samples: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of `key` over time, per minute, after the first minute (warm-up)."""
    start = samples[0]["t"] + 60 if samples else 0
    points = [(s["t"], s[key]) for s in samples if s["t"] >= start] or [(s["t"], s[key]) for s in samples]
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return round(sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60, 3) if spread else 0.0


def history(home: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with sqlite3.connect(home / "stratoflow.db") as db:
        executions = [json.loads(row[0]) for row in db.execute("SELECT data FROM executions")]
        runs = [json.loads(row[0]) for row in db.execute("SELECT data FROM task_runs WHERE task_id = 'nap'")]
    return executions, runs


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    running = highest = 0
    for _, step in events:
        running += step
        highest = max(highest, running)
    return highest


def soak(minutes: float, rate: float, burst: int, keep: bool = False) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="stratoflow-soak-"))
    flows, home = root / "flows", root / "home"
    flows.mkdir()
    for name, text in FLOWS.items():
        (flows / name).write_text(text)
    server = Server(flows, home)
    base = f"http://127.0.0.1:{server.port}/webhook/soak"
    began_wall, began = datetime.now().astimezone(), time.monotonic()
    deadline = began + minutes * 60
    samples: list[dict[str, float]] = [server.sample()]
    answers: list[tuple[int | None, float]] = []
    limited_answers: list[int | None] = []
    strato_runs: list[int] = []
    redeploys = 0

    # Waited requests one at a time on the idle server: the answer must follow the end at once.
    idle_answers = [post(f"{base}/hook/{KEY}?wait=true", {"n": -n})[:2] for n in range(1, 21)]

    # A burst: every request at once.
    with ThreadPoolExecutor(burst) as pool:
        burst_answers = list(pool.map(lambda n: post(f"{base}/hook/{KEY}", {"n": n})[:2], range(burst)))

    def waited_load() -> None:
        n = 0
        with ThreadPoolExecutor(16) as pool:
            while time.monotonic() < deadline:
                n += 1
                pool.submit(lambda n=n: answers.append(post(f"{base}/hook/{KEY}?wait=true", {"n": n})[:2]))
                if n % 2 == 0:  # the limited flow gets a start per second at rate 2: more than it drains
                    pool.submit(lambda: limited_answers.append(post(f"{base}/limited/{KEY}", {})[0]))
                time.sleep(1 / rate)

    def side_load() -> None:
        nonlocal redeploys
        strato = Path(sys.executable).with_name("strato")
        last_run = last_deploy = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now - last_run >= 30:
                last_run = now
                done = subprocess.run(
                    [str(strato), "run", str(flows / "upstream.yaml"), "--json", "--home", str(home)],
                    capture_output=True,
                )
                strato_runs.append(done.returncode)
            if now - last_deploy >= 20:
                last_deploy = now
                redeploys += 1
                (flows / REDEPLOYED).write_text(FLOWS[REDEPLOYED] + f"description: redeploy {redeploys}\n")
            if len(samples) == 0 or now - samples[-1]["t"] >= 5:
                samples.append(server.sample())
            time.sleep(0.5)

    workers = [threading.Thread(target=waited_load), threading.Thread(target=side_load)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    time.sleep(3)  # the last waited answers, flow triggers and queued starts
    samples.append(server.sample())
    ended_wall = datetime.now().astimezone()
    stopping = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    exit_code = server.process.wait(120)
    shutdown_s = time.monotonic() - stopping
    executions, naps = history(home)
    by_flow: dict[str, list[dict[str, Any]]] = {}
    for execution in executions:
        by_flow.setdefault(execution["flowId"], []).append(execution)

    # Schedule: one fire per minute boundary the server was up for.
    expected_fires = int(ended_wall.timestamp() // 60) - int(began_wall.timestamp() // 60)
    fire_dates = Counter((e.get("trigger") or {}).get("date") for e in by_flow.get("tick", []))
    # Flow triggers: one after_hook per successful upstream end, started by it.
    upstream_ends = {e["id"]: e for f in UPSTREAMS for e in by_flow.get(f, []) if e["state"] == "SUCCESS"}
    downstream = [e for e in by_flow.get("after_hook", []) if (e.get("trigger") or {}).get("executionId")]
    triggered = Counter(e["trigger"]["executionId"] for e in downstream)
    lags = [
        (when(e["startDate"]) - when(upstream_ends[e["trigger"]["executionId"]]["endDate"])).total_seconds()  # type: ignore[operator]
        for e in downstream
        if e["trigger"]["executionId"] in upstream_ends
    ]
    sent = len(answers) + burst + len(idle_answers)
    ok = sum(1 for status, _ in answers + burst_answers + idle_answers if status == 200)
    nap_intervals = [(when(r["startDate"]), when(r["endDate"])) for r in naps if r.get("endDate")]
    tracebacks = [i for i, line in enumerate(server.lines) if "Traceback" in line]
    first_traceback = server.lines[max(0, tracebacks[0] - 2) : tracebacks[0] + 40] if tracebacks else []
    report = {
        "minutes": minutes,
        "schedule": {
            "expected": expected_fires,
            "fired": len(by_flow.get("tick", [])),
            "missed": max(0, expected_fires - len(fire_dates)),
            "doubled": sum(count - 1 for count in fire_dates.values()),
        },
        "webhooks": {
            "sent": sent,
            "answered_200": ok,
            "lost": sent - ok,
            "executions": len(by_flow.get("hook", [])),
            "states": dict(Counter(e["state"] for e in by_flow.get("hook", []))),
            "waited_latency_idle": percentiles(
                [seconds for status, seconds in idle_answers if status == 200]
            ),
            "waited_latency": percentiles([seconds for status, seconds in answers if status == 200]),
            "burst": {"size": burst, "lost": sum(1 for s, _ in burst_answers if s != 200)}
            | percentiles([seconds for _, seconds in burst_answers]),
        },
        "flow_triggers": {
            "upstream_successes": len(upstream_ends),
            "of_them_by_strato_run": len([e for e in by_flow.get("upstream", []) if e["state"] == "SUCCESS"]),
            "strato_run_exit_codes": dict(Counter(strato_runs)),
            "started": len(downstream),
            "missed": len(set(upstream_ends) - set(triggered)),
            "doubled": sum(count - 1 for count in triggered.values()),
            "lag": percentiles(lags),
        },
        "concurrency": {
            "limit": 2,
            "started": len(limited_answers),
            "max_concurrent": max_overlap(nap_intervals),  # type: ignore[arg-type]
            "states": dict(Counter(e["state"] for e in by_flow.get("limited", []))),
        },
        "redeploys": {"written": redeploys, "revisions": _revisions(home)},
        "process": {
            "rss_mib_first_last": [round(samples[0]["rss_mib"], 1), round(samples[-1]["rss_mib"], 1)],
            "rss_mib_per_min": slope_per_minute(samples, "rss_mib"),
            "fds_first_last": [samples[0]["fds"], samples[-1]["fds"]],
            "fds_per_min": slope_per_minute(samples, "fds"),
            "threads_first_last": [samples[0]["threads"], samples[-1]["threads"]],
            "threads_per_min": slope_per_minute(samples, "threads"),
            "log_lines": len(server.lines),
            "tracebacks": len(tracebacks),
            "first_traceback": first_traceback,
        },
        "shutdown": {"signal": "SIGTERM", "exit_code": exit_code, "seconds": round(shutdown_s, 2)},
        "home": str(home) if keep else None,
    }
    if not keep:
        shutil.rmtree(root)
    return report


def _revisions(home: Path) -> int:
    with sqlite3.connect(home / "stratoflow.db") as db:
        row = db.execute("SELECT COUNT(*) FROM flows WHERE flow_id = 'upstream'").fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="How long the load runs (default 3).")
    parser.add_argument("--rate", type=float, default=2.0, help="Waited webhook requests per second.")
    parser.add_argument("--burst", type=int, default=200, help="Concurrent requests of the first burst.")
    parser.add_argument("--json-out", type=Path, help="Also write the figures to this file.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary home (its path is reported).")
    args = parser.parse_args()
    report = soak(args.minutes, args.rate, args.burst, args.keep)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)


if __name__ == "__main__":
    main()
