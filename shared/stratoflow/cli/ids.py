"""Execution ids and flow names as users type them: an execution by a unique prefix of its id (as git
takes a commit), a flow by its id alone when one namespace holds it."""

from __future__ import annotations

import sys

import click

from stratoflow.store.base import ExecutionStore

EXIT_AMBIGUOUS = 2
SHOWN_MATCHES = 10


def resolve_execution_id(store: ExecutionStore, given: str) -> str:
    """The full id of the one execution whose id starts with `given`.

    An exact id wins. A prefix that matches several executions is a usage error that lists them
    (exit 2); one that matches none is returned as given, for the command to say it does not exist.
    Stores that cannot search ids by prefix (a deployed stack's table) take full ids only.
    """
    if store.get_execution(given) is not None:
        return given
    # A capability of the local (SQLite) history only: DynamoDB has no index on id prefixes.
    starting_with = getattr(store, "execution_ids_starting_with", None)
    if starting_with is None or not given:
        return given
    matches: list[str] = starting_with(given, limit=SHOWN_MATCHES + 1)
    if len(matches) == 1:
        return matches[0]
    if matches:
        more = " ..." if len(matches) > SHOWN_MATCHES else ""
        listed = "\n  ".join(matches[:SHOWN_MATCHES])
        click.echo(
            f"error: execution id prefix {given!r} is ambiguous; it matches:\n  {listed}{more}", err=True
        )
        sys.exit(EXIT_AMBIGUOUS)
    return given


def flow_namespace(store: ExecutionStore, flow_id: str) -> str:
    """The namespace of the deployed flow `flow_id` (`--flow` without `--namespace`).

    Refused with the candidates when several namespaces hold a flow of that id, and when none does.
    """
    namespaces: list[str] = sorted(
        {head.namespace for head in store.list_flow_heads() if head.flow_id == flow_id}
    )
    if len(namespaces) == 1:
        return namespaces[0]
    if not namespaces:
        raise click.UsageError(f"no flow with id {flow_id!r} in this history: check --flow")
    names = ", ".join(f"{namespace}.{flow_id}" for namespace in namespaces)
    raise click.UsageError(f"--flow {flow_id} is in several namespaces ({names}): add --namespace")
