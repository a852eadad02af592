"""The call every Task state of a compiled flow makes to the task runner, and what the runner answers.

The compiler writes each call as a `Payload` template (`compiler.builder.Builder.runner_call`, checked
by `compiler.payloads.payload_template`): static fields as they are, fields the state machine fills at run time as
`<name>.$` JSONPaths. Step Functions (or the local engine) resolves the paths and invokes the runner,
which parses the resolved call with `parse_runner_call`: one model per `action`, the field names
exactly as the ASL writes them. The answers are models too, because the state machine reads them
back: a start call's result lands at `$.eval.result` (Choice rules on `skip`, `branch`,
`distributed`; a Map's `ItemsPath` and `ItemSelector`; a Wait's `SecondsPath`; a child execution's
`Name` and `Input`), a WaitFor check's at `$.loop<n>.result`.

A module of its own at the bottom of the package, importing nothing of Stratoflow: the compiler may
not import the execution core, and the task-runner Lambda should not import the compiler (its
lowering pulls every task family) to read a call. Its JSON Schema is checked in under
tests/contract/ (`make runner-call-schema` regenerates it), so a change of the contract is a diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
)
from pydantic.alias_generators import to_camel

PATH_SUFFIX = ".$"
"""A Payload field whose name ends with it holds a JSONPath the state machine resolves (ASL)."""


class InvalidRunnerCall(ValueError):
    """A call (or a compiled call template) that does not match the runner's contract."""


class Contract(BaseModel):
    """camelCase on the wire, as the ASL writes it; an unknown field is refused, not ignored.

    Built on first use (`defer_build`): the task-runner Lambda imports this module at cold start and
    meets only some of the answers in one call.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, defer_build=True
    )

    def to_payload(self) -> dict[str, Any]:
        """The JSON object the state machine sees."""
        return self.model_dump(by_alias=True)


# --- what every call carries ------------------------------------------------------------------------


class ExecutionRef(Contract):
    """The execution a state machine runs for: a reference, never data (`$.execution`)."""

    id: str
    namespace: str
    flow_id: str
    revision: int


class LoopScope(Contract):
    """One iteration of an enclosing loop, innermost first (`$.scope`), built by the compiled Map's
    ItemSelector (ForEach) or by the runner (WaitFor). `value` is an index into the values kept in
    storage when `valuesUri` is set."""

    task_id: str
    value: str | int | None
    iteration: int
    values_uri: str | None = None
    inline_items: int | None = None
    parent: LoopScope | None

    @model_serializer(mode="wrap")
    def _as_built(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A WaitFor iteration's scope has no `valuesUri`/`inlineItems`: a scope goes back to the state
        # machine with the keys it came with.
        data: dict[str, Any] = handler(self)
        for name in ("values_uri", "inline_items"):
            if name not in self.model_fields_set:
                data.pop(name, None)
                data.pop(to_camel(name), None)
        return data


class StateInput(Contract):
    """The input of a state machine (a flow's execution, a subflow's child): where every path starts."""

    execution: ExecutionRef
    scope: LoopScope | None


class CaughtError(Contract):
    """What a Catch puts at `$.error` (the error name, and Lambda's or the service's Cause)."""

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


# --- the answers the state machine reads back -------------------------------------------------------


class Started(Contract):
    """A start call's result (`$.eval.result`): `skip` routes past the task (runIf, a finished run)."""

    skip: bool = False


class LoopStarted(Started):
    """ForEach values for the inline Map (`ItemsPath`), or their indexes when kept in storage."""

    values: list[str] | list[int]
    values_uri: str | None
    distributed: Literal[False] = False
    inline_items: int


class ObjectLocation(Contract):
    """Where a distributed Map's ItemReader reads the loop's values."""

    bucket: str
    key: str


class LoopDistributed(Started):
    """ForEach iterations run as child executions: their values are in storage."""

    values: list[str] = Field(default_factory=list)
    values_uri: None = None
    distributed: Literal[True] = True
    inline_items: Literal[1] = 1
    items: ObjectLocation


class ItemsSplit(Started):
    """ForEachItem's file cut into lines (`[number, text]` per JSON line) where the distributed Map's
    ItemReader reads them, batched `batchSize` lines at a time into `batches` child executions."""

    items: ObjectLocation
    batch_size: int = Field(ge=1)
    batches: int = Field(ge=0)
    stored: bool = False  # each item is a stored batch file's URI: the batch was too large to travel


