"""Cold start of the Lambda functions: handler import time, and the size of what each function carries.

    .venv/bin/python -m bench.cold_start            # 5 counted imports per handler + the layer's size
    .venv/bin/python -m bench.cold_start --quick    # 1 import per handler, no layer download
    .venv/bin/python -m bench.cold_start --quick --first-call   # and the task runner's first calls

Import time: `python -X importtime` of `functions/<name>/handler.py` in a fresh process, with the
settings variables set to dummy values (nothing is called, no request is sent, moto is not involved).
Each handler is imported once first (the warm-up writes the byte-code caches), then counted. The
figure is the `handler` module's cumulative time, which includes everything it imports
(Powertools, pydantic, the library) and its module-level set-up. The library creates boto3 clients on
first use (`stratoflow.cloud.config.lazy`), so the same process then measures what the first invocation adds:
importing boto3 and creating the clients its first request needs ("first use"). The heaviest imports
under the handler are listed, to show where the time goes. This machine runs CPython 3.11 on x86-64;
Lambda runs 3.12 on arm64, so the figures are indicative.

The last column imports the handler without any byte code, as Lambda does (`import_without_byte_code`): the
layer ships no `.pyc` and is read-only, so a cold start compiles every module it imports.

First calls (`--first-call`, and every full run): the task runner's import and its first four
invocations in one fresh process, on moto served over loopback (`bench/first_invocation.py`): a cut
of the import that only moves work into the first invocation shows there.

Size: the layer's third-party packages, installed exactly as the CDK bundling does
(`infra.bundling.LayerBundler.pip_command`: manylinux2014_aarch64, CPython 3.12, binary wheels only;
cached under --cache-dir), plus the `stratoflow` library and the function's own folder. The run fails
loudly (exit 1) when CDK, moto or a CLI-only package would be in a function's package, or is imported
by a handler.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (`python bench/cold_start.py`): `infra` is in the checkout
    sys.path.insert(0, str(ROOT))
FUNCTIONS = ROOT / "functions"
LIBRARY = ROOT / "shared" / "stratoflow"
REQUIREMENTS = ROOT / "infra" / "lambda-requirements.txt"
DEFAULT_CACHE = Path("/tmp/stratoflow-peers/lambda-layer")
HANDLERS = ("task_runner", "admission", "script_sandbox")
IMPORT_TARGET_MS = 300.0
# Distribution top-level names that must never reach a function: CDK, test tools, CLI-only packages.
FORBIDDEN_IMPORTS = ("aws_cdk", "constructs", "jsii", "cdk_nag", "moto", "click", "rich", "pytest")
# The layer carries boto3 and botocore on purpose (the pinned SDK the tests ran, not the runtime's):
# only CDK, test and CLI-only packages are refused in it.
FORBIDDEN = FORBIDDEN_IMPORTS
LAMBDA_UNZIPPED_LIMIT_MB = 250.0
LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
# The clients each handler's first invocation creates (the others wait for a request that needs them).
FIRST_USE = {"task_runner": ("dynamodb",), "admission": ("dynamodb", "stepfunctions"), "script_sandbox": ()}
# What the stack sets on every platform function beyond settings and names (infra/constructs/functions.py
# RUNTIME_ENVIRONMENT; tests/infrastructure compares the two): importing aws_cdk here would cost seconds.
FUNCTION_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
# Settings that hold JSON (the deployer parses them at INIT): an empty object, not a dummy word.
JSON_SETTINGS = ("stratoflow_namespace_grants", "stratoflow_namespace_boundaries")
FIRST_USE_LINE = re.compile(r"^FIRST_USE_MS ([\d.]+)$", re.MULTILINE)


class Refused(RuntimeError):
    """A function package or import would carry something it must not."""


@dataclass(frozen=True)
class ImportProfile:
    handler_ms: float  # the handler module's cumulative import time
    total_ms: float  # every top-level import of the process up to the handler (start-up included)
    modules: frozenset[str]  # every module imported up to the handler
    first_use_ms: float  # boto3 and the first invocation's clients, created after the import
    heaviest: tuple[tuple[str, float], ...]  # (top-level package, its modules' own ms), slowest first


def handler_env() -> dict[str, str]:
    """What the handler needs at import: Settings from dummy variables, a region, Powertools names, and
    what the stack sets on every function to change how the import runs (`FUNCTION_ENVIRONMENT`)."""
    from stratoflow.cloud.config.settings import Settings

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            name.upper(): "{}"
            if name in JSON_SETTINGS
            else {int: "30", bool: "true"}.get(field.annotation, f"dummy-{name}")  # type: ignore[call-overload]
            for name, field in Settings.model_fields.items()
        }
    )
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "dummy",
            "AWS_SECRET_ACCESS_KEY": "dummy",
            "POWERTOOLS_SERVICE_NAME": "stratoflow-bench",
            "POWERTOOLS_METRICS_NAMESPACE": "Stratoflow",
            **FUNCTION_ENVIRONMENT,
        }
    )
    return env


def import_without_byte_code(function: str, env: dict[str, str]) -> float:
    """The handler's import when no byte code is found and none is written, as on Lambda: the layer
    ships no `.pyc` (it is built with `--no-compile` by an interpreter that is not the runtime's
    3.12) and its folder is read-only, so every cold start compiles each module it imports."""
    with tempfile.TemporaryDirectory(prefix="no-bytecode-") as empty:
        bare = {**env, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        return profile_import(function, bare).handler_ms


def profile_import(function: str, env: dict[str, str]) -> ImportProfile:
    folder = FUNCTIONS / function
    services = FIRST_USE.get(function, ())
    code = (
        f"import sys, time; sys.path.insert(0, {str(folder)!r}); import handler\n"
        "started = time.perf_counter()\n"
        "import boto3\n"
        f"clients = [boto3.client(name) for name in {services!r}]\n"
        "print(f'FIRST_USE_MS {(time.perf_counter() - started) * 1000:.1f}', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function}: the handler does not import:\n{done.stderr[-2000:]}")
    handler_us, total_us, modules = 0, 0, set()
    by_package: dict[str, float] = {}  # own time of the modules imported under the handler
    for match in LINE.finditer(done.stderr):
        own, cumulative, indent, name = match.groups()
        if handler_us:
            break  # imported after the handler: the first use, timed apart
        modules.add(name)
        package = name.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(own) / 1000
        if len(indent) == 1:  # a top-level import of the process
            total_us += int(cumulative)
            if name == "handler":
                handler_us = int(cumulative)
            else:
                by_package.clear()  # interpreter start-up, before the handler
    first_use = FIRST_USE_LINE.search(done.stderr)
    by_package.pop("handler", None)
    heaviest = tuple(sorted(by_package.items(), key=lambda item: -item[1])[:6])
    return ImportProfile(
        handler_us / 1000,
        total_us / 1000,
        frozenset(modules),
        float(first_use.group(1)) if first_use else 0.0,
        heaviest,
    )


def forbidden_imports(modules: frozenset[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in FORBIDDEN_IMPORTS})


def layer_dir(cache: Path) -> Path:
    """The layer's third-party packages for Lambda (arm64, 3.12), installed once per set of pins."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # infra imports aws_cdk
    from stratoflow._platform.infra.bundling import (
        COMPRESSED_MODELS,
        PIP_OPTIONS,
        TRIMMED,
        LayerBundler,
        trim,
    )

    key = hashlib.sha256(
        REQUIREMENTS.read_bytes()
        + " ".join(PIP_OPTIONS).encode()
        + repr((TRIMMED, COMPRESSED_MODELS)).encode()
    ).hexdigest()[:16]
    target = cache / key
    if not (target / "python").is_dir():
        partial = Path(tempfile.mkdtemp(dir=cache.parent if cache.exists() else None, prefix="layer-"))
        cache.mkdir(parents=True, exist_ok=True)
        command = LayerBundler(REQUIREMENTS, LIBRARY).pip_command(str(partial))
        subprocess.run(command, check=True)
        trim(partial / "python")  # as the CDK bundling does
        partial.rename(target)
    return target / "python"


