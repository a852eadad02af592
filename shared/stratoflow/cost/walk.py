"""Walks a compiled definition along one execution's path and counts what Step Functions would bill.

Counting follows the local engine (`stratoflow.engine`), which counts as Step Functions bills: every
state entered (inside Map iterations and Parallel branches too) and every retry. What the definition
cannot say is assumed (`Assumptions`): the path where nothing fails nor is skipped, the most expensive
branch of an If/Switch, `items` iterations per ForEach Map, `loop_iterations` rounds per WaitFor.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from stratoflow.cost.assumptions import Assumptions
from stratoflow.cost.dynamo import DynamoModel, DynamoUsage, Refs

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"
# A script's container names its job in its environment (`runner_call.JOB_KEY_VARIABLE`): the ASL is
# all this package reads.
JOB_KEY_VARIABLE = "STRATOFLOW_JOB_KEY"
CALLBACK = ".waitForTaskToken"
INLINE_MAP_CONCURRENCY = 40  # an inline Map runs at most 40 iterations at once
REFERENCE = re.compile(r"outputs\s*\.\s*([A-Za-z0-9_][A-Za-z0-9_-]*)|outputs\s*\[\s*['\"]([^'\"]+)['\"]\s*\]")
# Starts that save their task run again: a value the structure chose, or the iterations a loop starts.
SAVES_OUTPUTS = {"If", "Switch", "Subflow", "ForEach", "EachSequential", "EachParallel"}
LOG_TASKS = {"Log", "Echo"}


@dataclass
class Tally:
    """What one path through (part of) a state machine costs."""

    transitions: float = 0.0
    invocations: float = 0.0
    first_attempts: float = 0.0
    """`run` invocations that are a task's first attempt: one per runnable task run."""
    task_runs: float = 0.0
    other_tasks: float = 0.0
    """Task states that are not the task runner (subflow starts)."""
    duration_s: float = 0.0
    actions: dict[str, float] = field(default_factory=dict)
    dynamo: DynamoUsage = field(default_factory=DynamoUsage)
    container_vcpu_s: float = 0.0
    """Fargate vCPU-seconds of container-run tasks (`taskRunner: aws.runner.Fargate`)."""
    container_gb_s: float = 0.0
    runs_by_task: dict[str, float] = field(default_factory=dict)
    """Task runs created per task id: what a flowable's end reads of its children."""

    def add(self, other: Tally, times: float = 1.0) -> None:
        self.container_vcpu_s += other.container_vcpu_s * times
        self.container_gb_s += other.container_gb_s * times
        self.transitions += other.transitions * times
        self.invocations += other.invocations * times
        self.first_attempts += other.first_attempts * times
        self.task_runs += other.task_runs * times
        self.other_tasks += other.other_tasks * times
        self.duration_s += other.duration_s * times
        for action, count in other.actions.items():
            self.actions[action] = self.actions.get(action, 0.0) + count * times
        for task_id, count in other.runs_by_task.items():
            self.runs_by_task[task_id] = self.runs_by_task.get(task_id, 0.0) + count * times
        self.dynamo.add(other.dynamo, times)

    def weight(self) -> tuple[float, float, float]:
        return (self.transitions + self.invocations, self.dynamo.all_write_units, self.duration_s)


