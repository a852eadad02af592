"""`strato files put|list`: namespace files, which script tasks copy into their working directory
(`namespaceFiles`).

Locally they are stored under the home's storage (`--home`); with `--remote`, in the deployed stack's
data bucket (`--data-bucket`, or the stack's `DataBucketName` output), where the task runner reads
them. boto3 is imported only with `--remote`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import click

from stratoflow.cli.options import home_option
from stratoflow.cli.stacks import StackChoice, stack_options
from stratoflow.store.local import LocalBlobStore
from stratoflow.store.namespace_files import file_key, files_prefix, list_namespace_files, put_namespace_file
from stratoflow.store.s3 import S3BlobStore


def _blobs(home: Path, remote: bool, data_bucket: str | None, stack: StackChoice) -> Any:
    if remote:
        choice = StackChoice(stack.name, {**stack.given, "data_bucket": data_bucket})
        return S3BlobStore(choice.resources("data_bucket").data_bucket)

    return LocalBlobStore(home / "storage")  # the layout of `open_local_store`


def _where(func: Any) -> Any:
    """`--home`, `--remote`, `--data-bucket` and the stack options."""
    func = stack_options(func)
    func = click.option(
        "--data-bucket",
        envvar="STRATOFLOW_DATA_BUCKET",
        help="The stack's data bucket (with --remote; default: the stack's DataBucketName output).",
    )(func)
    func = click.option(
        "--remote", is_flag=True, help="The deployed stack's files (--stack) instead of the local ones."
    )(func)
    return home_option(func)


@click.group()
def files() -> None:
    """Namespace files: what script tasks get in their working directory with `namespaceFiles`."""


def _uploads(local_path: Path, to: str | None) -> list[tuple[Path, str]]:
    """(local file, path in the namespace): a file goes to `to` (default its name); a folder's files
    keep their relative paths, under `to` when given."""
    if local_path.is_file():
        return [(local_path, to or local_path.name)]
    base = PurePosixPath(to) if to else PurePosixPath()
    found = sorted(p for p in local_path.rglob("*") if p.is_file())
    return [(p, str(base / p.relative_to(local_path).as_posix())) for p in found]


@files.command("put")
@click.argument("namespace")
@click.argument("local_path", type=click.Path(exists=True, path_type=Path))
@click.option("--to", help="Path in the namespace (a folder's files go under it). Default: the file's name.")
@_where
def put(
    namespace: str,
    local_path: Path,
    to: str | None,
    home: Path,
    remote: bool,
    data_bucket: str | None,
    stack: StackChoice,
) -> None:
    """Store LOCAL_PATH (a file, or every file of a folder) as files of NAMESPACE."""
    uploads = _uploads(local_path, to.strip("/") if to else None)
    if not uploads:
        click.echo(f"error: no file under {local_path}", err=True)
        sys.exit(1)
    try:
        for _, path in uploads:
            file_key(namespace, path)  # every name checked before the first upload
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    blobs = _blobs(home, remote, data_bucket, stack)
    for source, path in uploads:
        put_namespace_file(blobs, namespace, path, source.read_bytes())
        click.echo(f"{namespace}: {path}")


@files.command("list")
@click.argument("namespace")
@click.option("--json", "as_json", is_flag=True, help="`{path: storage URI}`.")
@_where
def list_(
    namespace: str, as_json: bool, home: Path, remote: bool, data_bucket: str | None, stack: StackChoice
) -> None:
    """The files of NAMESPACE, by path."""
    try:
        files_prefix(namespace)
        # Listing a home that holds nothing yet must not create it.
        stored = remote or (home / "storage").is_dir()
        found = list_namespace_files(_blobs(home, remote, data_bucket, stack), namespace) if stored else {}
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for path in found:
        click.echo(path)
