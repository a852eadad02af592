"""Whole-process measurement: wall time and peak RSS of one command, and its correctness check.

As bench/peers/measure.py: the wall time runs from the start of the process to its reaping (imports,
state set-up, the run and shutdown included), and the peak RSS is `ru_maxrss` of the process as
`os.wait4` reports it (the largest of it and the children it waited for). A run that exits non-zero or
fails its check raises `IncorrectRun`: it is never reported as a figure.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# (exit code, stdout) -> None when the run is correct, else why it is not.
Check = Callable[[int, str], "str | None"]


class IncorrectRun(RuntimeError):
    """A measured process did not complete its workload correctly."""


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mib: float


def measure(
    command: Sequence[str],
    check: Check,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    label: str = "",
) -> Measurement:
    """Run `command` once; raises IncorrectRun (with the end of its output) when `check` refuses it."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    out, err = _drain(process)  # both pipes to their ends, so a chatty child never blocks
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    problem = check(code, text)
    if problem is not None:
        tail = (err.decode(errors="replace")[-800:] + "\n" + text[-400:]).strip()
        raise IncorrectRun(f"{label or command[0]}: incorrect run ({problem}); exit {code}\n{tail}")
    return Measurement(wall, usage.ru_maxrss / 1024)


def _drain(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Read stdout and stderr to their ends without reaping the process (wait4 must do that)."""
    import selectors

    assert process.stdout is not None and process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    with selectors.DefaultSelector() as selector:
        selector.register(out_fd, selectors.EVENT_READ)
        selector.register(err_fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
    process.stdout.close()
    process.stderr.close()
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def result_line_check(workload: str, peer: str) -> Check:
    """The peers' contract: exit 0 and a line `RESULT <workload> <peer> ok ...`."""
    prefix = f"RESULT {workload} {peer} ok"

    def check(code: int, out: str) -> str | None:
        if code != 0:
            return "non-zero exit"
        if not any(line.startswith(prefix) for line in out.splitlines()):
            return f"no '{prefix}' line"
        return None

    return check


@dataclass(frozen=True)
class Series:
    """The counted runs of one variant on one workload."""

    runs: tuple[Measurement, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def min_s(self) -> float:
        return min(r.wall_s for r in self.runs)

    @property
    def max_s(self) -> float:
        return max(r.wall_s for r in self.runs)

    @property
    def median_rss(self) -> float:
        return statistics.median(r.peak_rss_mib for r in self.runs)

    @property
    def max_rss(self) -> float:
        return max(r.peak_rss_mib for r in self.runs)

    @property
    def min_rss(self) -> float:
        return min(r.peak_rss_mib for r in self.runs)
