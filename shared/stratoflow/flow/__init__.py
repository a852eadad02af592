"""The flow language: pydantic models, YAML loading with line numbers, validation, JSON Schema."""

import importlib
from typing import TYPE_CHECKING, Any

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
from stratoflow.flow.trigger import TRIGGER_TYPES_MODULE, Trigger, trigger_types

if TYPE_CHECKING:
    from stratoflow.flow.triggers import (
        EventBridgeTrigger,
        FlowTrigger,
        S3Trigger,
        Schedule,
        SqsTrigger,
        Webhook,
    )

# The trigger classes are imported on first use of their name (or of `trigger_types()`): loading a flow
# without triggers never defines them.
_TRIGGER_NAMES = frozenset(
    {"EventBridgeTrigger", "FlowTrigger", "S3Trigger", "Schedule", "SqsTrigger", "Webhook"}
)

__all__ = [
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
    "trigger_types",
    "validate_file",
    "validate_path",
    "validate_text",
]


def __getattr__(name: str) -> Any:
    if name in _TRIGGER_NAMES:
        return getattr(importlib.import_module(TRIGGER_TYPES_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
