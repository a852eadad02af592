"""Deploy by upload: a flow file created in the flows bucket becomes a state machine version.

For each "Object Created" event the deployer reads the object (the version the event names), validates
and compiles it, and runs its steps (flow role, state machine, alarms, ...; see `deploy_steps`), then
records the revision. The same content again changes nothing. An invalid file never replaces a
working flow: the live revision keeps running, the flow head records the errors (file and line) and an
alert goes to the stack's topic. "Object Deleted" retires the flow the object held: steps in reverse,
head DELETED.

Which flow an upload is about: what its YAML says (`namespace`, `id`). When the YAML cannot be read
that far, the flow the same object deployed before; failing that, namespace `_objects` and the object
key as flow id (a name no real flow can have: namespaces start with a letter or digit).

Duplicate and late events are harmless: an event about an object version that is no longer the
current one is skipped, revisions are written with conditional writes, and every step is idempotent.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from stratoflow.cloud.config.clients import AwsClients, error_code
from stratoflow.cloud.config.naming import AccountRegion, state_machine_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.containers import ContainerStack
from stratoflow.cloud.deploy.deploy_steps import default_steps
from stratoflow.cloud.deploy.deployment import Deployment, DeployStep, FlowTarget, Retirement
from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.cloud.deploy.namespace_grants import (
    parse_grants,
    refused_resources,
    stack_storage_patterns,
    stack_storage_problems,
)
from stratoflow.cloud.deploy.pipes import pipe_source_problems
from stratoflow.cloud.deploy.registry import DeploymentRegistry, FlowLeases, Verdict
from stratoflow.cloud.runtime.alerts import invalid_flow_alert, publish_alert
from stratoflow.cloud.runtime.event_models import FlowObjectEvent
from stratoflow.compiler import substitute
from stratoflow.domain import FlowRecord
from stratoflow.errors import ConflictError, FlowValidationError
from stratoflow.flow import Flow, load_flow
from stratoflow.flow.namespace_defaults import inherited_from, recorded_in, recorded_of
from stratoflow.flow.yaml_source import read_yaml
from stratoflow.placeholders import part_placeholder
from stratoflow.store.base import ExecutionStore, KvGuard

log = logging.getLogger("stratoflow.deployer")

UNIDENTIFIED_NAMESPACE = "_objects"
_ATTEMPTS = 5


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def identify(source: str, key: str, registry: DeploymentRegistry | None = None) -> tuple[str, str]:
    """The (namespace, flow id) an upload is about, even when the flow is invalid (see the module doc)."""
    document = read_yaml(source, key).data  # the loader's guards against alias bombs apply here too
    if isinstance(document, dict):
        namespace, flow_id = document.get("namespace"), document.get("id")
        if _usable(namespace) and _usable(flow_id):
            return str(namespace), str(flow_id)
    known = registry.object_flow(key) if registry is not None else None
    return known or (UNIDENTIFIED_NAMESPACE, key.replace("#", "_"))  # '#' separates the store's keys


def _usable(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "#" not in value


class Deployer:
    """Turns flow-file events into deployed revisions; AWS clients and the store are injected."""

    def __init__(
        self,
        store: ExecutionStore,
        settings: Settings,
        clients: AwsClients,
        steps: Sequence[DeployStep] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.settings = settings
        self.clients = clients
        self.steps = list(steps) if steps is not None else default_steps(clients, settings)
        self.registry = DeploymentRegistry(store)
        self.leases = FlowLeases(self.registry, sleep)

    # --- events ---------------------------------------------------------------------------------

    def handle(self, event: FlowObjectEvent) -> Verdict:
        if event.kind == "created":
            return self.deploy_object(event.bucket, event.key, event.version_id, event.sequencer)
        return self.retire_object(event.bucket, event.key)

    def deploy_object(
        self, bucket: str, key: str, version_id: str | None, sequencer: str | None = None
    ) -> Verdict:
        """Deploy the object version an "Object Created" event names, unless it is no longer current."""
        exists, current = self._current_version(bucket, key)
        guard = None
        if exists and not (version_id and current and current != version_id):
            guard = self.registry.note_upload(key, version_id or current, sequencer)
        if guard is None:
            skipped = _skipped(key, "a newer upload or a deletion of this object replaced it", version_id)
            self.registry.record_verdict(key, skipped)
            return skipped
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        body: bytes = self.clients.s3.get_object(**request)["Body"].read()
        try:
            source = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            text = body.decode("utf-8", errors="replace")
            return self._invalid(
                text, key, version_id, [f"{key}:1:1: the file is not UTF-8 text: {error.reason}"]
            )
        return self.deploy_source(source, key, version_id, guard)

    def retire_object(self, bucket: str, key: str) -> Verdict:
        """Retire the flow a deleted object held, unless the object exists again or the flow moved."""
        if self._current_version(bucket, key)[0]:
            return _skipped(
                key, "the object exists: only an older version was deleted, or it was uploaded again"
            )
        verdict = self.registry.verdict(key)
        held = self.registry.object_flow(key)
        if held is None:
            self._forget_invalid(verdict)
            self.registry.forget_object(key)
            return _skipped(key, "no flow was deployed from this object")
        namespace, flow_id = held
        source = self.registry.flow_object(namespace, flow_id)
        if source not in (None, key):
            self.registry.forget_object(key)
            return _skipped(
                key,
                f"flow {namespace}.{flow_id} now comes from {source}",
                namespace=namespace,
                flow_id=flow_id,
            )
        self.retire_flow(namespace, flow_id)
        self.registry.forget_object(key)
        return Verdict("DELETED", namespace, flow_id, "", message=f"flow {namespace}.{flow_id} retired")

    # --- deploy ---------------------------------------------------------------------------------

    def deploy_source(
        self, source: str, key: str, version_id: str | None = None, guard: KvGuard | None = None
    ) -> Verdict:
        """Validate, compile and deploy one flow text; `key` names it in errors and in the registry.

        `guard` (the newest upload of the object seen) conditions the write that makes the revision
        live: an older upload that reaches that write after a newer one was seen never goes live.
        """
        try:
            flow = load_flow(source, key, inherited_from(self.store))
        except FlowValidationError as error:
            return self._invalid(source, key, version_id, [str(d) for d in error.diagnostics])
        owner = self.leases.take(flow.namespace, flow.id)
        try:
            return self._deploy(flow, source, key, version_id, guard)
        finally:
            self.registry.release_lease(flow.namespace, flow.id, owner)

    def _deploy(
        self, flow: Flow, source: str, key: str, version_id: str | None, guard: KvGuard | None
    ) -> Verdict:
        """Deploy under the flow's lease: no other deployment of the flow runs its steps meanwhile."""
        digest = source_hash(source)
        for _ in range(_ATTEMPTS):  # another deployer may take the revision number first: try the next
            if guard is not None and not self.registry.still_newest(guard):
                return self._replaced(key, version_id)
            live: FlowRecord | None = self.store.get_flow(flow.namespace, flow.id)
            if (
                live is not None
                and live.source_hash == digest
                and live.namespace_defaults == recorded_of(flow)
            ):
                return self._unchanged(live, key, version_id)
            head = self.store.get_flow_head(flow.namespace, flow.id)
            revision = (head.latest_revision if head else 0) + 1
            deployment = self._prepare(flow, revision, live, key)
            if isinstance(deployment, list):
                return self._invalid(source, key, version_id, deployment)
            self._run_steps(deployment, live, digest)
            record = FlowRecord(
                namespace=flow.namespace,
                flow_id=flow.id,
                revision=revision,
                source=source,
                source_hash=digest,
                definition=deployment.compiled,
                parts=deployment.compiled_parts,
                namespace_defaults=recorded_of(flow),
            )
            try:
                self.store.put_flow(record, guard)
            except ConflictError:  # a newer upload was seen, or the revision number taken
                self.restore(live, deployment)
                continue
            except Exception:  # the record not written (its object, the table): the live revision stays
                self.restore(live, deployment)
                raise
            verdict = Verdict(
                "DEPLOYED",
                flow.namespace,
                flow.id,
                digest,
                version_id,
                revision,
                message="; ".join(deployment.notes),
            )
            self._settle(key, verdict)
            log.info("deployed %s.%s revision %s from %s", flow.namespace, flow.id, revision, key)
            return verdict
        raise ConflictError(
            f"could not record a new revision of {flow.namespace}.{flow.id}: too many concurrent deploys"
        )

    def _run_steps(self, deployment: Deployment, live: FlowRecord | None, digest: str) -> None:
        """Every step, then the version; a step that fails puts the live revision's resources back."""
        try:
            for step in self.steps:
                step.deploy(deployment)
            if deployment.version_arn is None:
                raise RuntimeError("no deployment step published a state machine version")
        except Exception:
            self.restore(live, deployment)
            raise
        target = deployment.target
        self.registry.record_version(
            target.namespace, target.flow_id, deployment.revision, digest, deployment.version_arn
        )

    def restore(self, live: FlowRecord | None, failed: Deployment) -> None:
        """Run the steps again for the live revision (no new version), so that a deployment that
        failed halfway leaves the live revision fully live: $LATEST (which Subflow tasks start), its
        alarms and triggers. Nothing was live: the next deployment converges on what was left."""
        previous = _parse(live)
        if live is None or previous is None or live.definition is None:
            return
        restored = previous.model_copy(update={"revision": live.revision})
        measured = measure(restored, self.names())
        values = self.names().values(restored)
        values.update({f"FlowPart.{n}": part_placeholder(n) for n in range(1, len(live.parts) + 1)})
        deployment = Deployment(
            target=failed.target,
            flow=restored,
            previous=failed.flow,
            revision=live.revision,
            definition=substitute(live.definition, values),
            permissions=measured.compiled.permissions if measured.compiled else [],
            compiled=live.definition,
            parts=[substitute(part, values) for part in live.parts],
            compiled_parts=live.parts,
            restoring=True,
            live_version_arn=self.registry.version_arn(
                live.namespace, live.flow_id, live.revision, live.source_hash
            ),
        )
        try:
            for step in self.steps:
                step.deploy(deployment)
        except Exception as error:  # the original failure is what the caller reports
            log.error(
                "could not restore %s revision %s: %s", failed.target.state_machine_name, live.revision, error
            )

    def _replaced(self, key: str, version_id: str | None) -> Verdict:
        skipped = _skipped(key, "a newer upload of this object was seen: it deploys instead", version_id)
        self.registry.record_verdict(key, skipped)
        return skipped

    def target(self, namespace: str, flow_id: str) -> FlowTarget:
        name = state_machine_name(self.settings.stratoflow_stack_name, namespace, flow_id)
        arn = self._account().state_machine_arn(name)
        return FlowTarget(namespace, flow_id, name, arn, self.settings.stratoflow_stack_name)

    def names(self) -> DeployNames:
        """What this stack's placeholders become (the ARNs `measure` substitutes)."""
        settings = self.settings
        return DeployNames(
            settings.stratoflow_stack_name,
            self._account(),
            settings.stratoflow_task_runner_arn,
            settings.flow_roles_enabled,
            settings.stratoflow_data_bucket,
            ContainerStack(
                settings.stratoflow_container_cluster_arn,
                settings.stratoflow_container_task_definition,
                settings.stratoflow_container_subnets,
                settings.stratoflow_container_security_groups,
                settings.stratoflow_container_public_ip == "ENABLED",
            ),
        )

    def _prepare(
        self, flow: Flow, revision: int, live: FlowRecord | None, key: str
    ) -> Deployment | list[str]:
        """Compile and measure the revision: the deployment, or every reason it cannot be deployed.

        Everything an AWS limit could refuse later is checked here, before the first side effect.
        """
        versioned = flow.model_copy(update={"revision": revision})
        measured = measure(versioned, self.names(), key)
        if measured.problems or measured.compiled is None or measured.definition is None:
            return [str(problem) for problem in measured.problems]
        account = self._account()
        problems = pipe_source_problems(flow, account.partition, account.region, account.account)
        problems += refused_resources(flow, parse_grants(self.settings.stratoflow_namespace_grants))
        storage = stack_storage_patterns(
            self.settings.stratoflow_table_name,
            (self.settings.stratoflow_flows_bucket, self.settings.stratoflow_data_bucket),
        )
        problems += stack_storage_problems(flow, storage)
        if problems:
            return [problem if problem.startswith(f"{key}:") else f"{key}: {problem}" for problem in problems]
        return Deployment(
            target=self.target(flow.namespace, flow.id),
            flow=versioned,
            previous=_parse(live),
            revision=revision,
            definition=measured.definition,
            permissions=measured.compiled.permissions,
            compiled=measured.compiled.definition,
            parts=measured.parts,
            compiled_parts=measured.compiled.parts,
        )

    def _unchanged(self, live: FlowRecord, key: str, version_id: str | None) -> Verdict:
        """The live revision has this content: clear an earlier INVALID verdict, redeploy nothing."""
        head = self.store.get_flow_head(live.namespace, live.flow_id)
        if head is not None and head.status != "DEPLOYED":
            self.store.set_flow_status(live.namespace, live.flow_id, "DEPLOYED")
        verdict = Verdict(
            "DEPLOYED",
            live.namespace,
            live.flow_id,
            live.source_hash,
            version_id,
            live.revision,
            message=f"unchanged: revision {live.revision} is already deployed",
        )
        self._settle(key, verdict)
        return verdict

    def _settle(self, key: str, verdict: Verdict) -> None:
        """Record a successful verdict; a file that now holds another flow retires the one it held."""
        held = self.registry.object_flow(key)
        moved = held is not None and held != (verdict.namespace, verdict.flow_id)
        if held is not None and moved and self.registry.flow_object(*held) == key:
            self.retire_flow(*held)
        self.registry.record_verdict(key, verdict)

    # --- invalid uploads ------------------------------------------------------------------------

    def _invalid(self, source: str, key: str, version_id: str | None, errors: list[str]) -> Verdict:
        namespace, flow_id = identify(source, key, self.registry)
        head = self.store.get_flow_head(namespace, flow_id)
        reported = head is not None and head.status in ("INVALID", "DELETED") and head.errors == errors
        if head is not None and head.status == "DELETED":
            # An INVALID head would make the retired revision live again: the flow stays DELETED.
            self.store.set_flow_status(namespace, flow_id, "DELETED", errors)
            live_revision = None
        else:
            self.store.set_flow_status(namespace, flow_id, "INVALID", errors)
            live_revision = head.deployed_revision if head is not None else None
        if not reported:  # the same broken file delivered twice alerts once
            location = (
                f"s3://{self.settings.stratoflow_flows_bucket}/{key}"
                if self.settings.stratoflow_flows_bucket
                else key
            )
            subject, message = invalid_flow_alert(namespace, flow_id, location, errors, live_revision)
            publish_alert(self.clients.sns, self.settings.stratoflow_alert_topic_arn, subject, message)
        verdict = Verdict(
            "INVALID",
            namespace,
            flow_id,
            source_hash(source),
            version_id,
            live_revision,
            errors,
            message=f"{len(errors)} error(s); "
            + (f"revision {live_revision} keeps running" if live_revision else "nothing is deployed"),
        )
        self.registry.record_verdict(key, verdict)
        log.info("refused %s (%s.%s): %s", key, namespace, flow_id, "; ".join(errors))
        return verdict

    def _forget_invalid(self, verdict: Verdict | None) -> None:
        """A deleted file that never deployed a flow: its INVALID head (with nothing live) goes too."""
        if verdict is None or verdict.status != "INVALID":
            return
        head = self.store.get_flow_head(verdict.namespace, verdict.flow_id)
        if head is not None and head.deployed_revision is None and head.status == "INVALID":
            self.store.set_flow_status(verdict.namespace, verdict.flow_id, "DELETED")

    # --- retire ---------------------------------------------------------------------------------

    def retire_flow(self, namespace: str, flow_id: str) -> None:
        """Stop starts first (head DELETED), then delete the flow's resources, last step first."""
        live = self.store.get_flow(namespace, flow_id)
        if self.store.get_flow_head(namespace, flow_id) is not None:
            self.store.set_flow_status(namespace, flow_id, "DELETED")
        retirement = Retirement(self.target(namespace, flow_id), _parse(live))
        for step in reversed(self.steps):
            step.retire(retirement)
        self.registry.forget_flow(namespace, flow_id)
        log.info("retired %s.%s", namespace, flow_id)

    # --- helpers --------------------------------------------------------------------------------

    def _current_version(self, bucket: str, key: str) -> tuple[bool, str | None]:
        """Whether the object exists, and its current version id (None when the bucket is unversioned)."""
        try:
            response = self.clients.s3.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return False, None
            raise
        version = response.get("VersionId")
        return True, (None if version in (None, "null") else str(version))

    def _account(self) -> AccountRegion:
        """The stack's partition, region and account, read from the task runner's ARN (no AWS call)."""
        if not self.settings.stratoflow_task_runner_arn:
            raise RuntimeError("STRATOFLOW_TASK_RUNNER_ARN is not set: the deployer cannot name ARNs")
        return AccountRegion.from_arn(self.settings.stratoflow_task_runner_arn)


def _parse(record: FlowRecord | None) -> Flow | None:
    """The flow of a stored revision (steps compare old and new), None when it no longer loads."""
    if record is None:
        return None
    try:
        name = f"{record.namespace}.{record.flow_id}"
        return load_flow(record.source, name, recorded_in(record.namespace_defaults))
    except FlowValidationError:
        return None


def _skipped(
    key: str, reason: str, version_id: str | None = None, namespace: str = "", flow_id: str = ""
) -> Verdict:
    return Verdict(
        "SKIPPED", namespace or UNIDENTIFIED_NAMESPACE, flow_id or key, "", version_id, message=reason
    )