def _files(folder: Path) -> list[Path]:
    litter = ("__pycache__",)
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part in litter for part in p.parts) and p.suffix != ".pyc"
    ]


def sizes(folder: Path) -> tuple[float, float]:
    """(unzipped MB, zipped MB) of a folder's files."""
    files = _files(folder)
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder))
        zipped = handle.tell()
    return unzipped / 1e6, zipped / 1e6


def packaged_forbidden(folder: Path) -> list[str]:
    names = {p.name.split("-")[0].lower() for p in folder.iterdir()}
    return sorted(n for n in FORBIDDEN if n in names)


def biggest(folder: Path, count: int = 6) -> list[tuple[str, float]]:
    by_top: dict[str, int] = {}
    for path in _files(folder):
        top = path.relative_to(folder).parts[0]
        by_top[top] = by_top.get(top, 0) + path.stat().st_size
    return [(name, size / 1e6) for name, size in sorted(by_top.items(), key=lambda kv: -kv[1])[:count]]


def first_call_lines(env: dict[str, str], runs: int) -> list[str]:
    """The task runner's import and first invocations in one process, median of `runs` processes."""
    from bench.first_invocation import measure

    found = [measure(env) for _ in range(runs)]
    labels = list(found[0].calls_ms)
    return [
        "Task runner, import then its first invocations in the same fresh process (ms, median of "
        f"{runs}; moto over loopback, the script in the runner's process):",
        "",
        "| import | " + " | ".join(f"call {i + 1}: {label}" for i, label in enumerate(labels)) + " |",
        "| ---: |" + " ---: |" * len(labels),
        f"| {statistics.median(f.import_ms for f in found):.0f} | "
        + " | ".join(f"{statistics.median(f.calls_ms[label] for f in found):.0f}" for label in labels)
        + " |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one import per handler; no layer download")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--functions", nargs="*", default=list(HANDLERS))
    parser.add_argument(
        "--first-call",
        action="store_true",
        help="also the task runner's first invocations (always in full runs)",
    )
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    env = handler_env()
    problems: list[str] = []
    lines = [
        "| handler | import ms (median) | range ms | process imports ms | target | verdict "
        "| first use ms (median) | import without byte code ms (median) |"
    ]
    lines.append("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    heavy: list[str] = []
    for function in args.functions:
        # Warm-up, quick runs too: after a change or a merge the byte-code caches are stale, and a
        # counted import would compile the changed modules (the last column measures that apart).
        profile_import(function, env)
        profiles = [profile_import(function, env) for _ in range(runs)]
        handler = [p.handler_ms for p in profiles]
        median = statistics.median(handler)
        verdict = "PASS" if median < IMPORT_TARGET_MS else "FAIL"
        from_source = [import_without_byte_code(function, env) for _ in range(runs)]
        lines.append(
            f"| {function} | {median:.0f} | {min(handler):.0f}-{max(handler):.0f} "
            f"| {statistics.median(p.total_ms for p in profiles):.0f} | < {IMPORT_TARGET_MS:.0f} | {verdict} "
            f"| {statistics.median(p.first_use_ms for p in profiles):.0f} | {statistics.median(from_source):.0f} |"
        )
        heavy.append(
            f"{function}: "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in profiles[len(profiles) // 2].heaviest)
        )
        imported = forbidden_imports(profiles[0].modules)
        if imported:
            problems.append(f"{function} imports {', '.join(imported)}")
    lines += [
        "",
        "Where each handler's import goes (own time per top-level package, one run):",
        *(f"- {h}" for h in heavy),
        "",
    ]
    library = sizes(LIBRARY)
    lines += ["| part | unzipped MB | zipped MB |", "| --- | ---: | ---: |"]
    lines.append(f"| stratoflow library (in the layer) | {library[0]:.2f} | {library[1]:.2f} |")
    lines += [
        f"| functions/{name} | {s[0]:.3f} | {s[1]:.3f} |"
        for name in args.functions
        if (s := sizes(FUNCTIONS / name))
    ]
    if not args.quick:
        layer = layer_dir(args.cache_dir)
        third = sizes(layer)
        lines.append(f"| layer third-party packages (arm64, 3.12) | {third[0]:.2f} | {third[1]:.2f} |")
        total = third[0] + library[0] + max(sizes(FUNCTIONS / n)[0] for n in args.functions)
        lines.append(
            f"| largest function, all in (limit {LAMBDA_UNZIPPED_LIMIT_MB:.0f} MB) | {total:.2f} | |"
        )
        lines += [
            "",
            "Largest parts of the layer: " + ", ".join(f"{n} {s:.1f} MB" for n, s in biggest(layer)),
        ]
        if total > LAMBDA_UNZIPPED_LIMIT_MB:
            problems.append(f"the largest function would be {total:.1f} MB unzipped (Lambda allows 250)")
        packaged = packaged_forbidden(layer)
        if packaged:
            problems.append(f"the layer would carry {', '.join(packaged)}")
    if args.first_call or not args.quick:
        lines += ["", *first_call_lines(env, runs)]
    cli = sizes(LIBRARY / "cli")
    lines.append(f"(stratoflow/cli, which no function imports, is {cli[0] * 1000:.0f} KB of the library.)")
    print("\n".join(lines))
    if problems:
        print("REFUSED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
