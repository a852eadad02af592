"""`strato namespaces allow|deny|show`: which other namespaces may reach a namespace's KV and files
(its allow-list, see `stratoflow.namespaces`). Locally in the home's store, with `--remote` in the
deployed stack's table; only people who may write that table (stack administrators) can change it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.options import home_option
from stratoflow.cli.stacks import StackChoice, stack_options
from stratoflow.namespaces import allowed_namespaces, set_allowed_namespaces
from stratoflow.store import open_local_store
from stratoflow.store.base import ExecutionStore


def _store(home: Path, remote: bool, stack: StackChoice) -> ExecutionStore:
    if remote:
        return stack.store()

    store, _ = open_local_store(home)
    return store


def _where(func: Any) -> Any:
    func = stack_options(func)
    func = click.option(
        "--remote", is_flag=True, help="The deployed stack's allow-lists (--stack) instead of the local ones."
    )(func)
    return home_option(func)


@click.group()
def namespaces() -> None:
    """Namespace allow-lists: which other namespaces' flows may use a namespace's KV and files."""


def _change(
    namespace: str, others: tuple[str, ...], add: bool, home: Path, remote: bool, stack: StackChoice
) -> None:
    store = _store(home, remote, stack)
    current = set(allowed_namespaces(store, namespace))
    wanted = current | set(others) if add else current - set(others)
    try:
        set_allowed_namespaces(store, namespace, sorted(wanted))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    click.echo(f"{namespace}: allows {', '.join(sorted(wanted)) or 'no other namespace'}")


@namespaces.command("allow")
@click.argument("namespace")
@click.argument("others", nargs=-1, required=True)
@_where
def allow(namespace: str, others: tuple[str, ...], home: Path, remote: bool, stack: StackChoice) -> None:
    """Let flows of OTHERS (namespaces, or `*` for all) read and write NAMESPACE's KV and files."""
    _change(namespace, others, True, home, remote, stack)


@namespaces.command("deny")
@click.argument("namespace")
@click.argument("others", nargs=-1, required=True)
@_where
def deny(namespace: str, others: tuple[str, ...], home: Path, remote: bool, stack: StackChoice) -> None:
    """Remove OTHERS from NAMESPACE's allow-list."""
    _change(namespace, others, False, home, remote, stack)


@namespaces.command("show")
@click.argument("namespace")
@click.option("--json", "as_json", is_flag=True)
@_where
def show(namespace: str, as_json: bool, home: Path, remote: bool, stack: StackChoice) -> None:
    """The namespaces NAMESPACE allows."""
    allowed = allowed_namespaces(_store(home, remote, stack), namespace)
    click.echo(
        json.dumps({"namespace": namespace, "allowedNamespaces": allowed}) if as_json else "\n".join(allowed)
    )