def _children(value: Any, top: bool = True) -> list[str]:
    """Every string in a task's properties, without its child tasks' (they have their own calls)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if not top and "id" in value and "type" in value:
            return []
        return [s for item in value.values() for s in _children(item, False)]
    if isinstance(value, list):
        return [s for item in value for s in _children(item, False)]
    return []


def references(value: Any) -> set[str]:
    """The distinct tasks whose outputs the templates in `value` read (one store read each)."""
    return {a or b for text in _children(value) for a, b in REFERENCE.findall(text)}


LOOPS = frozenset({"ForEach", "EachSequential", "EachParallel", "WaitFor"})  # as runner.outputs reads them


class Walker:
    def __init__(self, flow: Any, assumptions: Assumptions):
        self.flow = flow
        self.a = assumptions
        self.dynamo = DynamoModel(assumptions)
        self._refs: dict[str, Refs] = {}
        self.awaited: set[str] = set()
        self.unit_failed = 0  # while a container's unit is walked: its failed attempts

    # --- tasks of the flow ---------------------------------------------------------------------

    def _task(self, task_id: str) -> Any:
        return self.flow.find_task(task_id) if task_id else None

    def refs(self, task_id: str) -> Refs:
        if task_id not in self._refs:
            task = self._task(task_id)
            self._refs[task_id] = self.split(references(task.model_dump(mode="json")) if task else set())
        return self._refs[task_id]

    def split(self, task_ids: set[str]) -> Refs:
        """A task inside a loop has one run per iteration, listed by a Query; any other is one GetItem."""
        looped = sum(
            1
            for task_id in task_ids
            if any(type(parent).type_name in LOOPS for parent in self.flow.task_parents(task_id))
        )
        return Refs(single=len(task_ids) - looped, looped=looped)

    def log_lines(self, task: Any) -> float:
        if task is None:
            return 0
        if type(task).type_name in LOG_TASKS:
            message = getattr(task, "message", None)
            return len(message) if isinstance(message, list) else 1
        return self.a.logs_per_task

    # --- the walk ------------------------------------------------------------------------------

    def walk(self, machine: dict[str, Any], name: str | None, stop: str | None, runs_before: float) -> Tally:
        """The path from `name` until `stop` (exclusive) or the end of `machine`."""
        tally = Tally()
        states: dict[str, Any] = machine["States"]
        while name is not None and name != stop:
            state = states[name]
            kind = state["Type"]
            tally.transitions += 1
            following: str | None = state.get("Next")
            if kind == "Task":
                self._task_state(state, tally, runs_before + tally.task_runs)
            elif kind == "Wait":
                tally.duration_s += self.wait_seconds(state)
            elif kind == "Parallel":
                self._parallel(state, tally, runs_before + tally.task_runs)
            elif kind == "Map":
                self._map(state, tally, runs_before + tally.task_runs)
            elif kind == "Choice":
                following = self._choice(machine, name, state, stop, tally, runs_before)
            if state.get("End") or kind in ("Succeed", "Fail"):
                following = None
            name = following
        return tally

    def wait_seconds(self, state: dict[str, Any]) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        return self.a.dynamic_wait_s  # SecondsPath (WaitFor's interval); Timestamps are flagged apart

    def _task_state(self, state: dict[str, Any], tally: Tally, runs_before: float) -> None:
        resource = str(state.get("Resource", ""))
        if resource == RUN_CONTAINER and self._is_container(state):
            self._container_state(state, tally)
            return
        if not resource.startswith(LAMBDA_INVOKE):
            tally.other_tasks += 1
            return
        payload = state.get("Parameters", {}).get("Payload", {})
        action, task_id = str(payload.get("action", "")), str(payload.get("taskId", ""))
        task = self._task(task_id)
        # A container's attempts are retried as one unit (`_parallel`): one attempt walked here.
        failed = (
            self._failed_attempts(state)
            if action == "run"
            else self.unit_failed
            if action == "prepare"
            else 0
        )
        attempts = 1 if action == "prepare" else failed + 1
        tally.invocations += attempts
        tally.transitions += failed  # Step Functions bills each retry as a transition
        tally.actions[action] = tally.actions.get(action, 0.0) + attempts
        tally.duration_s += attempts * self.a.runner_duration_ms / 1000 + self._retry_delays(state, failed)
        new_run = task_id not in self.awaited  # a Dag task's run is created by its `await` gate
        refs = self.refs(task_id)
        if action in ("start", "await") or (action in ("run", "prepare") and new_run):
            tally.runs_by_task[task_id] = tally.runs_by_task.get(task_id, 0.0) + 1
        if action in ("run", "prepare"):  # a container's task run: its attempt, then `collect` ends it
            tally.first_attempts += 1
            tally.task_runs += 1 if new_run else 0
            usage = self.dynamo.run(refs, runs_before, self.log_lines(task), failed)
        elif action == "start":
            tally.task_runs += 1
            saves = task is not None and type(task).type_name in SAVES_OUTPUTS
            usage = self.dynamo.start(refs, runs_before, saves)
        elif action == "await":
            tally.task_runs += 1
            usage = self.dynamo.start(Refs(), runs_before, False)
            for _ in self._dag_node(task_id, "depends_on"):  # are its dependencies done?
                self.dynamo.get(usage, self.a.task_run_item_kb)
        elif action == "end":
            usage = self._end(task, tally)
        elif action == "check":
            usage = self.dynamo.check(refs, runs_before)
        elif action == "pause":
            usage = self.dynamo.pause()
        elif action == "outputs":
            usage = self.dynamo.flow_outputs(
                self.split(references([o.value for o in self.flow.outputs])), runs_before
            )
        else:
            usage = DynamoUsage()
        if action in ("run", "end", "collect"):
            self._wake_dependents(task_id, usage)
        tally.dynamo.add(usage)

    @staticmethod
    def _is_container(state: dict[str, Any]) -> bool:
        """Whether a `.sync` ECS state runs a script's container (its environment names a job)."""
        overrides = state.get("Parameters", {}).get("Overrides", {})
        return any(
            variable.get("Name") == JOB_KEY_VARIABLE
            for container in overrides.get("ContainerOverrides", [])
            for variable in container.get("Environment", [])
        )

    def _container_state(self, state: dict[str, Any], tally: Tally) -> None:
        """A script's container, one attempt: billed by Fargate per second (one minute at least) for the
        vCPU and memory it asked for. The task runner's `prepare` and `collect` around it are two Lambda
        invocations, counted as such; its task run is counted at `prepare`."""
        overrides = state["Parameters"]["Overrides"]
        billed = max(60.0, self.a.container_duration_s)
        tally.container_vcpu_s += billed * int(overrides.get("Cpu", 1024)) / 1024
        tally.container_gb_s += billed * int(overrides.get("Memory", 2048)) / 1024
        tally.duration_s += self.a.container_duration_s

    def _container_unit(self, state: dict[str, Any]) -> bool:
        """A one-branch Parallel holding a script's container between `prepare` and `collect`."""
        branches = state.get("Branches", [])
        return len(branches) == 1 and any(
            s.get("Resource") == RUN_CONTAINER and self._is_container(s)
            for s in branches[0]["States"].values()
        )

    def _end(self, task: Any, tally: Tally) -> DynamoUsage:
        """A flowable's end reads its direct children by key: a loop's, each body task per iteration."""
        if task is not None and type(task).type_name in LOOPS:
            body = [child.id for _, children in task.body_lists() for child in children]
            return self.dynamo.end(sum(tally.runs_by_task.get(child_id, 0.0) for child_id in body))
        lists = task.child_lists() if task is not None and hasattr(task, "child_lists") else []
        return self.dynamo.end(float(sum(len(children) for _, children in lists)))

    def _dag_node(self, task_id: str, what: str) -> list[str]:
        """A Dag task's dependencies (`depends_on`) or the Dag tasks depending on it (`dependents`)."""
        parents = self.flow.task_parents(task_id) if task_id else []
        dag = parents[-1] if parents else None
        if dag is None or type(dag).type_name != "Dag":
            return []
        if what == "depends_on":
            return [d for node in dag.tasks if node.task.id == task_id for d in node.depends_on]
        return [node.task.id for node in dag.tasks if task_id in node.depends_on]

    def _wake_dependents(self, task_id: str, usage: DynamoUsage) -> None:
        """A Dag task that ends reads each dependent's gate, then that dependent's dependencies.

        Assumes the gates are registered by then (they are, unless the dependency is very fast).
        """
        for dependent in self._dag_node(task_id, "dependents"):
            self.dynamo.get(usage, self.a.task_run_item_kb)
            for _ in self._dag_node(dependent, "depends_on"):
                self.dynamo.get(usage, self.a.task_run_item_kb)

    def _task_retrier(self, state: dict[str, Any]) -> dict[str, Any] | None:
        return next((r for r in state.get("Retry", []) if "States.ALL" in r.get("ErrorEquals", [])), None)

    def _failed_attempts(self, state: dict[str, Any]) -> int:
        retrier = self._task_retrier(state)
        if retrier is None:
            return 0
        return min(self.a.failed_attempts, int(retrier.get("MaxAttempts", 3)))

    def _retry_delays(self, state: dict[str, Any], failed: int) -> float:
        retrier = self._task_retrier(state)
        if retrier is None or failed == 0:
            return 0.0
        interval = float(retrier.get("IntervalSeconds", 1))
        rate = float(retrier.get("BackoffRate", 2.0))
        cap = float(retrier.get("MaxDelaySeconds", math.inf))
        return sum(min(interval * rate**k, cap) for k in range(failed))

    def _parallel(self, state: dict[str, Any], tally: Tally, runs_before: float) -> None:
        unit = self._container_unit(state)
        failed = self._failed_attempts(state) if unit else 0
        self.unit_failed = failed
        longest = 0.0
        for branch in state["Branches"]:
            one = self.walk(branch, branch["StartAt"], None, runs_before + tally.task_runs)
            longest = max(longest, one.duration_s)
            one.duration_s = 0
            tally.add(one)
            if failed:  # a failed attempt ran the whole unit: its calls, its container, its transitions
                tally.transitions += failed * (one.transitions + 1)
                tally.invocations += failed * one.invocations
                for action in ("prepare", "collect"):
                    tally.actions[action] = tally.actions.get(action, 0.0) + failed
                tally.container_vcpu_s += failed * one.container_vcpu_s
                tally.container_gb_s += failed * one.container_gb_s
        self.unit_failed = 0
        tally.duration_s += longest * (failed + 1) + self._retry_delays(state, failed)

    def _map(self, state: dict[str, Any], tally: Tally, runs_before: float) -> None:
        processor = state.get("ItemProcessor") or state["Iterator"]
        limit = int(state.get("MaxConcurrency", 0))
        if str(state.get("ItemsPath", "")).endswith(".branches"):
            # A Parallel with a concurrency limit: one item per branch, routed by a Choice.
            dispatch = processor["States"][processor["StartAt"]]
            targets = [rule["Next"] for rule in dispatch.get("Choices", [])] + [dispatch["Default"]]
            items = float(len(targets))
            total = Tally()
            for target in targets:
                one = self.walk(processor, target, None, runs_before + total.task_runs)
                one.transitions += 1  # the dispatch Choice
                total.add(one)
            per_item_duration = total.duration_s / items if items else 0.0
        else:
            items = float(self.items_of(state))
            first = self.walk(processor, processor["StartAt"], None, runs_before)
            # Reads inside the loop see the task runs of earlier iterations: take the middle one.
            one = self.walk(processor, processor["StartAt"], None, runs_before + first.task_runs * items / 2)
            total = Tally()
            total.add(one, items)
            per_item_duration = one.duration_s
        concurrency = limit if limit > 0 else min(max(items, 1), INLINE_MAP_CONCURRENCY)
        total.duration_s = math.ceil(items / concurrency) * per_item_duration
        tally.add(total)

    def items_of(self, state: dict[str, Any]) -> int:
        """A ForEach's item count: its length when `values` is a literal list, else the assumption."""
        scope = (state.get("ItemSelector") or {}).get("scope")
        task = self._task(str(scope.get("taskId", ""))) if isinstance(scope, dict) else None
        values = getattr(task, "values", None) if task is not None else None
        if values is None and task is not None:
            values = getattr(task, "value", None)  # EachSequential / EachParallel
        if isinstance(values, str) and "{{" not in values and "{%" not in values:
            try:
                values = json.loads(values)
            except ValueError:
                values = None
        return len(values) if isinstance(values, list) else self.a.items

    def _choice(
        self,
        machine: dict[str, Any],
        name: str,
        state: dict[str, Any],
        stop: str | None,
        tally: Tally,
        runs_before: float,
    ) -> str | None:
        rules: list[dict[str, Any]] = state.get("Choices", [])
        default: str | None = state.get("Default")
        loop = next((r for r in rules if str(r.get("Variable", "")).endswith(".result.done")), None)
        if loop is not None and default is not None:
            # WaitFor: the first round already ran; each further one goes round to this Choice again.
            for _ in range(max(0, self.a.loop_iterations - 1)):
                tally.add(self.walk(machine, default, name, runs_before + tally.task_runs))
                tally.transitions += 1
            return str(loop["Next"])
        candidates = list(dict.fromkeys([str(r["Next"]) for r in rules if not _exceptional(r)]))
        if default is not None and default not in candidates:
            candidates.append(default)
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        join = self._join(machine, candidates, stop)
        paths = [self.walk(machine, c, join, runs_before + tally.task_runs) for c in candidates]
        tally.add(max(paths, key=Tally.weight))
        return join

    def _join(self, machine: dict[str, Any], candidates: list[str], stop: str | None) -> str | None:
        """The first state every candidate's path reaches: where an If/Switch's branches meet."""
        paths = [_linear_path(machine, c, stop) for c in candidates]
        others = [set(p) for p in paths[1:]]
        return next((s for s in paths[0] if all(s in o for o in others)), stop)


