"""The task runner's side of each flow's script sandbox: invoke it, move files through S3 for it.

A script task's command never runs in the task-runner Lambda (whose role reaches every namespace): it
runs in the flow's sandbox function `<StackName>-sbx-<hash>` (`cloud.deploy.sandboxes`), invoked
synchronously with a `ScriptJob`. Files larger than `INLINE_FILE_BYTES` go to the data bucket under
the task run's own prefix `<task run folder>/sandbox/<attempt>/in/` and travel as presigned GETs;
what the sandbox hands back (large output files, an answer over Lambda's response size) comes through
one presigned POST restricted to `.../out/`. The sandbox has no permission on the bucket at all: the
URLs are all the access it gets.

After the run the runner deletes, by name, what it put under the prefix and what the answer says the
sandbox put there: no LIST per script task (an S3 request, billed, and a round trip). What a script
posts through the upload without it being reported cannot stay: the POST policy requires the
`SANDBOX_TAG` tag on every object, and the data bucket's lifecycle expires objects with that tag
`SANDBOX_EXPIRY_DAYS` after they were written (`infra.constructs.storage`), as it does what a failed
delete leaves.

Stopping: while the invoke waits, a thread asks the runner's stop check (`runner.kill_flag`, installed
with `process.stopped_when`) and, when the task run is KILLED, writes `.../stop` (the reason inside);
the job's `stop_url`, a presigned GET of that one key, is what the sandbox polls to kill its command.
The runner then raises TaskStopped itself, so the run stays KILLED and the sandbox's late answer is
discarded.

The answer is untrusted: a key it names must be under the run's own `out/` prefix, and the task
checks the rest (`tasks.scripts.handover`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import sandbox_function_name
from stratoflow.sandbox_call import (
    INLINE_FILE_BYTES,
    INLINE_JOB_BYTES,
    MAX_STOP_REASON_BYTES,
    MAX_UPLOAD_BYTES,
    HandedFile,
    SandboxReply,
    ScriptAnswer,
    ScriptJob,
    Upload,
)
from stratoflow.storage_layout import SANDBOX_TAG, sandbox_folder
from stratoflow.tasks.errors import TaskFailed, TaskStopped
from stratoflow.tasks.scripts.process import StopCheck, installed_check
from stratoflow.tasks.scripts.stop_watch import StopWatch

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

# Presigned URLs (the stop URL too) outlive the longest run (Lambda's 15 minutes) with room for the
# handover itself.
URL_SECONDS = 3600
# S3's most keys per DeleteObjects request.
DELETE_BATCH = 1000
# The tag as PutObject's header writes it, and as a POST's `tagging` form field must carry it.
TAGGING = "=".join(SANDBOX_TAG)
TAGGING_XML = f"<Tagging><TagSet><Tag><Key>{SANDBOX_TAG[0]}</Key><Value>{SANDBOX_TAG[1]}</Value></Tag></TagSet></Tagging>"


class SandboxMissing(TaskFailed):
    """The flow has no sandbox function (deployed before sandboxes existed, or being retired)."""


class _StopUnknown(TaskFailed):
    """The sandbox refused the job's `stop_url`: its code is older than this runner's."""


@dataclass(frozen=True)
class LambdaScriptSandboxes:
    """Binds the stack's sandbox functions to task runs; `lambda_client` must wait 15 minutes for an
    answer (botocore's read timeout)."""

    lambda_client: LambdaClient
    s3: S3Client
    bucket: str
    stack_name: str

    def for_task_run(
        self, namespace: str, flow_id: str, execution_id: str, task_run_id: str, attempt: int
    ) -> LambdaScriptSandbox:
        prefix = sandbox_folder(namespace, flow_id, execution_id, task_run_id, attempt) + "/"
        return LambdaScriptSandbox(self, sandbox_function_name(self.stack_name, namespace, flow_id), prefix)


@dataclass(frozen=True)
class LambdaScriptSandbox:
    """One task run's sandbox: `run` hands a job over and brings the answer back with inline files."""

    sandboxes: LambdaScriptSandboxes
    function_name: str
    prefix: str

    def run(self, job: ScriptJob) -> ScriptAnswer:
        # The runner's stop check (its task run KILLED, its execution KILLING) cannot reach the
        # sandbox's loop: a thread asks it while the invoke waits and writes the stop object.
        check = installed_check()
        # The keys under the prefix that this run wrote, or that the answer says the sandbox wrote:
        # deleted by name after the run, whatever its outcome.
        written: list[str] = []
        try:
            files = [self._hand_over(number, handed, written) for number, handed in enumerate(job.files)]
            update: dict[str, Any] = {"files": files, "upload": self._upload()}
            if check is not None:
                update["stop_url"] = self._presigned_get(self._stop_key)
            sent = job.model_copy(update=update)
            reply = self._invoke(sent) if check is None else self._invoke_stoppable(sent, check, written)
            written += self._uploads_among([reply.answer_key])
            answer = reply.answer if reply.answer is not None else self._answer_at(reply.answer_key)
            handed_back = [*answer.files, *(answer.workdir or [])]
            written += self._uploads_among([handed.key for handed in handed_back])
            files = [self._taken(f) for f in answer.files]
            workdir = None if answer.workdir is None else [self._taken(f) for f in answer.workdir]
            return answer.model_copy(update={"files": files, "workdir": workdir})
        finally:
            self._delete(written)

    def _hand_over(self, number: int, handed: HandedFile, written: list[str]) -> HandedFile:
        if handed.size <= INLINE_FILE_BYTES:
            return handed
        key = f"{self.prefix}in/{number}"
        s3, bucket = self.sandboxes.s3, self.sandboxes.bucket
        written.append(key)
        s3.put_object(Bucket=bucket, Key=key, Body=handed.content(), Tagging=TAGGING)
        url = self._presigned_get(key)
        return HandedFile(path=handed.path, size=handed.size, url=url, executable=handed.executable)

    def _invoke_stoppable(self, job: ScriptJob, check: StopCheck, written: list[str]) -> SandboxReply:
        """Invoke while a thread asks `check`; once it gave a reason, TaskStopped whatever the sandbox
        answered (the runner's own verdict: the run is KILLED and its end is discarded, as when the
        runner's own loop kills a command). The stop object, once tried, joins `written`."""
        with StopWatch(check, self._stop) as watch:
            try:
                try:
                    reply = self._invoke(job)
                except _StopUnknown:
                    # It refused the job before running anything: its code predates stops (sandboxes
                    # get the stack's new code when their flow is uploaded). Run it as before.
                    log.warning(
                        "%s predates stopping scripts: upload its flow again so that a killed task run "
                        "stops its script",
                        self.function_name,
                    )
                    reply = self._invoke(job.model_copy(update={"stop_url": None}))
            except Exception:
                if watch.reason is None:
                    raise
        if watch.reason is not None:
            written.append(self._stop_key)
            raise TaskStopped(f"the command was killed: {watch.reason}")
        return reply

    def _presigned_get(self, key: str) -> str:
        url: str = self.sandboxes.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.sandboxes.bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )
        return url

    @property
    def _stop_key(self) -> str:
        return f"{self.prefix}stop"

    def _stop(self, reason: str) -> None:
        """Tell the sandbox to kill the command: its stop URL finds the object (the reason inside)."""
        s3 = self.sandboxes.s3
        s3.put_object(
            Bucket=self.sandboxes.bucket,
            Key=self._stop_key,
            Body=reason.encode()[:MAX_STOP_REASON_BYTES],
            Tagging=TAGGING,
        )

    def _upload(self) -> Upload:
        out = f"{self.prefix}out/"
        # S3 refuses a POST whose form lacks the `tagging` field the policy names, so everything the
        # sandbox (or its script) posts carries the tag its lifecycle rule expires.
        post = self.sandboxes.s3.generate_presigned_post(
            Bucket=self.sandboxes.bucket,
            Key=out + "${filename}",
            Fields={"tagging": TAGGING_XML},
            Conditions=[
                ["starts-with", "$key", out],
                ["content-length-range", 0, MAX_UPLOAD_BYTES],
                {"tagging": TAGGING_XML},
            ],
            ExpiresIn=URL_SECONDS,
        )
        fields = {name: str(value) for name, value in post["fields"].items() if name != "key"}
        return Upload(url=post["url"], fields=fields, prefix=out, max_bytes=MAX_UPLOAD_BYTES)

    def _invoke(self, job: ScriptJob) -> SandboxReply:
        payload = job.model_dump_json(exclude_none=True)
        if len(payload) > INLINE_JOB_BYTES:
            raise TaskFailed(
                f"the script's command and environment take {len(payload)} bytes; a sandbox takes "
                f"{INLINE_JOB_BYTES} inline (files travel apart): shorten the command or pass data as inputFiles"
            )
        try:
            response = self.sandboxes.lambda_client.invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse", Payload=payload.encode()
            )
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                raise SandboxMissing(
                    f"the flow's script sandbox {self.function_name} does not exist: upload the flow "
                    "again (flows deployed before script sandboxes have none)"
                ) from None
            raise
        body = response["Payload"].read()
        if response.get("FunctionError"):
            document = _json(body)
            if document.get("errorType") == "ValidationError" and "stop_url" in str(
                document.get("errorMessage")
            ):
                raise _StopUnknown(self.function_name)
            raise TaskFailed(
                f"the script sandbox {self.function_name} failed: {document.get('errorType', 'error')}: "
                f"{document.get('errorMessage', body[:500].decode('utf-8', 'replace'))}"
            )
        return SandboxReply.model_validate_json(body)

    def _owned(self, key: str | None) -> str:
        if key is None or not key.startswith(f"{self.prefix}out/"):
            raise TaskFailed(f"the script sandbox named {key!r}, outside the task run's own uploads")
        return key

    def _answer_at(self, key: str | None) -> ScriptAnswer:
        data = self._get(self._owned(key))
        return ScriptAnswer.model_validate_json(data)

    def _taken(self, handed: HandedFile) -> HandedFile:
        if handed.data is not None:
            return handed
        content = self._get(self._owned(handed.key))
        return HandedFile.inline(handed.path, content, handed.executable)

    def _get(self, key: str) -> bytes:
        body: bytes = self.sandboxes.s3.get_object(Bucket=self.sandboxes.bucket, Key=key)["Body"].read()
        return body

    def _uploads_among(self, keys: list[str | None]) -> list[str]:
        """The keys named by the answer that are this run's own uploads (the others are refused, never
        deleted: an answer could name another run's objects)."""
        out = f"{self.prefix}out/"
        return [key for key in keys if key is not None and key.startswith(out)]

    def _delete(self, keys: list[str]) -> None:
        """Delete these keys of the run's prefix: one request per DELETE_BATCH keys, none for none."""
        unique = list(dict.fromkeys(keys))
        s3, bucket = self.sandboxes.s3, self.sandboxes.bucket
        try:
            for start in range(0, len(unique), DELETE_BATCH):
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": key} for key in unique[start : start + DELETE_BATCH]
                ]
                done = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                for failed in done.get("Errors", []):
                    log.warning(
                        "could not delete the sandbox file %s: %s", failed.get("Key"), failed.get("Message")
                    )
        except Exception as error:  # left behind: only this task run's own files, which expire by their tag
            log.warning("could not delete the sandbox files under %s: %s", self.prefix, error)


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}
