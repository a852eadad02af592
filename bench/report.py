"""The benchmark's report: per-workload tables, ratios against the peers, and the issue's targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.harness import Series

STRATOFLOW = "stratoflow"
FLOOR = "plain"
# Issue 8's targets for Stratoflow's local engine (whole-process median wall time).
WALL_TARGETS_S = {"w1_hello": 0.4, "w2_chain100": 0.5, "w3_fanout1000": 1.5}
RSS_TARGET_MB = 80.0  # megabytes (10^6 bytes), compared against the largest peak of every run
RATIO_TARGET = 0.3  # Stratoflow / fastest peer, per workload
MIB = 1024 * 1024

Results = Mapping[str, Mapping[str, Series]]  # workload -> variant -> series
Medians = Mapping[str, Mapping[str, float]]  # workload -> variant -> median seconds of one run

# Per-run medians on an idle machine of this project (peers: bench/peers/README.md; Stratoflow:
# bench/RESULTS.md): what the duration estimate uses when no earlier run on this machine left its own.
REFERENCE_MEDIANS_S: dict[str, dict[str, float]] = {
    "w1_hello": {"stratoflow": 0.35, "plain": 0.02, "dagster-memory": 1.35, "dagster-persistent": 1.92,
                 "prefect": 7.81, "airflow": 6.64},
    "w4_retry": {"stratoflow": 0.35, "plain": 0.01, "dagster-memory": 1.55, "dagster-persistent": 1.80,
                 "prefect": 8.20, "airflow": 7.62},
    "w2_chain100": {"stratoflow": 0.45, "plain": 0.01, "dagster-memory": 1.88, "dagster-persistent": 3.81,
                    "prefect": 8.07, "airflow": 14.63},
    "w3_fanout1000": {"stratoflow": 0.90, "plain": 0.01, "dagster-memory": 8.93, "dagster-persistent": 34.33,
                      "prefect": 12.98, "airflow": 61.68},
    # The peers run the same Python functions in W5/W6 as in W2/W3 (their tasks always were Python).
    "w5_python_chain100": {"plain": 0.01, "dagster-memory": 1.88, "dagster-persistent": 3.81,
                           "prefect": 8.07, "airflow": 14.63},
    "w6_python_fanout1000": {"plain": 0.01, "dagster-memory": 8.93, "dagster-persistent": 34.33,
                             "prefect": 12.98, "airflow": 61.68},
    # The peers run their W6 unchanged for W6 with concurrencyLimit 2 (their w6_python_fanout1000_c2.py).
    "w6_python_fanout1000_c2": {"plain": 0.01, "dagster-memory": 8.93, "dagster-persistent": 34.33,
                                "prefect": 12.98, "airflow": 61.68},
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    limit: str
    passed: bool | None  # None: could not be evaluated (no peer measured)

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")


def peers_of(variants: Mapping[str, Series]) -> dict[str, Series]:
    return {name: series for name, series in variants.items() if name not in (STRATOFLOW, FLOOR)}


def fastest_peer(variants: Mapping[str, Series]) -> str | None:
    peers = peers_of(variants)
    return min(peers, key=lambda name: peers[name].median_s) if peers else None


def workload_table(workload: str, variants: Mapping[str, Series]) -> list[str]:
    """A Markdown table: one row per variant, with Stratoflow's ratio against each peer."""
    strato = variants.get(STRATOFLOW)
    fastest = fastest_peer(variants)
    lines = [
        f"#### {workload}",
        "",
        "| variant | runs | median s | range s | peak RSS MiB (median, range) | Stratoflow / variant |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, series in variants.items():
        ratio = "" if strato is None or name == STRATOFLOW else f"{strato.median_s / series.median_s:.3f}"
        label = f"{name} (fastest peer)" if name == fastest else name
        lines.append(
            f"| {label} | {len(series.runs)} | {series.median_s:.3f} | {series.min_s:.3f}-{series.max_s:.3f} "
            f"| {series.median_rss:.1f} ({series.min_rss:.1f}-{series.max_rss:.1f}) | {ratio} |"
        )
    return [*lines, ""]


def targets(results: Results) -> list[Target]:
    found: list[Target] = []
    for workload, limit in WALL_TARGETS_S.items():
        series = results.get(workload, {}).get(STRATOFLOW)
        if series is not None:
            found.append(
                Target(
                    f"{workload} wall", f"{series.median_s:.3f} s", f"< {limit} s", series.median_s < limit
                )
            )
    peaks = [s.max_rss for variants in results.values() if (s := variants.get(STRATOFLOW)) is not None]
    if peaks:
        peak_mb = max(peaks) * MIB / 1e6
        found.append(
            Target("peak RSS", f"{peak_mb:.1f} MB", f"< {RSS_TARGET_MB:g} MB", peak_mb < RSS_TARGET_MB)
        )
    for workload, variants in results.items():
        strato, fastest = variants.get(STRATOFLOW), fastest_peer(variants)
        if strato is None:
            continue
        if fastest is None:
            found.append(Target(f"{workload} vs fastest peer", "no peer measured", f"< {RATIO_TARGET}", None))
            continue
        ratio = strato.median_s / variants[fastest].median_s
        found.append(
            Target(
                f"{workload} vs fastest peer ({fastest})",
                f"{ratio:.3f}",
                f"< {RATIO_TARGET}",
                ratio < RATIO_TARGET,
            )
        )
    return found


def targets_table(found: list[Target]) -> list[str]:
    lines = ["| target | measured | limit | verdict |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {t.name} | {t.value} | {t.limit} | {t.verdict} |" for t in found]
    return [*lines, ""]


def derived(results: Results) -> list[str]:
    """Per-task and per-mapped-item overheads, as bench/peers/README.md derives them (W2 and W3 against
    W1; for Python tasks, W5 and W6 against W1)."""
    lines = []
    for variant in {name for variants in results.values() for name in variants}:
        w1, w2, w3, w5, w6 = (
            results.get(w, {}).get(variant)
            for w in (
                "w1_hello",
                "w2_chain100",
                "w3_fanout1000",
                "w5_python_chain100",
                "w6_python_fanout1000",
            )
        )
        if w1 is None:
            continue
        cells = [
            f"{(w2.median_s - w1.median_s) / 99 * 1000:.2f}" if w2 else "",
            f"{(w3.median_s - w1.median_s):.2f}" if w3 else "",
            f"{(w5.median_s - w1.median_s) / 99 * 1000:.2f}" if w5 else "",
            f"{(w6.median_s - w1.median_s):.2f}" if w6 else "",
        ]
        if any(cells):
            lines.append(f"| {variant} | {' | '.join(cells)} |")
    if not lines:
        return []
    header = [
        "| variant | per-task overhead ms | per-mapped-item overhead ms "
        "| per Python task ms (W5) | per mapped Python item ms (W6) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    return [*header, *sorted(lines), ""]


def run_seconds(results: Results) -> dict[str, dict[str, float]]:
    """variant -> workload -> wall seconds of its counted runs, summed."""
    found: dict[str, dict[str, float]] = {}
    for workload, variants in results.items():
        for name, series in variants.items():
            found.setdefault(name, {})[workload] = sum(r.wall_s for r in series.runs)
    return found


def peers_seconds(results: Results) -> float:
    """The wall time of the peers' counted runs: the part of a full run Stratoflow cannot shorten."""
    spent = run_seconds(results)
    return sum(
        sum(by_workload.values()) for name, by_workload in spent.items() if name not in (STRATOFLOW, FLOOR)
    )


def time_table(results: Results) -> list[str]:
    """Where the counted runs' time went, by variant (slowest first), and the workload that took most."""
    spent = run_seconds(results)
    lines = ["| variant | counted runs min | most of it |", "| --- | ---: | --- |"]
    for name, by_workload in sorted(spent.items(), key=lambda item: -sum(item[1].values())):
        workload, seconds = max(by_workload.items(), key=lambda item: item[1])
        lines.append(f"| {name} | {sum(by_workload.values()) / 60:.1f} | {workload} {seconds / 60:.1f} min |")
    return [*lines, ""]


def medians_of(results: Results) -> dict[str, dict[str, float]]:
    """The per-run medians of a benchmark, kept for the next run's estimate."""
    return {w: {name: series.median_s for name, series in v.items()} for w, v in results.items()}


def expected_seconds(
    medians: Medians, variants: list[str], workloads: list[str], runs: int, warmup: bool
) -> tuple[float, list[str]]:
    """The expected wall time of the measured runs (warm-ups included: one run of the first workload
    per variant), and the (workload, variant) pairs no median is known for."""
    total, unknown = 0.0, []
    for index, workload in enumerate(workloads):
        count = runs + (1 if warmup and index == 0 else 0)
        for variant in variants:
            median = medians.get(workload, {}).get(variant)
            if median is None:
                unknown.append(f"{workload} {variant}")
            else:
                total += count * median
    return total, unknown


def failures_table(failures: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The variants whose run was incorrect, per workload, with the start of why (no figure for them)."""
    if not failures:
        return []
    lines = ["", "Failed runs (no figure; the benchmark went on without them):", ""]
    lines += ["| workload | variant | why |", "| --- | --- | --- |"]
    for workload, variants in failures.items():
        for name, why in variants.items():
            first = why.strip().splitlines()[0] if why.strip() else "?"
            lines.append(f"| {workload} | {name} | {first[:200].replace('|', '/')} |")
    return [*lines, ""]