class BranchChosen(Started):
    """If (`then`/`else`) and Switch (`case<n>`/`defaults`): the branch the Choice follows."""

    branch: str


class BranchesListed(Started):
    """A Parallel with `concurrent`: the branch numbers its Map iterates over."""

    branches: list[int]


class SubflowStarted(Started):
    """The child execution's name and input (a Subflow's `states:startExecution`)."""

    name: str
    input: StateInput


class DelayRendered(Started):
    """A Pause whose delay is an expression: the seconds its Wait state waits."""

    seconds: int = Field(ge=0)


class WaitForStarted(Started):
    """A WaitFor's first iteration (`$.loop<n>.result`): its body reads `scope`."""

    scope: LoopScope
    done: bool
    started_at: str


class WaitForChecked(Contract):
    """After a WaitFor iteration: `done` ends the loop, else the Wait waits `interval` seconds."""

    done: bool
    scope: LoopScope
    interval: int = Field(ge=0)
    started_at: str | None


class TaskRunState(Contract):
    """The answer of run, end, pause and await: the task run's state (the state machine discards it)."""

    state: str


class ContainerPrepared(Started):
    """A container-run script's job, written where its container reads it (`ecs:runTask.sync`'s
    environment names the object): the bucket and key of `job.json` under the attempt's sandbox folder."""

    job: ObjectLocation | None = None


class FlowOutputsRecorded(Contract):
    """The answer of `outputs`: how many flow outputs were recorded."""

    outputs: int


StartResult: TypeAlias = (
    LoopStarted
    | LoopDistributed
    | ItemsSplit
    | BranchChosen
    | BranchesListed
    | SubflowStarted
    | DelayRendered
    | WaitForStarted
    | Started
)


class ServiceEval(Contract):
    """`$.eval` when a native service task (ECS, Batch) ends: its start result and the job as it ended."""

    result: Started
    service: dict[str, Any] | None = None


# --- the calls, one per action ----------------------------------------------------------------------


class CallBase(Contract):
    """What every call carries: the task, the execution, and the loop iterations around the task."""

    task_id: str
    execution: ExecutionRef
    scope: LoopScope | None

    def scope_dict(self) -> dict[str, Any] | None:
        return None if self.scope is None else self.scope.to_payload()


class RunCall(CallBase):
    """A runnable task: runIf, an attempt, render + run, outputs and logs recorded."""

    action: Literal["run"]


class StartCall(CallBase):
    """A flowable task begins; a loop's call carries the history events one iteration adds."""

    action: Literal["start"]
    events_per_item: int | None = Field(default=None, ge=0)


class EndCall(CallBase):
    """A flowable task ends: well, or with the error its body raised (`error`)."""

    action: Literal["end"]
    error: CaughtError | None = None
    resume: dict[str, Any] | None = None  # a Pause's `onResume` values (`strato resume`)
    evaluation: ServiceEval | None = Field(default=None, alias="eval")  # a native service task's job


class CheckCall(CallBase):
    """A WaitFor iteration ended: its condition and bounds, given where the loop stands."""

    action: Literal["check"]
    loop: WaitForStarted | WaitForChecked


class PauseCall(CallBase):
    """A Pause without delay: the callback token `strato resume` completes."""

    action: Literal["pause"]
    task_token: str


class AwaitCall(CallBase):
    """A Dag task waits for its dependencies: the callback token their ends complete."""

    action: Literal["await"]
    task_token: str


class BatchCall(CallBase):
    """One batch of a ForEachItem (a child execution of its distributed Map): the batch file is
    written (or was, `stored`) and the subflow's execution admitted; `items` are the ItemBatcher's
    `[number, text]` lines."""

    action: Literal["batch"]
    items: list[tuple[int, str]] = Field(min_length=1)
    batch_size: int = Field(ge=1)
    stored: bool = False  # the one item's text is the URI of the batch file the start call stored


class PrepareCall(CallBase):
    """A container-run script task (`taskRunner: aws.runner.Fargate`): runIf, an attempt, the task
    rendered and its `ScriptJob` written for the container (`sandbox_call`)."""

    action: Literal["prepare"]


