"""The stores, the cloud package, the AWS tasks and cloudsim name the boto3 client they hold: not `Any`.

boto3-stubs (a dev dependency, imported under TYPE_CHECKING only) types every client the code calls;
a client typed `Any` hides a misspelled parameter or a missing key until AWS answers. A client is a
parameter, a return or a class attribute named after one: `client`, `*_client`, `clients`, or a
service (`s3`, `sts`, `stepfunctions`...). The `Any` of `LazyClient.__getattr__` is a proxy's, not a
client's, and is not named like one. The console's cloud backend keeps its Step Functions client
untyped: the console may not import the SDK or its stubs (test_aws_sdk_boundary).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest

from tests.unit.architecture.imports import PACKAGE, ROOT
from tests.unit.architecture.test_typed_seams import _mentions_any

SCOPE = ["store", "cloud", "tasks/aws", "cloudsim"]
SERVICES = (
    "s3|sts|iam|sns|sqs|ssm|stepfunctions|lambda_|dynamodb|events|scheduler|pipes|cloudwatch"
    "|cloudformation|logs|secretsmanager"
)
CLIENT_NAME = re.compile(rf"^_?(\w*client\w*|({SERVICES}))$")


def client_files() -> list[str]:
    return [str(path.relative_to(ROOT)) for part in SCOPE for path in sorted((PACKAGE / part).rglob("*.py"))]


def loose_clients(tree: ast.Module, path: str) -> Iterator[str]:
    """`path:line: name: annotation` for each client-named slot annotated with `Any`."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            slots = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            slots += [arg for arg in (args.vararg, args.kwarg) if arg is not None]
            for arg in slots:
                if (
                    arg.annotation is not None
                    and CLIENT_NAME.match(arg.arg)
                    and _mentions_any(arg.annotation)
                ):
                    yield f"{path}:{node.lineno}: {node.name}({arg.arg}: {ast.unparse(arg.annotation)})"
            if node.returns is not None and CLIENT_NAME.match(node.name) and _mentions_any(node.returns):
                yield f"{path}:{node.lineno}: {node.name}() -> {ast.unparse(node.returns)}"
        elif isinstance(node, ast.AnnAssign):
            target = node.target
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if CLIENT_NAME.match(name) and _mentions_any(node.annotation):
                yield f"{path}:{node.lineno}: {name}: {ast.unparse(node.annotation)}"


@pytest.mark.parametrize("path", client_files())
def test_clients_of_the_stores_and_the_cloud_package_are_typed(path: str) -> None:
    # Given a module of store/, cloud/, tasks/aws/ or cloudsim/
    tree = ast.parse((ROOT / path).read_text(), path)
    # When its client-named parameters, returns and attributes are read
    loose = list(loose_clients(tree, path))
    # Then none is `Any` (the stubs' client types: `from mypy_boto3_s3 import S3Client` under TYPE_CHECKING)
    assert loose == [], "clients typed `Any`:\n" + "\n".join(loose)


def test_the_check_sees_a_client_typed_any() -> None:
    # Given clients typed Any as a parameter, a return, a field and an attribute, and a non-client
    source = (
        "class Store:\n"
        "    s3: Any\n"
        "    def __init__(self, client: Any = None, *, sts: 'Any | None' = None, count: Any = 0) -> None:\n"
        "        self._client: Any = client\n"
        "    def _client(self) -> Any: ...\n"
        "    def lambda_client(self) -> S3Client: ...\n"
        "    def __getattr__(self, name: str) -> Any: ...\n"
    )
    # When it is read
    found = [line.split(": ", 1)[1] for line in loose_clients(ast.parse(source), "example.py")]
    # Then each client is found, and neither the typed one nor the other values
    assert found == [
        "s3: Any",
        "__init__(client: Any)",
        "__init__(sts: 'Any | None')",
        "_client() -> Any",
        "_client: Any",
    ]