def _exceptional(rule: dict[str, Any]) -> bool:
    """Rules the estimate does not follow: a skipped task (runIf, allowFailure), a failed execution."""
    variable = str(rule.get("Variable", ""))
    return (variable.endswith(".skip") and rule.get("BooleanEquals") is True) or (
        variable == "$.failed" and rule.get("IsPresent") is True
    )


def _linear_path(machine: dict[str, Any], name: str | None, stop: str | None) -> list[str]:
    """States from `name` following Next (a Choice's Default), without walking into nested machines."""
    states: dict[str, Any] = machine["States"]
    path: list[str] = []
    seen: set[str] = set()
    while name is not None and name != stop and name not in seen:
        seen.add(name)
        path.append(name)
        state = states[name]
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            break
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return path


def awaited_tasks(definition: dict[str, Any]) -> set[str]:
    """Task ids with a Dag `await` gate anywhere in the definition."""
    found: set[str] = set()

    def visit(machine: dict[str, Any]) -> None:
        for state in machine["States"].values():
            payload = state.get("Parameters", {}).get("Payload", {}) if state["Type"] == "Task" else {}
            if isinstance(payload, dict) and payload.get("action") == "await":
                found.add(str(payload.get("taskId")))
            for branch in state.get("Branches", []):
                visit(branch)
            nested = state.get("ItemProcessor") or state.get("Iterator")
            if nested:
                visit(nested)

    visit(definition)
    return found
