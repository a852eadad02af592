"""The flow language: pydantic models, YAML loading with line numbers, validation, JSON Schema."""

from stratoflow.errors import Diagnostic, FlowValidationError, InputError
from stratoflow.flow.input import Input
from stratoflow.flow.inputs import input_types, resolve_inputs
from stratoflow.flow.loader import (
    analyse,
    flow_files,
    flow_locations,
    load_flow,
    load_flow_file,
    read_flow_source,
    task_location,
    validate_file,
    validate_path,
    validate_text,
)
from stratoflow.flow.model import Concurrency, Flow, FlowOutput, FlowSource, PluginDefault
from stratoflow.flow.retry import Retry
from stratoflow.flow.schema import flow_json_schema
from stratoflow.flow.task import RunnableTask, Task
from stratoflow.flow.task_lists import FlowableTask
from stratoflow.flow.triggers import (
    TRIGGER_TYPES,
    EventBridgeTrigger,
    FlowTrigger,
    S3Trigger,
    Schedule,
    SqsTrigger,
    Trigger,
    Webhook,
)

__all__ = [
    "TRIGGER_TYPES",
    "Concurrency",
    "Diagnostic",
    "EventBridgeTrigger",
    "Flow",
    "FlowOutput",
    "FlowSource",
    "FlowTrigger",
    "FlowValidationError",
    "FlowableTask",
    "Input",
    "InputError",
    "PluginDefault",
    "Retry",
    "RunnableTask",
    "S3Trigger",
    "Schedule",
    "SqsTrigger",
    "Task",
    "Trigger",
    "Webhook",
    "analyse",
    "flow_files",
    "flow_json_schema",
    "flow_locations",
    "input_types",
    "load_flow",
    "load_flow_file",
    "read_flow_source",
    "resolve_inputs",
    "task_location",
    "validate_file",
    "validate_path",
    "validate_text",
]
