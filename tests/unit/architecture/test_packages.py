"""The packages of shared/stratoflow import one another one way only, in the order of docs/architecture.md.

A failure names every arrow that breaks the rule with the file and line that draws it. When two
packages need each other, a third, lower one is missing: move the shared piece down, do not hide the
import inside a function (those count here too).
"""

from __future__ import annotations

import pytest

from tests.unit.architecture.imports import Codebase, Import, circles, package_of

# Leaves every package may import. runner_call is the compiler -> runner contract: the compiler
# writes it and the runner parses it, so it sits below both; sandbox_call is the runner -> script
# sandbox contract, which the sandbox reads without the execution core.
KERNEL = {
    "errors",
    "states",
    "domain",
    "storage_layout",
    "namespaces",
    "runner_call",
    "sandbox_call",
    "placeholders",
    "machine_names",
}

# The layers, lowest first. A package may import the packages of the layers before its own, unless
# ONLY narrows it; packages of one layer do not import each other.
LAYERS: list[set[str]] = [
    KERNEL,
    {"expressions", "engine", "cost"},
    {"flow"},  # the language: models, loading, validation, task base class, fields, registry, retry
    {"tasks"},  # task families
    {"compiler"},
    {"store"},  # ports in store/base.py, and the SQLite/folder/DynamoDB/S3 adapters
    {"execution"},  # the core: admission, control, finalize, flow retry, the runner, SLAs, lineage
    {"triggers"},
    {"local", "cloud"},  # the two adapters of the core
    {"cloudsim", "console"},  # cloud on moto; the web console (on the local platform or the cloud)
    {"cli", "_platform"},  # everything; the CDK app packaged in the wheel
    {"cdk"},  # `from stratoflow.cdk import Stratoflow`: the construct of the packaged CDK app
]
# Packages whose imports are narrower than their layer (arch.md, issue 18).
ONLY: dict[str, set[str]] = {
    **{member: KERNEL for member in KERNEL},  # kernel modules import nothing of Stratoflow but each other
    "engine": set(),  # the local ASL interpreter runs any definition: it knows nothing of Stratoflow
    "store": KERNEL,  # a store keeps records; it knows no flow, task or lifecycle
    "cost": set(),  # prices a compiled definition: it reads ASL, as the engine runs it
}
# The core and the triggers reach the stores through their ports only; the adapters are chosen by
# the composition roots (local/, cloud/, cloudsim/, cli/).
STORE_ADAPTERS = ("sqlite", "local", "dynamo", "s3")
PORT_USERS = {"execution", "triggers", "tasks", "compiler", "flow"}


def _layer(package: str) -> int:
    for level, members in enumerate(LAYERS):
        if package in members:
            return level
    raise AssertionError(f"package {package!r} is in no layer of this test: add it to LAYERS")


def allowed(source: str, target: str) -> bool:
    """May package `source` import package `target`?"""
    if source in ONLY:
        return target in ONLY[source]
    if _layer(target) == _layer(source):
        return False  # e.g. cloud and local: two adapters of the core never lean on each other
    return _layer(target) < _layer(source)


@pytest.fixture(scope="module")
def codebase() -> Codebase:
    return Codebase()


def _arrows(imports: list[Import]) -> str:
    return ", ".join(found.where for found in imports[:3]) + (" ..." if len(imports) > 3 else "")


def test_no_package_imports_a_package_that_imports_it_back(codebase: Codebase) -> None:
    # Given the arrows between packages, read from every import statement
    edges = codebase.package_edges()
    # When the circles between them are looked for
    found = circles(set(edges))
    # Then there are none; each one is named with the imports that close it
    report = [
        f"{' <-> '.join(circle)}: "
        + "; ".join(f"{a} -> {b} ({_arrows(edges[a, b])})" for a in circle for b in circle if (a, b) in edges)
        for circle in found
    ]
    assert report == [], "\n".join(["package circles:", *report])


def test_every_arrow_points_down_the_layers(codebase: Codebase) -> None:
    # Given the arrows between packages
    edges = codebase.package_edges()
    # Then each imports only packages of lower layers (docs/architecture.md, "The packages")
    wrong = [
        f"{a} -> {b} ({_arrows(imports)})" for (a, b), imports in sorted(edges.items()) if not allowed(a, b)
    ]
    assert wrong == [], "\n".join(["arrows against the layers:", *wrong])


def test_the_core_reaches_the_stores_through_their_ports(codebase: Codebase) -> None:
    # Given the imports of the core and of the language into store/
    adapters = [
        found
        for found in codebase.imports
        if package_of(found.source) in PORT_USERS
        and package_of(found.target) == "store"
        and found.target.split(".")[2:3][0].startswith(STORE_ADAPTERS)
    ]
    # Then none names an adapter: local/, cloud/ and the CLI choose and build the stores
    assert [f"{found.where}: {found.target}" for found in adapters] == []


# File circles inside one package, each with its reason: a grammar whose parts hold each other. A new
# circle fails. (The task runner's actions once closed one with the runner that dispatches to them;
# they now see the call through the Protocols of execution/runner/call.py.)
MODULE_CIRCLES_ALLOWED: dict[tuple[str, ...], str] = {
    (
        "stratoflow.engine.filters",
        "stratoflow.engine.paths",
    ): "a JSONPath filter holds paths, a path holds filters",
}


def test_no_module_circles_inside_a_package(codebase: Codebase) -> None:
    # Given the arrows between the modules of each package
    packages = sorted({package_of(name) for name in codebase.files} - {"stratoflow"})
    report = []
    for package in packages:
        edges = codebase.module_edges(package)
        for circle in circles(set(edges)):
            if tuple(circle) in MODULE_CIRCLES_ALLOWED:
                continue
            arrows = [
                f"{a} -> {b} ({_arrows(edges[a, b])})" for a in circle for b in circle if (a, b) in edges
            ]
            report.append(f"{package}: " + "; ".join(arrows))
    # Then none closes a circle (a package's __init__ re-exporting its modules is a circle too)
    assert report == [], "\n".join(["module circles:", *report])


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("tasks", "flow", True),
        ("flow", "tasks", False),
        ("compiler", "tasks", True),
        ("tasks", "compiler", False),
        ("execution", "store", True),
        ("execution", "triggers", False),
        ("execution", "cloud", False),
        ("triggers", "execution", True),
        ("cloud", "local", False),
        ("local", "cloud", False),
        ("cloudsim", "cloud", True),
        ("cli", "cloudsim", True),
        ("engine", "errors", False),
        ("store", "states", True),
        ("store", "flow", False),
        ("domain", "states", True),
        ("states", "flow", False),
        ("errors", "expressions", False),
        ("compiler", "engine", True),
    ],
)
def test_the_layer_table_reads_as_written(source: str, target: str, expected: bool) -> None:
    assert allowed(source, target) is expected


def test_every_package_is_in_a_layer(codebase: Codebase) -> None:
    packages = {package_of(name) for name in codebase.files} - {"stratoflow"}
    assert sorted(packages - set().union(*LAYERS)) == []
