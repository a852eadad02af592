"""What the deployer knows beyond the flow records: version ARNs, and which object holds which flow.

Kept in the execution store's KV under the reserved namespace `_deployer` (flow namespaces start with
a letter or digit, so no flow can share it), which works on every store without a schema change:

- `version/<namespace>/<flowId>/<revision>/<sourceHash>`: the state machine version that runs that revision
  (cloud.runtime.versions: admission starts that version, so an execution runs exactly the revision it
  was admitted with);
- `object/<key>`: the flow the object last deployed, and the deployer's verdict on its last upload;
- `verdict/<hash of key and upload>`: the verdict on one upload (object version), what `strato deploy`
  waits for; kept a week;
- `flow/<namespace>/<flowId>`: the object the flow's live revision came from (deleting that object
  retires the flow; deleting another file that once held it does not);
- `upload-sha256/<hash of key>`: the newest upload of the object seen (version id and S3 event sequencer); the write
  that makes a revision live is conditioned on it still naming that revision's upload;
- `lease/<namespace>/<flowId>`: the deployment of the flow under way; deployments of one flow take
  turns, so their steps never interleave.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloud.runtime.versions import REGISTRY_NAMESPACE, deployed_version, version_key
from stratoflow.errors import ConflictError
from stratoflow.store.base import ExecutionStore, KvGuard

log = logging.getLogger("stratoflow.deployer")

NAMESPACE = REGISTRY_NAMESPACE
_LONGEST_KEY = 900
VERDICT_TTL = 7 * 24 * 3600
# Just longer than the deployer function's 5-minute timeout: a lease expires only once its holder is
# gone, and one left by a deployer that timed out blocks the flow's next uploads for no longer.
LEASE_SECONDS = 6 * 60
_SWAPS = 10


def newer_sequencer(candidate: str, than: str) -> bool:
    """Whether S3 event sequencer `candidate` is later than `than` (same key): S3 documents that they
    compare as hexadecimal strings once the shorter one is right-padded with zeros."""
    width = max(len(candidate), len(than))
    return candidate.upper().ljust(width, "0") > than.upper().ljust(width, "0")


@dataclass(frozen=True)
class Verdict:
    """The deployer's answer to one upload of a flow file."""

    status: str  # DEPLOYED | INVALID | SKIPPED
    namespace: str
    flow_id: str
    source_hash: str
    version_id: str | None = None
    revision: int | None = None
    errors: list[str] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "sourceHash": self.source_hash,
            "versionId": self.version_id,
            "revision": self.revision,
            "errors": list(self.errors),
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            status=str(data["status"]),
            namespace=str(data["namespace"]),
            flow_id=str(data["flowId"]),
            source_hash=str(data.get("sourceHash", "")),
            version_id=data.get("versionId"),
            revision=data.get("revision"),
            errors=list(data.get("errors", [])),
            message=str(data.get("message", "")),
        )


