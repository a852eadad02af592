"""The run-time import budget of `strato run` and of each Lambda handler, against a baseline commit.

    .venv/bin/python -m bench.import_budget                      # against 8b7d62e, 5 runs each
    .venv/bin/python -m bench.import_budget --baseline main --runs 3
    .venv/bin/python -m bench.import_budget --against arch-cloud   # a branch, without checking it out

The baseline's tree (`git archive`, nothing checked out) and this checkout (or `--against`) are
measured by the same interpreter, turn about, so both see the same load: what the import costs
(`python -X importtime`, the cumulative time of every top-level import of the process) and what it
loads. The counts do not depend on the machine's load. The budget a refactor of our code must not
raise is the modules of other packages (standard library and third-party: boto3, jinja2, ssl at a
handler's INIT would show here). Stratoflow's own modules are counted and weighed (KB of source) but
not judged: splitting a module raises its count, not its weight; a package whose `__init__` is only a
docstring is a folder and not counted. The milliseconds say how much that weighs on this machine.
A handler is imported as Lambda's
INIT does (settings from dummy variables, nothing called: `bench.cold_start.handler_env`); `strato
run` runs examples/hello.yaml a second time on the same home (the first deploys it, compiling it),
so it imports what an unchanged flow's run needs.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `bench` is in the checkout
    sys.path.insert(0, str(ROOT))

from bench.cold_start import LINE, handler_env  # noqa: E402 (after the path set-up above)

BASELINE = "8b7d62e"  # main's first commit of 2026-12-07, before issue 18's restructuring
HANDLERS = ("task_runner", "admission", "execution_events", "deployer", "webhook")
RUN = "strato run"
# A third-party package's lazy submodules (pydantic.fields) come and go with the order of imports:
# that much is noise, a new SDK or a task family at INIT is not.
SLACK_MODULES = 2


@dataclass(frozen=True)
class Imports:
    """What one fresh process imported before (and while) doing its work."""

    ms: float
    others: int  # modules of the standard library and third-party packages
    stratoflow: int  # Stratoflow's modules (folders not counted)
    stratoflow_kb: float  # the size of their source: a module split in two weighs the same

    def heavier_than(self, baseline: Imports) -> bool:
        """More of other packages' modules: what a refactor of our own code must not pull in."""
        return self.others > baseline.others + SLACK_MODULES


def is_folder(name: str, tree: Path) -> bool:
    """A Stratoflow package whose __init__ holds nothing but a docstring: a room, not code.

    Issue 18 moved modules into such packages (execution/, cloud/deploy/...): counting them would
    call a move a heavier import.
    """
    init = tree / "shared" / Path(*name.split(".")) / "__init__.py"
    if not init.is_file():
        return False
    body = ast.parse(init.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def parse(importtime: str, tree: Path) -> Imports:
    """Sum the top-level imports of a `-X importtime` report and count the modules it names."""
    total_us, names = 0, set()
    for match in LINE.finditer(importtime):
        _own, cumulative, indent, name = match.groups()
        if not (name.split(".")[0] == "stratoflow" and is_folder(name, tree)):
            names.add(name)
        if len(indent) == 1:
            total_us += int(cumulative)
    ours = [name for name in names if name.split(".")[0] == "stratoflow"]
    size = sum(_source(name, tree).stat().st_size for name in ours if _source(name, tree).is_file())
    return Imports(total_us / 1000, len(names) - len(ours), len(ours), size / 1000)


def _source(module: str, tree: Path) -> Path:
    path = tree / "shared" / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def probe(target: str, tree: Path, home: Path) -> list[str]:
    """The Python code that imports (or runs) `target` from `tree`."""
    if target == RUN:
        flow, folder = tree / "examples" / "hello.yaml", str(home)
        return [
            "-c",
            "import sys; from stratoflow.cli.main import main\n"
            f"try: main(['run', {str(flow)!r}, '--json', '--skip-waits', '--home', {folder!r}])\n"
            "except SystemExit as end: sys.exit(end.code)\n",
        ]
    return ["-c", f"import sys; sys.path.insert(0, {str(tree / 'functions' / target)!r}); import handler"]


def measure(target: str, tree: Path, home: Path, env: dict[str, str]) -> Imports:
    # PYTHONPATH puts the tree's library before the checkout's editable install.
    env = {**env, "PYTHONPATH": str(tree / "shared"), "STRATOFLOW_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *probe(target, tree, home)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tree,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{target} in {tree}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return parse(done.stderr, tree)


def extract(revision: str, into: Path, name: str) -> Path:
    """The files of `revision` (only what the probes read), without touching the checkout."""
    archive = into / f"{name}.tar"
    with archive.open("wb") as handle:
        subprocess.run(
            ["git", "archive", revision, "shared", "functions", "examples"],
            cwd=ROOT,
            stdout=handle,
            check=True,
        )
    tree = into / name
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def row(target: str, before: list[Imports], after: list[Imports]) -> str:
    was, now = statistics.median(i.ms for i in before), statistics.median(i.ms for i in after)
    b, a = before[0], after[0]
    return (
        f"| {target} | {was:.0f} | {now:.0f} | {now - was:+.0f} | {b.others} | {a.others} "
        f"| {b.stratoflow} | {a.stratoflow} | {b.stratoflow_kb:.0f} | {a.stratoflow_kb:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default=BASELINE, help="a commit, branch or tag (default: %(default)s)")
    parser.add_argument("--against", help="a commit or branch to measure instead of this checkout's files")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", nargs="*", default=[RUN, *HANDLERS])
    args = parser.parse_args(argv)
    env = handler_env()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    lines = [
        f"Import budget: baseline {args.baseline} against {args.against or f'this checkout ({head.stdout.strip()})'}, "
        f"median of {args.runs} runs each, turn about.",
        "",
        "| target | ms before | ms now | change ms | other modules before | now "
        "| stratoflow modules before | now | stratoflow KB before | now |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    worse = []
    with tempfile.TemporaryDirectory(prefix="import-budget-") as scratch:
        now = extract(args.against, Path(scratch), "now") if args.against else ROOT
        trees = {"baseline": extract(args.baseline, Path(scratch), "baseline"), "now": now}
        for target in args.targets:
            homes = {name: Path(scratch) / f"home-{name}-{target.replace(' ', '-')}" for name in trees}
            for name, tree in trees.items():
                measure(target, tree, homes[name], env)  # warm-up: byte-code caches, the flow deployed
            runs: dict[str, list[Imports]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    runs[name].append(measure(target, tree, homes[name], env))
            lines.append(row(target, runs["baseline"], runs["now"]))
            if runs["now"][0].heavier_than(runs["baseline"][0]):
                worse.append(target)
    print("\n".join(lines))
    if worse:
        print(f"\nHEAVIER than the baseline (other packages' modules): {', '.join(worse)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
