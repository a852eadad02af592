"""Deploying a flow into a store: a new revision only when the source changed, refused where the
deployer would refuse its definition (measured as sent, with `compiler.EXAMPLE_STACK`'s ARNs)."""

from __future__ import annotations

import hashlib

from stratoflow.domain import FlowRecord
from stratoflow.errors import ConflictError, FlowValidationError
from stratoflow.flow import Flow
from stratoflow.flow.namespace_defaults import recorded_of
from stratoflow.store.base import ExecutionStore


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def deploy_flow(store: ExecutionStore, flow: Flow, source: str) -> FlowRecord:
    """Record `flow` (already validated) as its next revision, unless the same source is deployed;
    raises FlowValidationError, located as `strato validate` reports it, for a definition too large
    to deploy."""
    digest = source_hash(source)
    for _ in range(5):  # another writer may take the revision number first: try the next one
        live = store.get_flow(flow.namespace, flow.id)
        if live is not None and live.source_hash == digest and live.namespace_defaults == recorded_of(flow):
            return live
        # Deferred: running an unchanged flow again (the usual `strato run`) imports no compiler.
        from stratoflow.compiler import EXAMPLE_STACK, as_sent, compile_flow

        head = store.get_flow_head(flow.namespace, flow.id)
        # After a deletion there is no live revision, but revision numbers are never reused.
        revision = (head.latest_revision if head else 0) + 1
        versioned = flow.model_copy(update={"revision": revision})
        compiled = compile_flow(versioned)
        problems = as_sent(compiled, versioned, EXAMPLE_STACK).problems
        if problems:
            raise FlowValidationError(problems)
        record = FlowRecord(
            namespace=flow.namespace,
            flow_id=flow.id,
            revision=revision,
            source=source,
            source_hash=digest,
            definition=compiled.definition,
            parts=compiled.parts,
            namespace_defaults=recorded_of(flow),
        )
        try:
            store.put_flow(record)
        except ConflictError:
            continue
        return record
    raise ConflictError(
        f"could not record a new revision of {flow.namespace}.{flow.id}: too many concurrent deploys"
    )
