"""`strato namespaces allow|deny|show`: which other namespaces may reach a namespace's KV and files
(its allow-list, see `stratoflow.namespaces`); `strato namespaces defaults`: the plugin defaults of
its flows (`stratoflow.flow.namespace_defaults`). Locally in the home's store, with `--remote` in the
deployed stack's table; only people who may write that table (stack administrators) can change it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.options import home_option
from stratoflow.cli.stacks import StackChoice, stack_options
from stratoflow.errors import FlowValidationError, StratoflowError
from stratoflow.flow import read_flow_source
from stratoflow.flow.namespace_defaults import SETTING, Inherited, inherited_from, read_defaults
from stratoflow.namespaces import (
    allowed_namespaces,
    plugin_defaults,
    set_allowed_namespaces,
    set_plugin_defaults,
)
from stratoflow.store import SqliteExecutionStore, open_local_store
from stratoflow.store.base import ExecutionStore
from stratoflow.store.local import LOCAL_DATABASE


@contextmanager
def local_namespace_defaults(home: Path) -> Iterator[Inherited | None]:
    """The plugin defaults the local history's namespaces set (`strato validate`, `strato compile`),
    read where a history exists: none is created for them."""
    if not (home / LOCAL_DATABASE).exists():
        yield None
        return
    try:
        store = SqliteExecutionStore(home / LOCAL_DATABASE)
    except StratoflowError as error:  # a history of a newer Stratoflow, an unreadable file
        raise click.ClickException(f"cannot read the namespace settings under {home}: {error}") from None
    try:
        yield inherited_from(store)
    finally:
        store.close()


def _store(home: Path, remote: bool, stack: StackChoice) -> ExecutionStore:
    if remote:
        return stack.store()

    store, _ = open_local_store(home)
    return store


def _where(func: Any) -> Any:
    func = stack_options(func)
    func = click.option(
        "--remote", is_flag=True, help="The deployed stack's settings (--stack) instead of the local ones."
    )(func)
    return home_option(func)


@click.group()
def namespaces() -> None:
    """Namespace settings: allow-lists (who may use a namespace's KV and files), plugin defaults."""


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


@namespaces.command("defaults")
@click.argument("namespace")
@click.option(
    "--file",
    "defaults_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML file with `pluginDefaults:` as in a flow: they replace the namespace's.",
)
@click.option("--clear", is_flag=True, help="Remove the namespace's plugin defaults.")
@_where
def defaults(
    namespace: str, defaults_file: Path | None, clear: bool, home: Path, remote: bool, stack: StackChoice
) -> None:
    """Plugin defaults for every flow of NAMESPACE and of its child namespaces (e.g. a `taskRunner`).

    A flow's own `pluginDefaults` win over its namespace's, a child namespace's over its parent's; a
    flow gets them when it is deployed (`strato run`, an upload), and keeps them until it is deployed
    again. Without --file or --clear: print them.
    """
    if defaults_file is not None and clear:
        raise click.UsageError("--file and --clear cannot be used together")
    store = _store(home, remote, stack)
    if defaults_file is None and not clear:
        click.echo(json.dumps({"namespace": namespace, SETTING: plugin_defaults(store, namespace)}, indent=2))
        return
    entries: list[dict[str, Any]] = []
    if defaults_file is not None:
        try:
            entries = read_defaults(read_flow_source(defaults_file), str(defaults_file))
        except FlowValidationError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            raise SystemExit(1) from None
    try:
        set_plugin_defaults(store, namespace, entries)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    types = ", ".join(str(entry["type"]) for entry in entries)
    click.echo(f"{namespace}: plugin defaults for {types}" if entries else f"{namespace}: no plugin defaults")
