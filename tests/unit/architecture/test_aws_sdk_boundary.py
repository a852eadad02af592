"""Only the stores, the AWS tasks and the cloud-facing packages touch the AWS SDK (DESIGN.md, STYLE.md).

boto3 and botocore, and their type stubs too (`mypy_boto3_*`, boto3-stubs: a dev dependency imported
under TYPE_CHECKING): a stub import is still the design leaning on AWS, and outside these places it
would be the first step towards the SDK itself. Every import statement counts, wherever it stands.
"""

from __future__ import annotations

import ast

from tests.unit.architecture.imports import PACKAGE, ROOT

SDK = ("boto3", "botocore", "mypy_boto3_")
ALLOWED = ("store/", "tasks/aws/", "cloud/", "cloudsim/", "cli/")


def sdk_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of each import of the AWS SDK or its stubs."""
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        found += [(node.lineno, name) for name in names if name.split(".")[0].startswith(SDK)]
    return found


def test_only_the_stores_aws_tasks_and_cloud_packages_import_the_aws_sdk() -> None:
    # Given every module of the library
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside = str(path.relative_to(PACKAGE))
        if inside.startswith(ALLOWED):
            continue
        # When its imports of boto3, botocore or their stubs are read
        wrong += [
            f"{path.relative_to(ROOT)}:{line}: {name}"
            for line, name in sdk_imports(ast.parse(path.read_text()))
        ]
    # Then there are none outside the places allowed
    assert wrong == [], (
        "the AWS SDK imported outside store/, tasks/aws/, cloud/, cloudsim/, cli/:\n" + "\n".join(wrong)
    )


def test_the_check_sees_the_sdk_and_its_stubs() -> None:
    source = (
        "import boto3\n"
        "from botocore.config import Config\n"
        "if TYPE_CHECKING:\n"
        "    from mypy_boto3_s3 import S3Client\n"
        "def f():\n"
        "    import boto3.session\n"
        "import json\n"
        "from .boto3 import x\n"
    )
    assert [name for _, name in sdk_imports(ast.parse(source))] == [
        "boto3",
        "botocore.config",
        "mypy_boto3_s3",
        "boto3.session",
    ]
