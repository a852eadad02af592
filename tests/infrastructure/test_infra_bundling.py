"""The Lambda layer's local bundling (pip for the Lambda platform, no Docker) and its pins."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from infra_synth import REPO_ROOT
from stratoflow._platform.infra.bundling import LayerBundler, layer_asset_hash, stage_library

REQUIREMENTS = REPO_ROOT / "infra" / "lambda-requirements.txt"
LIBRARY = REPO_ROOT / "shared" / "stratoflow"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!-]+)$")
# For the CLI and development only.
NOT_IN_THE_LAYER = {
    "aws-cdk-lib",
    "constructs",
    "jsii",
    "cdk-nag",
    "moto",
    "click",
    "rich",
}
# Parts of the library that run only on a laptop (the CLI, the local cloud simulation, the packaged
# CDK app that `strato stack` runs).
LOCAL_ONLY_PACKAGES = {"cli", "cloudsim", "_platform"}
# boto3 and botocore are bundled, not taken from the Lambda runtime: the functions run the SDK the tests ran.
RUNTIME_DEPENDENCIES = {
    "pydantic",
    "pyyaml",
    "jinja2",
    "croniter",
    "tzdata",
    "aws-lambda-powertools",
    "boto3",
    "botocore",
}


def _pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not pinned with ==: {line!r}"
        pins[match["name"].lower().replace("_", "-")] = match["version"]
    return pins


def _fake_library(root: Path) -> Path:
    library = root / "stratoflow"
    (library / "flow" / "__pycache__").mkdir(parents=True)
    (library / "__init__.py").write_text("VERSION = 1\n")
    (library / "flow" / "__init__.py").write_text("")
    (library / "flow" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (library / "stray.pyc").write_bytes(b"\0")
    (library / ".mypy_cache").mkdir()
    (library / ".mypy_cache" / "cache.json").write_text("{}")
    return library


def test_layer_requirements_are_pinned_and_runtime_only() -> None:
    pins = _pins()

    assert set(pins) >= RUNTIME_DEPENDENCIES
    assert not NOT_IN_THE_LAYER & set(pins)


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` but those under `if TYPE_CHECKING:`, which only the type checker reads
    (the boto3 stubs are a dev dependency, never in the layer)."""
    found: list[ast.AST] = []
    waiting = [tree]
    while waiting:
        node = waiting.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                waiting.extend(child.orelse)
                continue
            waiting.append(child)
    return found


def test_layer_has_every_package_the_library_imports_in_lambda() -> None:
    # Given the third-party modules that the library's Lambda-side code imports
    imported = set()
    for path in LIBRARY.rglob("*.py"):
        if LOCAL_ONLY_PACKAGES & set(path.relative_to(LIBRARY).parts):
            continue
        for node in _run_time_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"stratoflow"}

    # Then each comes from a pinned distribution of the layer
    distributions = importlib.metadata.packages_distributions()
    pins = _pins()
    for module in sorted(third_party):
        names = {name.lower().replace("_", "-") for name in distributions.get(module, [module])}
        assert names & set(pins), f"{module} is imported but not in lambda-requirements.txt"


def test_layer_pins_are_the_versions_of_the_lock() -> None:
    # Given the versions uv.lock holds (the ones the tests run on)
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}

    # Then the layer pins exactly those: regenerate both with `make lock`, never one alone
    for name, version in _pins().items():
        assert locked.get(name) == version, f"{name}=={version} in the layer, {locked.get(name)} in uv.lock"


def test_pip_installs_wheels_for_the_lambda_platform(tmp_path: Path) -> None:
    bundler = LayerBundler(REQUIREMENTS, LIBRARY, python="/venv/bin/python")

    command = bundler.pip_command(str(tmp_path / "out"))

    assert command[:4] == ["/venv/bin/python", "-m", "pip", "install"]
    assert command[command.index("--target") + 1] == str(tmp_path / "out" / "python")
    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--requirement") + 1] == str(REQUIREMENTS)
    assert {"--only-binary=:all:", "--no-deps", "--no-compile"} <= set(command)


def test_bundling_runs_pip_then_copies_the_library_without_byte_code(tmp_path: Path) -> None:
    # Given a library with byte code lying around, and pip replaced by a recorder
    library = _fake_library(tmp_path / "src")
    commands: list[Sequence[str]] = []
    bundler = LayerBundler(REQUIREMENTS, library, run=commands.append)
    output = tmp_path / "out"

    # When CDK asks for the bundle
    bundled = bundler.try_bundle(str(output), None)

    # Then pip ran once for the output, and the library sits beside the packages, without byte code
    assert bundled is True
    assert commands == [bundler.pip_command(str(output))]
    copied = {path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file()}
    assert copied == {"python/stratoflow/__init__.py", "python/stratoflow/flow/__init__.py"}


def test_bundling_leaves_out_what_no_function_reads(tmp_path: Path) -> None:
    # Given pip replaced by one that installs the AWS CLI with its help examples and its own botocore
    # models as plain JSON
    model = {"version": "2.0", "metadata": {"endpointPrefix": "probe"}, "operations": {}, "shapes": {}}

    def fake_pip(command: Sequence[str]) -> None:
        target = Path(command[command.index("--target") + 1])
        (target / "awscli" / "examples" / "s3").mkdir(parents=True)
        (target / "awscli" / "examples" / "s3" / "cp.rst").write_text("example")
        (target / "awscli" / "__init__.py").write_text("")
        models = target / "awscli" / "botocore" / "data" / "probe" / "2020-01-01"
        models.mkdir(parents=True)
        (models / "service-2.json").write_text(json.dumps(model))
        (models / "paginators-1.json").write_text("{}")

    bundler = LayerBundler(REQUIREMENTS, _fake_library(tmp_path / "src"), run=fake_pip)
    output = tmp_path / "out"

    # When CDK asks for the bundle
    bundler.try_bundle(str(output), None)

    # Then the CLI is there without its examples, and its service model compressed, as botocore ships
    # its own (the layer was over Lambda's 250 MB with both), which the CLI's copy of botocore's loader
    # reads as it read the JSON
    packages = output / "python"
    models = packages / "awscli" / "botocore" / "data" / "probe" / "2020-01-01"
    assert (packages / "awscli" / "__init__.py").is_file()
    assert not (packages / "awscli" / "examples").exists()
    assert sorted(p.name for p in models.iterdir()) == ["paginators-1.json", "service-2.json.gz"]
    from awscli.botocore.loaders import JSONFileLoader

    assert JSONFileLoader().load_file(str(models / "service-2")) == model


