"""The sandbox's side of moving files through S3: a presigned GET, a presigned POST.

The sandbox holds no permission on the data bucket: the task runner signs a URL per input file and
one POST policy for the task run's key prefix, and the sandbox uses them with plain HTTP (urllib:
no AWS SDK needed, and the URL is all the access there is). The same goes for the job's stop URL, a
GET of the task run's stop object, which the sandbox polls while the command runs (`stop_check`).
"""

from __future__ import annotations

import functools
import ssl
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stratoflow.sandbox_call import MAX_STOP_REASON_BYTES, STOP_POLL_SECONDS, Upload
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.process import StopCheck

TIMEOUT_SECONDS = 300.0
CHUNK_BYTES = 1024**2
# A poll of the stop URL holds the command's output loop: a slow one is given up (and asked again).
STOP_READ_SECONDS = 1.0


@functools.cache
def _https() -> urllib.request.OpenerDirector:
    """One TLS context for the process: `urlopen` makes a new one per request, loading the system's
    certificates each time (tens of milliseconds of CPU, per poll of the stop URL)."""
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))


def _open(url: str | urllib.request.Request, timeout: float) -> Any:
    return _https().open(url, timeout=timeout)


def stop_check(
    url: str,
    every: float = STOP_POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    opener: Callable[..., Any] = _open,
) -> StopCheck:
    """A stop check (`process.stopped_when`) that GETs the job's stop URL once per `every` seconds,
    the first time `every` seconds after it was made (a command that ends sooner costs no request):
    the object's text is the reason. Missing (404; 403 where the signer may not list the bucket),
    or unreachable for a moment: the command runs on."""
    last = clock()

    def check() -> str | None:
        nonlocal last
        if clock() - last < every:
            return None
        last = clock()
        try:
            with opener(url, timeout=STOP_READ_SECONDS) as response:
                text: bytes = response.read(MAX_STOP_REASON_BYTES)
        except (OSError, ValueError):  # urllib's HTTPError (404, 403) and URLError are OSErrors
            return None
        return text.decode("utf-8", errors="replace").strip() or "its task run was stopped"

    return check


def download(url: str, target: Path, size: int) -> None:
    """Write the object behind a presigned GET to `target`; it must hold exactly `size` bytes."""
    written = 0
    with _open(url, TIMEOUT_SECONDS) as response, target.open("wb") as out:
        while chunk := response.read(CHUNK_BYTES):
            written += len(chunk)
            if written > size:
                break
            out.write(chunk)
    if written != size:
        raise TaskFailed(f"input file {target.name!r}: expected {size} bytes from storage, got {written}")


def upload(policy: Upload, name: str, content: bytes) -> str:
    """POST `content` as `<prefix><name>`; returns the key."""
    key = policy.prefix + name
    if len(content) > policy.max_bytes:
        raise TaskFailed(
            f"{name!r} takes {len(content)} bytes; a file handed back by the sandbox may take "
            f"{policy.max_bytes}"
        )
    boundary = uuid.uuid4().hex
    parts = [*policy.fields.items(), ("key", key)]
    body = bytearray()
    for field, value in parts:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
    # S3 reads every field before `file`, which must come last.
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="data"\r\n'.encode()
    body += b"Content-Type: application/octet-stream\r\n\r\n" + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        policy.url,
        data=bytes(body),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with _open(request, TIMEOUT_SECONDS) as response:
        if response.status >= 300:
            raise TaskFailed(f"storing {name!r} through the task run's upload failed: HTTP {response.status}")
    return key