class CollectCall(CallBase):
    """The container stopped: its answer read back and the attempt recorded as a Lambda-run script's;
    `error` is the `.sync` state's failure when the container did not end well (none: it did)."""

    action: Literal["collect"]
    error: CaughtError | None = None


class OutputsCall(CallBase):
    """The flow's outputs, at the end of a successful run (`taskId` is empty)."""

    action: Literal["outputs"]


RunnerCall = Annotated[
    RunCall
    | StartCall
    | EndCall
    | CheckCall
    | PauseCall
    | AwaitCall
    | BatchCall
    | PrepareCall
    | CollectCall
    | OutputsCall,
    Field(discriminator="action"),
]

CALLS: dict[str, type[CallBase]] = {
    get_args(model.model_fields["action"].annotation)[0]: model
    for model in (
        RunCall,
        StartCall,
        EndCall,
        CheckCall,
        PauseCall,
        AwaitCall,
        BatchCall,
        PrepareCall,
        CollectCall,
        OutputsCall,
    )
}
"""Each action's call model, by the `action` the Payload names."""


@cache
def _calls() -> TypeAdapter[RunnerCall]:
    return TypeAdapter(RunnerCall)


def parse_runner_call(event: Mapping[str, Any]) -> RunnerCall:
    """The call in a resolved Payload; InvalidRunnerCall names the field that does not fit."""
    try:
        return _calls().validate_python(event)
    except ValidationError as error:
        raise InvalidRunnerCall(f"{_call_name(event)}: {_problems(error)}") from None


def _call_name(event: Mapping[str, Any]) -> str:
    action, task = event.get("action"), event.get("taskId")
    return f"runner call (action {action!r}, task {task!r})"


def _problems(error: ValidationError) -> str:
    problems = []
    for problem in error.errors(include_url=False):
        where = [str(part) for part in problem["loc"]]
        if problem["type"] == "union_tag_invalid" or problem["type"] == "union_tag_not_found":
            problems.append(f"action: must be one of {', '.join(sorted(CALLS))}")
            continue
        if where and where[0] in CALLS:  # the tagged union's member: not a field
            where = where[1:]
        problems.append(f"{'.'.join(where) or 'call'}: {problem['msg']}")
    return "; ".join(problems)


# --- what a container receives ---------------------------------------------------------------------

CONTAINER_NAME = "sandbox"
"""The container of the stack's task definition: a stock Python image whose bootstrap runs the script
sandbox (`cloud.runtime.container_sandbox`), never Stratoflow's runner."""
JOB_BUCKET_VARIABLE = "STRATOFLOW_JOB_BUCKET"
JOB_KEY_VARIABLE = "STRATOFLOW_JOB_KEY"
JOB_FOLDER_VARIABLE = "STRATOFLOW_JOB_FOLDER"
"""The container's only overrides: where its job is (`ContainerPrepared.job`); it reads the job and
writes its answer with its own role, the flow's sandbox role. Locally a folder (the local blob
store's) stands for the bucket."""


# --- the contract as a document ---------------------------------------------------------------------

RESPONSES: dict[str, Any] = {
    "run": TaskRunState,
    "start": StartResult,
    "end": TaskRunState,
    "check": WaitForChecked,
    "pause": TaskRunState,
    "await": TaskRunState,
    "batch": SubflowStarted | Started,
    "prepare": ContainerPrepared,
    "collect": TaskRunState,
    "outputs": FlowOutputsRecorded,
}
"""What each action answers."""


def contract_schema() -> dict[str, Any]:
    """The JSON Schema of the call (the document's root) and of each action's answer."""
    inputs: list[tuple[str, Literal["validation"], TypeAdapter[Any]]] = [
        ("call", "validation", _calls()),
        *((f"answer:{action}", "validation", TypeAdapter(kind)) for action, kind in RESPONSES.items()),
    ]
    refs, definitions = TypeAdapter.json_schemas(inputs, by_alias=True, ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Stratoflow runner call",
        "description": "The Payload a compiled Task state sends to the task runner, once its paths are "
        "resolved; `answers` are what each action returns to the state machine.",
        **refs[("call", "validation")],
        "answers": {action: refs[(f"answer:{action}", "validation")] for action in RESPONSES},
        **definitions,
    }
