"""Builds the cloud objects from settings: stores on DynamoDB and S3, the task runner."""

from __future__ import annotations

from stratoflow.cloud.callbacks import StepFunctionsCallbacks
from stratoflow.cloud.settings import Settings
from stratoflow.runner import TaskRunner


def cloud_task_runner(settings: Settings) -> TaskRunner:
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    store = DynamoExecutionStore(settings.stratoflow_table_name)
    blobs = S3BlobStore(settings.stratoflow_data_bucket)
    return TaskRunner(store, blobs, callbacks=StepFunctionsCallbacks())
