"""Names in blob storage that several parts agree on: the compiled ASL reads or writes them, the task
runner writes them, and the stack's IAM policies grant them (infra.constructs.workflow_role)."""

from __future__ import annotations

LOOP_ITEMS = "items.json"
"""The file, in a loop's task-run folder, that its distributed Map reads its items from (a JSON array
for ForEach; JSON Lines for ForEachItem, whose ItemReader reads it as JSONL)."""

MAP_RESULTS_PREFIX = "map-results"
"""Distributed Maps write `<prefix>/<namespace>/<map run id>/manifest.json` and result files under it:
keyed by namespace, so a flow role is granted only its own namespace's results."""


def map_results_prefix(namespace: str) -> str:
    """The `ResultWriter` prefix of a distributed Map in a flow of `namespace`."""
    if not namespace:
        raise ValueError("a distributed Map's results need its flow's namespace")
    return f"{MAP_RESULTS_PREFIX}/{namespace}"


FLOW_RECORDS_PREFIX = "flow-records"
"""Flow records too large for a table item (`store.flow_objects`): never expire while the flow exists."""

NAMESPACE_FILES_PREFIX = "namespaces"
"""Namespace files: `<prefix>/<namespace>/files/...` (`store.namespace_files`)."""

PLATFORM_FOLDERS = frozenset({NAMESPACE_FILES_PREFIX, MAP_RESULTS_PREFIX, FLOW_RECORDS_PREFIX})
"""The data bucket's top-level folders that are not a namespace's. An execution's files live under
`<namespace>/...` and IAM grants a flow role `<its namespace>/*/executions/...`: a namespace named like
one of these folders would be granted the platform's objects, so no namespace may take these names."""


SANDBOX_FOLDER = "sandbox"
"""What a script sandbox of one attempt of a task run reads and writes goes under
`<namespace>/<flow>/executions/<execution>/<task run>/sandbox/<attempt>/`: the runner's job and the
files it hands over (`in/`), the sandbox's answer and files (`out/`). A flow's sandbox role may read
and write its own flow's sandbox folders and nothing else of the bucket (`cloud.deploy.sandboxes`)."""
JOB_FILE = "job.json"
"""A container's job, in its attempt's sandbox folder."""
REPLY_FILE = "out/reply.json"
"""A container's answer (a `SandboxReply`), in its attempt's sandbox folder."""


def sandbox_folder(namespace: str, flow_id: str, execution_id: str, task_run_id: str, attempt: int) -> str:
    """The sandbox folder of one attempt of a task run (no trailing '/')."""
    return f"{namespace}/{flow_id}/executions/{execution_id}/{task_run_id}/{SANDBOX_FOLDER}/{attempt}"


SANDBOX_TAG = ("stratoflow", "sandbox")
"""The tag of every object a script sandbox's hand-over puts under a sandbox folder (the runner's
inputs and stop object; what the sandbox posts, which its presigned POST policy requires the tag of).
The runner deletes what it knows of after the run; the data bucket's lifecycle expires the rest
(what a script posted without reporting it, what a failed delete left) SANDBOX_EXPIRY_DAYS later."""
SANDBOX_EXPIRY_DAYS = 1
"""Longer than any sandbox run (Lambda's 15 minutes), short enough that strays cost nothing to speak of."""