class DeploymentRegistry:
    """The deployer's bookkeeping on an ExecutionStore's KV."""

    def __init__(self, store: ExecutionStore):
        self.store = store

    # --- state machine versions ---

    def record_version(
        self, namespace: str, flow_id: str, revision: int, source_hash: str, version_arn: str
    ) -> None:
        """Written before the revision is recorded, so a live revision always has its version.

        Keyed by the content as well: a deployer that loses the race for a revision number writes
        a key nobody reads, instead of overwriting the winner's version.
        """
        key = version_key(namespace, flow_id, revision, source_hash)
        self.store.kv_set(NAMESPACE, key, {"versionArn": version_arn})

    def version_arn(self, namespace: str, flow_id: str, revision: int, source_hash: str) -> str | None:
        return deployed_version(self.store, namespace, flow_id, revision, source_hash)

    # --- objects and flows ---

    def object_flow(self, key: str) -> tuple[str, str] | None:
        """The flow the object last deployed, if it ever deployed one."""
        value = self._entry(_object_key(key))
        if value is None or value.get("flow") is None:
            return None
        return str(value["flow"]["namespace"]), str(value["flow"]["flowId"])

    def verdict(self, key: str, upload: str | None = None) -> Verdict | None:
        """The verdict on one upload of the object (its version id, or its content hash when the bucket
        is unversioned), or on its last upload when `upload` is None."""
        if upload is not None:
            upload_verdict = self._entry(_verdict_key(key, upload))
            return Verdict.from_json(upload_verdict) if upload_verdict is not None else None
        value = self._entry(_object_key(key))
        if value is None or value.get("verdict") is None:
            return None
        return Verdict.from_json(value["verdict"])

    def record_verdict(self, key: str, verdict: Verdict) -> None:
        """Store the verdict on this upload; unless SKIPPED it is also the object's last verdict, and a
        DEPLOYED one makes the object the source of its flow."""
        upload = verdict.version_id or verdict.source_hash
        if upload:
            # One key per upload (no read-modify-write to lose), kept long enough for `strato deploy`.
            self.store.kv_set(
                NAMESPACE, _verdict_key(key, upload), verdict.to_json(), ttl_seconds=VERDICT_TTL
            )
        if verdict.status == "SKIPPED":
            return
        entry = self._entry(_object_key(key)) or {}
        entry["verdict"] = verdict.to_json()
        if verdict.status == "DEPLOYED":
            entry["flow"] = {"namespace": verdict.namespace, "flowId": verdict.flow_id}
            self.store.kv_set(NAMESPACE, _flow_key(verdict.namespace, verdict.flow_id), {"objectKey": key})
        self.store.kv_set(NAMESPACE, _object_key(key), entry)

    def flow_object(self, namespace: str, flow_id: str) -> str | None:
        """The object key the flow's live revision came from."""
        value = self._entry(_flow_key(namespace, flow_id))
        return str(value["objectKey"]) if value is not None else None

    # --- ordering ---

    def note_upload(self, key: str, version_id: str | None, sequencer: str | None) -> KvGuard | None:
        """Record this upload as the newest seen of `key`: the guard of the write that makes its
        revision live, or None when a later upload of the key was seen already (by sequencer)."""
        entry: dict[str, Any] = {"versionId": version_id, "sequencer": sequencer}
        name = _upload_key(key)
        for _ in range(_SWAPS):  # another deployer may note an upload of the key at the same time
            current = self._entry(name)
            if current == entry:
                return KvGuard(NAMESPACE, name, entry)
            seen = current.get("sequencer") if current is not None else None
            if seen and sequencer and newer_sequencer(seen, sequencer):
                return None
            if self.store.kv_swap(NAMESPACE, name, entry, expected=current):
                return KvGuard(NAMESPACE, name, entry)
        raise ConflictError(f"uploads of {key} keep changing: try again")

    def still_newest(self, guard: KvGuard) -> bool:
        found, current = self.store.kv_get(guard.namespace, guard.key)
        return bool(found and current == guard.value)

    def take_lease(self, namespace: str, flow_id: str, owner: str) -> bool:
        """Start deploying the flow unless another deployment of it is under way."""
        lease: dict[str, Any] = {"owner": owner}
        key = _lease_key(namespace, flow_id)
        return bool(self.store.kv_swap(NAMESPACE, key, lease, ttl_seconds=LEASE_SECONDS))

    def release_lease(self, namespace: str, flow_id: str, owner: str) -> None:
        key = _lease_key(namespace, flow_id)
        found, current = self.store.kv_get(NAMESPACE, key)
        if found and current == {"owner": owner}:
            self.store.kv_delete(NAMESPACE, key)

    def _entry(self, key: str) -> dict[str, Any] | None:
        """The registry's entry under `key` (it writes JSON objects only), or None when there is none."""
        found, value = self.store.kv_get(NAMESPACE, key)
        return dict(value) if found and isinstance(value, dict) else None

    def forget_object(self, key: str) -> None:
        self.store.kv_delete(NAMESPACE, _object_key(key))

    def forget_flow(self, namespace: str, flow_id: str) -> None:
        self.store.kv_delete(NAMESPACE, _flow_key(namespace, flow_id))


def _object_key(key: str) -> str:
    # KV keys hold at most 1024 bytes and S3 keys as many: a very long object key is stored by its hash.
    if len(key.encode()) > _LONGEST_KEY:
        return "object-sha256/" + hashlib.sha256(key.encode()).hexdigest()
    return f"object/{key}"


def _verdict_key(key: str, upload: str) -> str:
    return "verdict/" + hashlib.sha256(f"{key}\n{upload}".encode()).hexdigest()


def _upload_key(key: str) -> str:
    return "upload-sha256/" + hashlib.sha256(key.encode()).hexdigest()


def _lease_key(namespace: str, flow_id: str) -> str:
    return f"lease/{namespace}/{flow_id}"


def _flow_key(namespace: str, flow_id: str) -> str:
    return f"flow/{namespace}/{flow_id}"


class DeploymentBusy(ConflictError):
    """Another deployment of the flow held it for too long: the event is retried (Lambda retries)."""


class FlowLeases:
    """Deployments of one flow take turns: each waits (bounded, with backoff) for the one under way."""

    # About a minute and a half in all: longer than a deployment takes, well within the deployer's
    # 5 minutes; past it the event fails and Lambda delivers it again later.
    DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0, 15.0)

    def __init__(self, registry: DeploymentRegistry, sleep: Callable[[float], None]):
        self.registry = registry
        self.sleep = sleep

    def take(self, namespace: str, flow_id: str) -> str:
        owner = uuid.uuid4().hex
        for delay in (*self.DELAYS, None):
            if self.registry.take_lease(namespace, flow_id, owner):
                return owner
            if delay is not None:
                log.info("another deployment of %s.%s is under way: again in %s s", namespace, flow_id, delay)
                self.sleep(delay)
        raise DeploymentBusy(f"another deployment of {namespace}.{flow_id} is still under way")
