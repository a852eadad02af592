"""The wheel as a user gets it: built, installed into a fresh virtual environment from the wheel and
the locked dependencies, and used from a folder that is not the source tree.

Needs uv (`make install-dev` puts it under .tools/uv) and, for the last test, Node.js and the
`[cloud]` dependencies in uv's cache (the test skips when they cannot be installed offline).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HELLO = (ROOT / "examples" / "hello.yaml").read_text()


def _uv() -> str:
    local = ROOT / ".tools" / "uv" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: `make install-dev` installs it under .tools/uv")
    return found


def _run(command: Sequence[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH, and a working directory outside the checkout: only the venv can be imported.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"UV_PYTHON_DOWNLOADS": "never", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _locked_requirements(uv: str, folder: Path, *extras: str) -> Path:
    """The lock's dependencies (and `extras`'), without the project, as a pylock.toml: exact files by
    URL and hash, which uv finds in its cache offline (a requirements.txt would need the index)."""
    flags = [flag for extra in extras for flag in ("--extra", extra)]
    out = folder / f"pylock.{'-'.join(extras) or 'base'}.toml"
    command = [uv, "export", "--frozen", "--no-emit-project", "--no-header", "--format", "pylock.toml"]
    _run([*command, "--quiet", *flags, "-o", str(out)], cwd=ROOT)
    return out


@dataclass(frozen=True)
class Installed:
    uv: str
    venv: Path
    wheel: Path
    work: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    uv = _uv()
    base = tmp_path_factory.mktemp("wheel")
    # The sdist first, then the wheel from it (as `make dist`): in a clean folder, no stale build/, and
    # a file the sdist forgot is missing from the wheel too.
    _run([uv, "build", "--quiet", "--out-dir", str(base / "dist")], cwd=ROOT)
    (wheel,) = (base / "dist").glob("stratoflow-*.whl")
    venv = base / "venv"
    _run([uv, "venv", "--quiet", "--python", "python3", str(venv)], cwd=base)
    # The lock's versions first, then the wheel alone: nothing is resolved anew.
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    _run([*install, "-r", str(_locked_requirements(uv, base))], cwd=base)
    _run([*install, "--no-deps", str(wheel)], cwd=base)
    work = base / "work"
    work.mkdir()
    return Installed(uv, venv, wheel, work)


def test_the_venv_imports_stratoflow_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    result = _run(
        [installed.bin("python"), "-c", "import stratoflow; print(stratoflow.__file__)"], installed.work
    )

    assert Path(result.stdout.strip()).is_relative_to(installed.venv)


def test_the_wheel_carries_every_module_of_the_library_and_the_platform(installed: Installed) -> None:
    # Given every Python module of the checkout's library, CDK app and handlers
    wanted = {
        f"stratoflow/{p.relative_to(ROOT / 'shared' / 'stratoflow').as_posix()}"
        for p in _modules(ROOT / "shared" / "stratoflow")
    }
    for folder in ("infra", "functions"):
        wanted |= {f"stratoflow/_platform/{p.relative_to(ROOT).as_posix()}" for p in _modules(ROOT / folder)}

    # Then the wheel has each of them (a folder without __init__.py is easily left out)
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert wanted - set(wheel.namelist()) == set()


def _modules(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*.py") if "__pycache__" not in path.parts]


def test_version(installed: Installed) -> None:
    result = _run([installed.bin("strato"), "--version"], installed.work)

    version = installed.wheel.name.split("-")[1]
    assert result.stdout == f"strato, version {version}\n"


def test_a_local_flow_runs(installed: Installed) -> None:
    # Given the README's example flow, outside the checkout
    (installed.work / "hello.yaml").write_text(HELLO)

    # When it runs on the local engine of the installed package
    result = _run(
        [installed.bin("strato"), "run", "hello.yaml", "--input", "name=Wheel", "--json"], installed.work
    )

    # Then it succeeds with its output
    document = json.loads(result.stdout)
    assert (document["state"], document["outputs"]) == ("SUCCESS", {"greeting": "Hello, Wheel!"})


def test_init_scaffolds_a_repository_whose_flows_validate(installed: Installed) -> None:
    _run([installed.bin("strato"), "init", "team"], installed.work)

    result = _run([installed.bin("strato"), "validate", "flows"], installed.work / "team")

    assert "1 flow file(s) checked: 1 valid" in result.stderr


def _install_offline(installed: Installed, requirements: Path) -> None:
    """The lock's versions from uv's cache, or a skip naming why not (no network in this test)."""
    result = _run(
        [
            installed.uv,
            "pip",
            "install",
            "--quiet",
            "--offline",
            "--python",
            installed.bin("python"),
            "-r",
            str(requirements),
        ],
        installed.work,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"not installable offline from uv's cache: {result.stderr.strip()[-300:]}")


def test_cloud_sim_needs_the_sim_extra_and_runs_with_it(installed: Installed, tmp_path: Path) -> None:
    # Given the plain install, --cloud-sim says what is missing
    (installed.work / "hello.yaml").write_text(HELLO)
    command = [installed.bin("strato"), "run", "hello.yaml", "--cloud-sim", "--json"]
    plain = _run(command, installed.work, check=False)
    assert (plain.returncode, plain.stderr) == (
        2,
        "error: --cloud-sim needs moto, which is not installed: "
        "pip install 'stratoflow[sim]' (or `make install-dev` in a checkout)\n",
    )

    # When the [sim] extra is installed at the lock's versions
    _install_offline(installed, _locked_requirements(installed.uv, tmp_path, "sim"))

    # Then the flow runs through the deployed code path on moto
    document = json.loads(_run(command, installed.work).stdout)
    assert (document["state"], document["outputs"]) == ("SUCCESS", {"greeting": "Hello, World!"})


def test_the_packaged_cdk_app_synthesizes_with_the_cloud_extra(installed: Installed, tmp_path: Path) -> None:
    # Given the [cloud] extra, at the lock's versions, from uv's cache only
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (aws-cdk-lib runs on jsii)")
    _install_offline(installed, _locked_requirements(installed.uv, tmp_path, "cloud"))

    # When the packaged app is synthesized (asset bundling skipped, as in the infrastructure tests;
    # cdk-nag runs and fails the synthesis on any unacknowledged finding)
    script = (
        "from stratoflow._platform.app import build\n"
        f"app, stack = build({{'aws:cdk:bundling-stacks': []}}, outdir={str(tmp_path / 'out')!r})\n"
        "app.synth()\n"
    )
    _run([installed.bin("python"), "-c", script], installed.work)

    # Then the template holds the platform's functions, each with its handler asset, and the version
    template = json.loads((tmp_path / "out" / "Stratoflow.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    handlers = [r["Properties"]["Handler"] for r in functions if "S3Key" in r["Properties"]["Code"]]
    # Every folder of functions/ (5 platform functions, housekeeping, console), and CDK's own two
    # (the custom-resource provider framework, the BucketDeployment copying the console's pages)
    assert handlers.count("handler.lambda_handler") == 7
    assert set(handlers) == {"handler.lambda_handler", "framework.onEvent", "index.handler"}
    version = installed.wheel.name.split("-")[1]
    assert template["Outputs"]["StratoflowVersion"]["Value"] == version
    topic = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Topic")
    assert {"Key": "stratoflow:version", "Value": version} in topic["Properties"]["Tags"]


def test_a_teams_own_cdk_app_builds_the_platform_with_the_construct(
    installed: Installed, tmp_path: Path
) -> None:
    # Given the example CDK app (`from stratoflow.cdk import Stratoflow`), copied out of the checkout,
    # and the [cloud] extra
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (aws-cdk-lib runs on jsii)")
    _install_offline(installed, _locked_requirements(installed.uv, tmp_path, "cloud"))
    app = installed.work / "cdk-app"
    shutil.copytree(ROOT / "examples" / "cdk-app", app, dirs_exist_ok=True)

    # When it runs as the CDK CLI runs it (asset bundling skipped, as in the infrastructure tests)
    out = tmp_path / "cdk.out"
    context = {"aws:cdk:bundling-stacks": [], "alertEmail": "oncall@example.com"}
    env = {"CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps(context)}
    _run(["env", *(f"{key}={value}" for key, value in env.items()), installed.bin("python"), "app.py"], app)

    # Then the team's stack holds the platform of the installed release, its layer without the CDK app
    template = json.loads((out / "DataPlatform.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) >= 5
    assert template["Outputs"]["StratoflowVersion"]["Value"] == installed.wheel.name.split("-")[1]
    # (bundling skipped, the layer's asset is its source folder: the staged copy of the library)
    assets = json.loads((out / "DataPlatform.assets.json").read_text())["files"].values()
    sources = {Path(asset["source"]["path"]).name for asset in assets}
    assert any(name.startswith("stratoflow-layer-") for name in sources)
