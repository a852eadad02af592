"""What a script can post through its task run's upload, held to the POST policy the runner signs.

moto ignores a POST's policy (its conditions, its signature) and its `tagging` field. `PolicyBucket`
models what S3 does with a browser-based upload (AWS's "POST Object" and "Creating a POST policy"):
the signature must be the policy's, signed with the runner's key (SigV4); every form field but the
file, the policy and the signature must be named by a condition; every condition must hold; and the
`tagging` field's tag set is the object's tags. The runner signs with a real botocore client (no
request leaves the process) and the sandbox posts with its own `transfer.upload`.

A script reaching its sandbox's upload can post keys it never reports (the runner deletes by name only
what it knows of): each such object carries the tag that the data bucket's `SandboxHandover` lifecycle
rule expires (`tests/infrastructure/test_infra_storage.py`), and a form without it is refused.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import io
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.sandbox_call import HandedFile, SandboxReply, ScriptAnswer, ScriptJob, Upload
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts import transfer

REGION, BUCKET, SECRET = "eu-west-1", "data", "runner-secret"
PREFIX = "team.app/etl/executions/e1/r1/sandbox/1/"
UNSIGNED_FIELDS = {"file", "policy", "x-amz-signature"}


class PolicyBucket:
    """The data bucket's answer to a POST, and its objects with their tags."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.refusals: list[str] = []

    def post(self, form: dict[str, str], content: bytes) -> int:
        reason = self._refusal(form, content)
        if reason is not None:
            self.refusals.append(reason)
            return 403
        self.objects[form["key"]] = (content, _tags(form.get("tagging")))
        return 204

    def _refusal(self, form: dict[str, str], content: bytes) -> str | None:
        policy = form["policy"]
        date = form["x-amz-credential"].split("/")[1]
        key = hmac.new(f"AWS4{SECRET}".encode(), date.encode(), hashlib.sha256).digest()
        for part in (REGION, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        if hmac.new(key, policy.encode(), hashlib.sha256).hexdigest() != form["x-amz-signature"]:
            return "SignatureDoesNotMatch"
        values = {**form, "bucket": BUCKET}
        named: set[str] = set()
        for condition in json.loads(base64.b64decode(policy))["conditions"]:
            if isinstance(condition, dict):
                ((field, expected),) = condition.items()
                condition = ["eq", f"${field}", expected]
            operator, *rest = condition
            if operator == "content-length-range":
                if not rest[0] <= len(content) <= rest[1]:
                    return "EntityTooLarge"
                continue
            field, expected = rest[0].lstrip("$").lower(), rest[1]
            named.add(field)
            actual = values.get(field)
            if actual is None or not (
                actual == expected if operator == "eq" else actual.startswith(expected)
            ):
                return f"Invalid according to Policy: Policy Condition failed: {condition}"
        extra = {name.lower() for name in form} - UNSIGNED_FIELDS - named
        if extra:
            return f"Invalid according to Policy: Extra input fields: {sorted(extra)}"
        return None


def _tags(xml: str | None) -> dict[str, str]:
    if xml is None:
        return {}
    return dict(re.findall(r"<Tag><Key>([^<]*)</Key><Value>([^<]*)</Value></Tag>", xml))


class Posted(io.BytesIO):
    def __init__(self, status: int):
        super().__init__(b"")
        self.status = status

    def __enter__(self) -> Posted:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def posting_to(bucket: PolicyBucket) -> Any:
    """`transfer._open` for POSTs: the multipart form goes to `bucket` instead of the network."""

    def open_request(request: urllib.request.Request, timeout: float) -> Posted:
        head = f"Content-Type: {request.get_header('Content-type')}\r\n\r\n".encode()
        message = email.message_from_bytes(head + bytes(request.data), policy=email.policy.HTTP)  # type: ignore[arg-type]
        form, content = {}, b""
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if name == "file":
                content = payload
            else:
                form[name] = payload.decode()
        return Posted(bucket.post(form, content))

    return open_request


class Runner:
    """The task runner's side on a real botocore signer (reading and deleting in `bucket`); the
    sandbox's invoke runs `script(upload)`."""

    def __init__(self, script: Any, bucket: PolicyBucket):
        self.script, self.bucket = script, bucket
        self.s3 = boto3.client(
            "s3",
            region_name=REGION,
            aws_access_key_id="runner",
            aws_secret_access_key=SECRET,
            config=Config(signature_version="s3v4"),
        )
        self.deleted: list[str] = []
        self.s3.delete_objects = self._delete  # type: ignore[method-assign]
        self.s3.get_object = self._get  # type: ignore[method-assign]

    def _get(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.bucket.objects[Key][0])}

    def _delete(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.deleted += [item["Key"] for item in Delete["Objects"]]
        return {}

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        upload = Upload.model_validate(json.loads(Payload)["upload"])
        answer = self.script(upload)
        reply = SandboxReply(answer=answer).model_dump(mode="json", exclude_none=True)
        return {"Payload": io.BytesIO(json.dumps(reply).encode())}

    def run(self) -> ScriptAnswer:
        job = ScriptJob(folders=["/tmp/x"], cwd="/tmp/x", argv=["true"], env={}, whole_line_limit=1)
        sandboxes = LambdaScriptSandboxes(self, self.s3, BUCKET, "Stack")  # type: ignore[arg-type]
        return sandboxes.for_task_run("team.app", "etl", "e1", "r1", 1).run(job)


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[PolicyBucket]:
    posted = PolicyBucket()
    monkeypatch.setattr(transfer, "_open", posting_to(posted))
    yield posted


def test_a_scripts_unreported_upload_carries_the_tag_the_bucket_expires(bucket: PolicyBucket) -> None:
    # Given a script that posts a file through its run's upload and reports another one
    def script(upload: Upload) -> ScriptAnswer:
        transfer.upload(upload, "kept-quiet.bin", b"stray")
        key = transfer.upload(upload, "files/7-out.csv", b"a,b")
        return ScriptAnswer(exit_code=0, files=[HandedFile(path="out.csv", size=3, key=key)])

    runner = Runner(script, bucket)

    # When the runner hands the job over and takes the answer
    answer = runner.run()

    # Then S3 accepted both posts under the policy, each object tagged for the lifecycle rule; the
    # runner deleted the reported one by name, and the unreported one is left to expire by its tag
    assert bucket.refusals == [] and answer.files[0].content() == b"a,b"
    assert bucket.objects[f"{PREFIX}out/kept-quiet.bin"] == (b"stray", {"stratoflow": "sandbox"})
    assert runner.deleted == [f"{PREFIX}out/files/7-out.csv"]


@pytest.mark.parametrize(
    "change",
    [
        lambda fields: {name: value for name, value in fields.items() if name != "tagging"},
        lambda fields: {**fields, "tagging": "<Tagging><TagSet></TagSet></Tagging>"},
        lambda fields: {**fields, "tagging": fields["tagging"].replace("sandbox", "history")},
    ],
    ids=["without the tag", "no tags", "another value"],
)
def test_a_post_that_drops_or_changes_the_tag_is_refused(bucket: PolicyBucket, change: Any) -> None:
    # Given a script that crafts its own form from its upload's fields, without the sandbox tag
    def script(upload: Upload) -> ScriptAnswer:
        forged = upload.model_copy(update={"fields": change(upload.fields)})
        transfer.upload(forged, "forever.bin", b"stray")
        return ScriptAnswer(exit_code=0)

    # When it posts, Then S3 refuses it (the sandbox's upload fails), and nothing was stored
    with pytest.raises(TaskFailed, match=r"storing 'forever\.bin' through the task run's upload failed"):
        Runner(script, bucket).run()
    assert bucket.objects == {} and len(bucket.refusals) == 1


def test_the_model_of_s3_refuses_a_policy_that_was_not_signed_by_the_runner(bucket: PolicyBucket) -> None:
    # Given a script that rewrites the policy itself (drops the tag condition) and keeps the signature
    def script(upload: Upload) -> ScriptAnswer:
        policy = json.loads(base64.b64decode(upload.fields["policy"]))
        policy["conditions"] = [
            c for c in policy["conditions"] if not (isinstance(c, dict) and "tagging" in c)
        ]
        fields = {name: value for name, value in upload.fields.items() if name != "tagging"}
        fields["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
        transfer.upload(upload.model_copy(update={"fields": fields}), "forever.bin", b"stray")
        return ScriptAnswer(exit_code=0)

    # When it posts, Then the signature does not match
    with pytest.raises(TaskFailed, match="upload failed"):
        Runner(script, bucket).run()
    assert bucket.refusals == ["SignatureDoesNotMatch"]
