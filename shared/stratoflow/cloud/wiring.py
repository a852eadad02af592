"""Builds the cloud objects from settings: stores on DynamoDB and S3, the task runner."""

from __future__ import annotations

from stratoflow.cloud.config.lazy import LazyAwsClients
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.callbacks import StepFunctionsCallbacks
from stratoflow.cloud.runtime.flow_credentials import flow_credentials
from stratoflow.execution.runner import TaskRunner


def cloud_task_runner(settings: Settings) -> TaskRunner:
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    # Built at import time (the handler's INIT): clients are created by their first request.
    clients = LazyAwsClients()
    store = DynamoExecutionStore(
        settings.stratoflow_table_name, client=clients.dynamodb, history_days=settings.stratoflow_history_days
    )
    blobs = S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3)
    callbacks = StepFunctionsCallbacks(clients.stepfunctions)
    # AWS tasks run with their flow's role (STRATOFLOW_FLOW_ROLE_PREFIX), not the task runner's.
    return TaskRunner(
        store,
        blobs,
        callbacks=callbacks,
        credentials=flow_credentials(settings),
        secrets=configured_secrets(),
    )
