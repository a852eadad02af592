"""The command of a Fargate script container: a stock Python image (nothing of Stratoflow in it) runs
`python -c <this file>`, which downloads the sandbox's code and starts it.

The code is the platform layer's asset (the zip the flows' sandbox functions run on: `python/` holding
the `stratoflow` library and its pinned dependencies), so a container runs exactly the sandbox
function's code. Its location comes from the task definition (`STRATOFLOW_CODE_BUCKET`,
`STRATOFLOW_CODE_KEY`); the container's task role (the flow's sandbox role, which may read that one
object) signs the download. The image has no AWS SDK: this file signs the one GET itself (Signature
Version 4), with the credentials ECS serves the task role's (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`,
or `..._FULL_URI` with its token, or keys in the environment), and honours `AWS_ENDPOINT_URL_S3` as
the SDKs do. It unpacks the code in a folder of its own, then replaces itself with `python -m stratoflow.cloud.runtime.container_sandbox`.

Standard library only, and no import of Stratoflow: it runs before the library exists.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping

ECS_CREDENTIALS_HOST = "http://169.254.170.2"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ENTRYPOINT = "stratoflow.cloud.runtime.container_sandbox"
TIMEOUT_SECONDS = 60


def credentials(environment: Mapping[str, str]) -> dict[str, str]:
    """The container's credentials: keys in the environment, else what ECS serves for its task role."""
    if environment.get("AWS_ACCESS_KEY_ID") and environment.get("AWS_SECRET_ACCESS_KEY"):
        return {
            "AccessKeyId": environment["AWS_ACCESS_KEY_ID"],
            "SecretAccessKey": environment["AWS_SECRET_ACCESS_KEY"],
            "Token": environment.get("AWS_SESSION_TOKEN", ""),
        }
    relative = environment.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    url = (
        ECS_CREDENTIALS_HOST + relative if relative else environment.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    )
    if not url:
        raise RuntimeError("no credentials: the container has no task role")
    request = urllib.request.Request(url)
    token = environment.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token and not relative:
        request.add_header("Authorization", token)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        served: dict[str, str] = json.load(response)
    return served


def signed_get(
    bucket: str,
    key: str,
    region: str,
    keys: Mapping[str, str],
    now: datetime.datetime,
    endpoint: str | None = None,
) -> urllib.request.Request:
    """A GET of `bucket`/`key` signed with Signature Version 4 (S3's rules: the path encoded once)."""
    path = "/" + urllib.parse.quote(key, safe="/-_.~")
    if endpoint:  # an endpoint of one's own (the SDKs' AWS_ENDPOINT_URL_S3): path-style
        parsed = urllib.parse.urlsplit(endpoint)
        host, path = parsed.netloc, "/" + bucket + path
        url = f"{parsed.scheme}://{host}{path}"
    else:
        host = f"{bucket}.s3.{region}.amazonaws.com"
        url = f"https://{host}{path}"
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": stamp}
    if keys.get("Token"):
        headers["x-amz-security-token"] = keys["Token"]
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            path,
            "",
            *(f"{name}:{headers[name].strip()}" for name in names),
            "",
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing = ("AWS4" + keys["SecretAccessKey"]).encode()
    for part in (day, region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={keys['AccessKeyId']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return urllib.request.Request(url, headers={k: v for k, v in headers.items() if k != "host"})


def download_code(environment: Mapping[str, str], target: str) -> str:
    """Download and unpack the sandbox's code under `target`; the folder to put on PYTHONPATH."""
    region = environment.get("AWS_REGION") or environment.get("AWS_DEFAULT_REGION") or "us-east-1"
    request = signed_get(
        environment["STRATOFLOW_CODE_BUCKET"],
        environment["STRATOFLOW_CODE_KEY"],
        region,
        credentials(environment),
        datetime.datetime.now(datetime.UTC),
        environment.get("AWS_ENDPOINT_URL_S3") or environment.get("AWS_ENDPOINT_URL"),
    )
    with tempfile.TemporaryFile() as archive:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            while chunk := response.read(1024 * 1024):
                archive.write(chunk)
        archive.seek(0)
        with zipfile.ZipFile(archive) as code:
            code.extractall(target)
    return os.path.join(target, "python")


def main() -> None:
    environment = dict(os.environ)
    library = download_code(environment, tempfile.mkdtemp(prefix="stratoflow-code-"))
    environment["PYTHONPATH"] = library
    os.execve(sys.executable, [sys.executable, "-m", ENTRYPOINT], environment)


if __name__ == "__main__":
    main()