def test_cdk_runs_the_bundler_at_synthesis_and_stages_its_output(tmp_path: Path) -> None:
    # Given a layer bundled by LayerBundler, with pip replaced by one that installs a fake package
    def fake_pip(command: Sequence[str]) -> None:
        target = Path(command[command.index("--target") + 1])
        (target / "fakepkg").mkdir(parents=True)
        (target / "fakepkg" / "__init__.py").write_text("")

    library = _fake_library(tmp_path / "src")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Probe")
    layer = lambda_.LayerVersion(
        stack,
        "Layer",
        code=lambda_.Code.from_asset(
            str(library.parent),
            asset_hash_type=cdk.AssetHashType.CUSTOM,
            asset_hash="probe",
            bundling=cdk.BundlingOptions(
                image=lambda_.Runtime.PYTHON_3_12.bundling_image,
                local=LayerBundler(REQUIREMENTS, library, run=fake_pip),  # type: ignore[arg-type]
            ),
        ),
    )

    # When the app synthesizes (CDK calls try_bundle through jsii)
    app.synth()

    # Then the staged asset is the bundle: packages and library under python/
    key = stack.resolve(layer.node.default_child.content)["s3Key"]  # type: ignore[union-attr]
    staged = tmp_path / "cdk.out" / f"asset.{key.removesuffix('.zip')}"
    files = {path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()}
    assert files == {
        "python/fakepkg/__init__.py",
        "python/stratoflow/__init__.py",
        "python/stratoflow/flow/__init__.py",
    }


def test_bundling_failure_is_an_error_not_a_docker_fallback(tmp_path: Path) -> None:
    def failing_pip(command: Sequence[str]) -> None:
        raise subprocess.CalledProcessError(1, list(command))

    bundler = LayerBundler(REQUIREMENTS, _fake_library(tmp_path), run=failing_pip)

    with pytest.raises(subprocess.CalledProcessError):
        bundler.try_bundle(str(tmp_path / "out"), None)


def test_asset_hash_follows_the_layer_contents(tmp_path: Path) -> None:
    # Given a library and pins
    library = _fake_library(tmp_path / "src")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.0\n")
    first = layer_asset_hash(requirements, library)

    # Then byte code and caches do not change the hash
    (library / "flow" / "__pycache__" / "y.cpython-311.pyc").write_bytes(b"\1")
    (library / ".mypy_cache" / "cache.json").write_text('{"changed": true}')
    assert layer_asset_hash(requirements, library) == first
    # But a source change does, and so does a new pin
    (library / "__init__.py").write_text("VERSION = 2\n")
    second = layer_asset_hash(requirements, library)
    assert second != first
    requirements.write_text("pydantic==2.1\n")
    assert layer_asset_hash(requirements, library) not in (first, second)


def test_asset_hash_does_not_depend_on_where_the_checkout_is(tmp_path: Path) -> None:
    hashes = set()
    for place in ("a", "b"):
        library = _fake_library(tmp_path / place)
        requirements = tmp_path / place / "requirements.txt"
        requirements.write_text("pydantic==2.0\n")
        hashes.add(layer_asset_hash(requirements, library))
    assert len(hashes) == 1


def test_real_bundle_holds_arm64_wheels_and_the_library(tmp_path: Path) -> None:
    # When the layer is bundled for real (pip downloads the aarch64 wheels of the pinned versions)
    LayerBundler(REQUIREMENTS, LIBRARY).try_bundle(str(tmp_path), None)
    site = tmp_path / "python"

    # Then the library and every pinned package are there, built for Lambda's platform
    assert (site / "stratoflow" / "__init__.py").is_file()
    installed = {path.name.split("-")[0].lower().replace("_", "-") for path in site.glob("*.dist-info")}
    assert installed == set(_pins())
    (extension,) = site.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so")
    assert extension.stat().st_size > 0
    assert (site / "boto3").is_dir() and (site / "botocore").is_dir()
    assert not list(site.rglob("*.pyc"))


def test_the_layer_copy_of_an_installed_library_leaves_the_platform_out(tmp_path: Path) -> None:
    # Given a library laid out as the wheel installs it, the CDK app under _platform
    library = tmp_path / "site" / "stratoflow"
    (library / "cli").mkdir(parents=True)
    (library / "_platform" / "infra").mkdir(parents=True)
    (library / "__init__.py").write_text("")
    (library / "cli" / "main.py").write_text("")
    (library / "cli" / "__pycache__").mkdir()
    (library / "_platform" / "infra" / "app.py").write_text("")

    # When it is staged for the Lambda layer
    staged = stage_library(library, tmp_path / "staged")

    # Then it is the whole library but the CDK app and byte code
    assert (staged / "__init__.py").is_file()
    assert (staged / "cli" / "main.py").is_file()
    assert not (staged / "_platform").exists()
    assert not list(staged.rglob("__pycache__"))
