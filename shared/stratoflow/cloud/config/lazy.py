"""boto3 clients created on their first use, so that a Lambda's INIT imports no boto3 at all.

Importing boto3 costs ~100 ms and building a client parses its service's JSON model (~50-100 ms more
each for DynamoDB, S3, Step Functions). A function that builds its objects at import time with eager
clients pays all of it in INIT, for clients that some invocations never use (the task runner's S3 and
Step Functions clients serve only large outputs and callbacks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

from stratoflow.cloud.config.clients import AwsClients

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

_OWN = frozenset({"_create", "_client", "_lock"})


class LazyClient:
    """Stands for a client: every attribute is the real client's, which is created on first access."""

    def __init__(self, create: Callable[[], object]) -> None:
        self._create = create
        self._client: object = None
        # boto3's default session must not create clients in two threads at once.
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # a proxy: whatever the real client's attribute is
        if name in _OWN:  # not set yet (a copy made without __init__): never recurse into resolve()
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def resolve(self) -> object:
        """The real client (created now if it was not yet)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create()
        return self._client

    @property
    def created(self) -> bool:
        return self._client is not None


class RetryOptions(TypedDict, total=False):
    """botocore's `Config(retries=...)`."""

    mode: Literal["legacy", "standard", "adaptive"]
    total_max_attempts: int
    max_attempts: int


# The deployer's control-plane calls (CreateStateMachine, PutMetricAlarm, PutRule, CreateRole...) have
# low per-account rates: a bulk upload meets them. Adaptive mode retries throttles up to 10 times with
# backoff and slows the client down by itself while they last.
ADAPTIVE_RETRIES: RetryOptions = {"mode": "adaptive", "total_max_attempts": 10}


def _boto3_client(service: str, retries: RetryOptions | None = None) -> object:
    import boto3  # deferred to the first use of a client: the point of this module (see above)

    # S3 signs with SigV4 always: botocore presigns URLs and POST policies with SigV2 by default in the
    # regions that once took it (us-east-1 among them), and buckets made since June 2020 refuse SigV2,
    # so the script sandboxes' presigned hand-over would fail there.
    signature = "s3v4" if service == "s3" else None
    # A service named at run time: the stubs type boto3.client per literal service name only.
    if retries is None and signature is None:
        return boto3.client(service)  # type: ignore[call-overload]
    from botocore.config import Config

    return boto3.client(service, config=Config(retries=retries, signature_version=signature))  # type: ignore[call-overload]


class LazyAwsClients(AwsClients):
    """`AwsClients` whose clients not passed in are `LazyClient`s: building the cloud objects sends no
    request, imports no boto3 and loads no service model. `retries`: botocore's retry configuration."""

    def __init__(self, retries: RetryOptions | None = None, **clients: object):
        super().__init__(**clients)
        self.retries = retries

    def client(self, service: str) -> object:
        if service not in self._clients:
            self._clients[service] = LazyClient(lambda: _boto3_client(service, self.retries))
        return self._clients[service]


# A script sandbox answers when its script ends: up to Lambda's 15 minutes (botocore waits 60 s).
LONG_INVOKE_SECONDS = 15 * 60 + 60


def long_invoke_client(clients: AwsClients) -> LambdaClient:
    """A Lambda client that waits for a synchronous invocation as long as a function may run: a lazy
    one of its own for `LazyAwsClients`; the given clients' own otherwise (tests, the simulation)."""
    if not isinstance(clients, LazyAwsClients):
        return clients.lambda_

    def create() -> LambdaClient:
        import boto3
        from botocore.config import Config

        return boto3.client("lambda", config=Config(read_timeout=LONG_INVOKE_SECONDS, connect_timeout=10))

    return cast("LambdaClient", LazyClient(create))  # it stands for the client it creates
