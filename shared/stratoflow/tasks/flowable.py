"""Control-flow tasks: they arrange child tasks and compile to states; none of them runs code."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from stratoflow.flow.fields import Duration, StrictModel, describe
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask, NonEmptyTaskList, TaskItem, TaskList


def _flow_aliases(name: str) -> tuple[str, ...]:
    return kestra_aliases("flow", name, "flows")


def _check_loop_values(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    if isinstance(value, str) and not any(mark in value for mark in ("{{", "{%")):
        # No expression: the text is all there is, so a run would refuse it just the same.
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError(
                "must be a list, a JSON array or an expression giving one (got text that is not JSON)"
            ) from None
        if not isinstance(parsed, list):
            raise ValueError(
                f"must be a list, a JSON array or an expression giving one (got {describe(parsed)})"
            )
        _check_loop_values(parsed)
    if isinstance(value, list) and any(item is None for item in value):
        raise ValueError("a loop value must not be null")
    return value


LoopValues = Annotated[str | list[Any], AfterValidator(_check_loop_values)]


@register
class Sequential(FlowableTask):
    """Run `tasks` one after another; `errors` run when one of them fails (the scope still fails)."""

    type_name: ClassVar[str] = "Sequential"
    compiled_as: ClassVar[str] = "Sequential"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("Sequential")

    tasks: NonEmptyTaskList

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


@register
class Parallel(FlowableTask):
    """Run `tasks` at the same time, at most `concurrent` at once (0: no limit)."""

    type_name: ClassVar[str] = "Parallel"
    compiled_as: ClassVar[str] = "Parallel"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("Parallel")

    tasks: NonEmptyTaskList
    concurrent: int = Field(default=0, ge=0)

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


@register
class If(FlowableTask):
    """Run `then` when `condition` is truthy, else `else`; outputs `evaluationResult`."""

    type_name: ClassVar[str] = "If"
    compiled_as: ClassVar[str] = "If"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("If")

    condition: str | bool
    then: NonEmptyTaskList
    else_: TaskList = Field(default_factory=list, alias="else")

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("then", self.then), ("else", self.else_)]


@register
class Switch(FlowableTask):
    """Run the tasks of the case equal to the rendered `value`, else `defaults`."""

    type_name: ClassVar[str] = "Switch"
    compiled_as: ClassVar[str] = "Switch"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("Switch")

    value: str
    cases: dict[str, NonEmptyTaskList] = Field(default_factory=dict)
    # `defaults:` written with nothing after it (null) is no defaults, as in Kestra.
    defaults: Annotated[TaskList, BeforeValidator(lambda value: [] if value is None else value)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _something_to_run(self) -> Switch:
        if not self.cases and not self.defaults:
            raise ValueError("a Switch needs 'cases', 'defaults' or both")
        return self

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [*((f"cases.{key}", tasks) for key, tasks in self.cases.items()), ("defaults", self.defaults)]


@register
class ForEach(FlowableTask):
    """Run `tasks` once per value (a list, or an expression giving a list or a JSON array)."""

    type_name: ClassVar[str] = "ForEach"
    compiled_as: ClassVar[str] = "Each"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("ForEach")

    values: LoopValues
    concurrency_limit: int = Field(default=1, ge=0)
    tasks: NonEmptyTaskList

    @property
    def iterations_at_once(self) -> int:
        """How many iterations run at the same time (0: no limit)."""
        return self.concurrency_limit

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


@register
class EachSequential(FlowableTask):
    """Deprecated form of `ForEach` with `concurrencyLimit: 1`."""

    type_name: ClassVar[str] = "EachSequential"
    compiled_as: ClassVar[str] = "Each"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("EachSequential")

    value: LoopValues
    tasks: NonEmptyTaskList

    @property
    def iterations_at_once(self) -> int:
        return 1

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


@register
class EachParallel(FlowableTask):
    """Deprecated form of `ForEach` with `concurrencyLimit` = `concurrent` (0: no limit)."""

    type_name: ClassVar[str] = "EachParallel"
    compiled_as: ClassVar[str] = "Each"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("EachParallel")

    value: LoopValues
    tasks: NonEmptyTaskList
    concurrent: int = Field(default=0, ge=0)

    @property
    def iterations_at_once(self) -> int:
        return self.concurrent

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


class DagTask(StrictModel):
    """One node of a `Dag`: a task and the ids of the sibling tasks it waits for."""

    task: TaskItem
    depends_on: list[str] = Field(default_factory=list)


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """One dependency cycle as a path `[a, b, a]`, or None (iterative DFS, colours white/grey/black)."""
    state: dict[str, int] = {}
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path = [start]
        state[start] = 1
        while stack:
            node, index = stack[-1]
            targets = edges.get(node, [])
            if index == len(targets):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, index + 1)
            target = targets[index]
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if not state.get(target) and target in edges:
                state[target] = 1
                stack.append((target, 0))
                path.append(target)
    return None


@register
class Dag(FlowableTask):
    """Run each task once all the tasks it `dependsOn` are done; at most `concurrent` at once."""

    type_name: ClassVar[str] = "Dag"
    compiled_as: ClassVar[str] = "Dag"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("Dag")

    tasks: list[DagTask] = Field(min_length=1)
    concurrent: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_graph(self) -> Dag:
        ids = [node.task.id for node in self.tasks]
        problems: list[Any] = []
        for i, node in enumerate(self.tasks):
            for j, dependency in enumerate(node.depends_on):
                if dependency not in ids:
                    problems.append(
                        {
                            "type": PydanticCustomError(
                                "dag",
                                f"'{node.task.id}' depends on '{dependency}', which is not a task of this Dag",
                            ),
                            "loc": ("tasks", i, "dependsOn", j),
                            "input": dependency,
                        }
                    )
        cycle = _find_cycle({node.task.id: [d for d in node.depends_on if d in ids] for node in self.tasks})
        if cycle:
            first = ids.index(cycle[0])
            problems.append(
                {
                    "type": PydanticCustomError("dag", "dependency cycle: " + " -> ".join(cycle)),
                    "loc": ("tasks", first, "dependsOn"),
                    "input": cycle,
                }
            )
        if problems:
            raise ValidationError.from_exception_data("Dag", problems)
        return self

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", [node.task for node in self.tasks])]


@register
class AllowFailure(FlowableTask):
    """Run `tasks`; a failure inside ends this scope WARNING instead of FAILED."""

    type_name: ClassVar[str] = "AllowFailure"
    compiled_as: ClassVar[str] = "AllowFailure"
    aliases: ClassVar[tuple[str, ...]] = _flow_aliases("AllowFailure")

    tasks: NonEmptyTaskList

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]


class CheckFrequency(StrictModel):
    """How often `WaitFor` repeats, and when it gives up."""

    max_iterations: int | None = Field(default=100, ge=1)
    max_duration: Duration | None = timedelta(hours=1)
    interval: Duration = timedelta(seconds=1)


@register
class WaitFor(FlowableTask):
    """Repeat `tasks` until `condition` is truthy, within `checkFrequency`'s limits."""

    type_name: ClassVar[str] = "WaitFor"
    compiled_as: ClassVar[str] = "WaitFor"
    aliases: ClassVar[tuple[str, ...]] = (
        "LoopUntil",
        *_flow_aliases("WaitFor"),
        *_flow_aliases("LoopUntil"),
    )

    tasks: NonEmptyTaskList
    condition: str | bool
    check_frequency: CheckFrequency = Field(default_factory=CheckFrequency)
    fail_on_max_reached: bool = False

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]
