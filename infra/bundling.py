"""Builds the Lambda layer (the `stratoflow` library and its runtime dependencies) without Docker.

CDK calls `LayerBundler.try_bundle` during synthesis; it installs the pinned wheels for the Lambda
platform (Python 3.12 on arm64) with `pip --platform`, which downloads binary wheels and never builds
or runs anything, so it works from any machine. The Docker image CDK requires in `BundlingOptions`
is a placeholder: `LayerBundler` bundles or raises, so Docker never runs.
"""

from __future__ import annotations

import atexit
import functools
import gzip
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

LAMBDA_PLATFORM = "manylinux2014_aarch64"
# The python3.12 runtime is Amazon Linux 2023 (glibc 2.34): wheels built for glibc 2.28 run there too
# (google-re2 and DuckDB publish no manylinux2014 aarch64 wheel).
LAMBDA_PLATFORM_GLIBC_2_28 = "manylinux_2_28_aarch64"
LAMBDA_PYTHON_VERSION = "3.12"
PIP_OPTIONS = (
    "--platform",
    LAMBDA_PLATFORM,
    "--platform",
    LAMBDA_PLATFORM_GLIBC_2_28,
    "--implementation",
    "cp",
    "--python-version",
    LAMBDA_PYTHON_VERSION,
    "--only-binary=:all:",
    # The requirements file lists the whole closure; without --no-deps pip would also pull
    # boto3/botocore (the runtime provides them) through aws-xray-sdk.
    "--no-deps",
    # Byte code compiled here would be for this machine's Python, not the Lambda runtime's.
    "--no-compile",
)

# Lambda allows 250 MB for a function and its layers, unzipped; as pip installs them, the layer's
# packages came to 267 MB. After the install, the layer leaves out what no function reads (the AWS
# CLI's `examples`: the text `aws ... help` prints) and compresses the AWS CLI's own copy of
# botocore's models (105 MB of JSON) as botocore's wheel ships its own: `service-2.json` and
# `endpoint-rule-set-1.json` gzipped, which botocore's loader reads (`.json.gz`) in both copies.
TRIMMED = ("awscli/examples",)
COMPRESSED_MODELS = ("awscli/botocore/data", ("service-2.json", "endpoint-rule-set-1.json"))

Runner = Callable[[Sequence[str]], Any]


def trim(packages: Path) -> None:
    """Leave out `TRIMMED` and compress `COMPRESSED_MODELS` in a layer's packages (`<layer>/python`)."""
    for relative in TRIMMED:
        shutil.rmtree(packages / relative, ignore_errors=True)
    folder, names = COMPRESSED_MODELS
    for name in names:
        for model in sorted((packages / folder).rglob(name)):
            with (
                model.open("rb") as plain,
                gzip.GzipFile(model.with_suffix(".json.gz"), "wb", mtime=0) as packed,
            ):
                shutil.copyfileobj(plain, packed)
            model.unlink()


def _run_checked(command: Sequence[str]) -> Any:
    return subprocess.run(command, check=True)


@jsii.implements(cdk.ILocalBundling)
class LayerBundler:
    """`pip install --target` of the pinned requirements, then a copy of the library package."""

    def __init__(
        self,
        requirements: Path,
        package_dir: Path,
        *,
        python: str = sys.executable,
        run: Runner = _run_checked,
    ) -> None:
        self.requirements = requirements
        self.package_dir = package_dir
        self.python = python
        self._run = run

    def pip_command(self, output_dir: str) -> list[str]:
        """The pip invocation that installs the layer's third-party packages under `<output_dir>/python`."""
        return [
            self.python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--target",
            str(Path(output_dir) / "python"),
            *PIP_OPTIONS,
            "--requirement",
            str(self.requirements),
        ]

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions | None = None) -> bool:
        """Build the layer into `output_dir`; a failure raises rather than falling back to Docker.

        jsii calls this with the bundling options as one positional struct (the interface's Python
        signature spells them out as keywords).
        """
        self._run(self.pip_command(output_dir))
        trim(Path(output_dir) / "python")
        target = Path(output_dir) / "python" / self.package_dir.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            self.package_dir,
            target,
            ignore=lambda _folder, names: {name for name in names if _is_litter(name)},
        )
        return True


def layer_asset_hash(requirements: Path, package_dir: Path) -> str:
    """A hash of everything that goes into the layer: the pins, the pip options and the library's files.

    Computed from the sources, so an unchanged layer keeps its version without running pip.
    """
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(" ".join(PIP_OPTIONS).encode())
    digest.update(repr((TRIMMED, COMPRESSED_MODELS)).encode())
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if path.is_dir() or any(_is_litter(part) for part in relative.parts):
            continue
        digest.update(relative.as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_litter(name: str) -> bool:
    """Byte code, caches and hidden files: never part of the layer, nor of its hash."""
    return name == "__pycache__" or name.startswith(".") or name.endswith((".pyc", ".pyo"))


def layer_code(requirements: Path, package_dir: Path) -> lambda_.Code:
    """The layer's asset: bundled locally with `LayerBundler`, hashed with `layer_asset_hash`."""
    return lambda_.Code.from_asset(
        str(package_dir.parent),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=layer_asset_hash(requirements, package_dir),
        bundling=cdk.BundlingOptions(
            # Placeholder required by CDK: LayerBundler always bundles locally or raises.
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            local=LayerBundler(requirements, package_dir),  # type: ignore[arg-type]  # see try_bundle
        ),
    )


@functools.cache
def installed_library() -> Path:
    """A copy of the installed `stratoflow` package without `_platform`, for the layer of a platform
    built from an installed wheel (a checkout's layer carries `shared/stratoflow` as it is).

    The functions' layer carries the library; the CDK app and the handlers' second copy under
    `_platform` have no business in it, and would only change its hash. Made once per process.
    """
    import stratoflow

    staging = Path(tempfile.mkdtemp(prefix="stratoflow-layer-"))
    atexit.register(shutil.rmtree, staging, True)
    return stage_library(Path(stratoflow.__file__).resolve().parent, staging)


def stage_library(library: Path, target: Path) -> Path:
    """A copy of `library` under `target`, without its `_platform` folder and without byte code."""
    staged = target / library.name
    shutil.copytree(
        library,
        staged,
        ignore=lambda folder, names: (
            {"_platform", "__pycache__"} & set(names)
            if Path(folder) == library
            else {"__pycache__"} & set(names)
        ),
    )
    return staged
