"""Which state machine version runs a flow revision: the deployer records it (cloud.deploy.registry) and
admission reads it, so an execution runs exactly the revision it was admitted with.

Kept in the execution store's KV under the deployer's reserved namespace `_deployer`, keyed by the
revision's content as well (`version/<namespace>/<flowId>/<revision>/<sourceHash>`): a deployer that
loses the race for a revision number writes a key nobody reads.
"""

from __future__ import annotations

from stratoflow.store.base import ExecutionStore

REGISTRY_NAMESPACE = "_deployer"


def version_key(namespace: str, flow_id: str, revision: int, source_hash: str) -> str:
    return f"version/{namespace}/{flow_id}/{revision}/{source_hash}"


def deployed_version(
    store: ExecutionStore, namespace: str, flow_id: str, revision: int, source_hash: str
) -> str | None:
    """The ARN of the state machine version of that revision; None when it was never deployed."""
    found, value = store.kv_get(REGISTRY_NAMESPACE, version_key(namespace, flow_id, revision, source_hash))
    return str(value["versionArn"]) if found and isinstance(value, dict) else None
