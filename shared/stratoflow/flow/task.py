"""What every task is: the properties all tasks share, and the runnable kind (work done in the task
runner). How a `type:` in YAML becomes the right model, and the flowable kind whose children are task
lists, are in `stratoflow.flow.task_lists`."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar, Literal

from stratoflow.flow.fields import Duration, StrictModel, TaskId
from stratoflow.flow.retry import Retry

if TYPE_CHECKING:
    from stratoflow.flow.run_context import RunContext
    from stratoflow.flow.task_runners import FargateRunner

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]


class Task(StrictModel):
    """Properties every task has. Subclasses set `type_name` and `aliases` and are registered."""

    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # Properties whose expressions read another execution's task outputs (a Subflow's `outputs` read
    # the child's): `outputs.<id>` there names no task of this flow, so validation does not check it.
    foreign_outputs: ClassVar[tuple[str, ...]] = ()
    # How the compiler turns the task into states: the key of its lowering in the compiler's one
    # table (`stratoflow.compiler.lowering.LOWERERS`). A runnable task is one task-runner call; a
    # flowable or native task names its own. A test checks that every registered type has one.
    compiled_as: ClassVar[str] = ""

    id: TaskId
    type: str
    description: str | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    disabled: bool = False
    allow_failure: bool = False
    # Kestra's `allowWarning`: a task run that would end WARNING (a retried attempt with
    # `warningOnRetry`, a flowable whose children warned) ends SUCCESS instead.
    allow_warning: bool = False
    run_if: str | bool | None = None
    log_level: LogLevel | None = None

    def iam_statements(self) -> list[dict[str, list[str]]]:
        """IAM statements (`{"Action": [...], "Resource": [...]}`) the task's work needs on AWS: the
        deployer grants them to the flow's role. None for tasks that touch no AWS service."""
        return []


class RunnableTask(Task):
    """A task that does work in the task runner and returns its outputs."""

    compiled_as: ClassVar[str] = "runnable"
    # True for tasks that stop themselves at `timeout` (scripts kill their process tree); the runner
    # then lets them, instead of abandoning the attempt at the deadline.
    enforces_timeout: ClassVar[bool] = False

    def container(self) -> FargateRunner | None:
        """The ECS Fargate container the task runs in on AWS (its `taskRunner`), or None: the
        task-runner Lambda runs it."""
        return None

    @abstractmethod
    def run(self, ctx: RunContext) -> dict[str, object]:
        """Do the work; render properties with `ctx.render`; return the task's outputs (stored as JSON:
        a value JSON cannot hold, a datetime, is stored as its text)."""
