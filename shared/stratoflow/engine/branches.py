"""Parallel and Map: states that run nested state machines concurrently.

Branches and iterations run on worker threads (the calling thread is one of them), so a Map with
MaxConcurrency 1 or a single item never hands off to another thread. A Map uses at most
MaxConcurrency workers (0 = unlimited), capped at `MAX_WORKERS_PER_STATE` and by the execution's
thread budget: iterations beyond it queue for a worker, so nested Maps cannot deadlock. Parallel
branches always get a thread each: a branch may wait for a task token another branch sends.
The first failure cancels the other branches or iterations, waits for them to stop, and fails the
state with that error; the output is the list of outputs, in order.

On the wall clock a free worker takes the next item. On a virtual clock worker k takes items k,
k + n, k + 2n...: which items share a worker (and so add up their virtual time) must not depend on
thread timing, or a Map's virtual duration would change from run to run.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from stratoflow.engine.errors import Cancelled, StateFailure
from stratoflow.engine.machine import Machine, run_machine
from stratoflow.engine.paths import compile_path
from stratoflow.engine.race import timer_branch
from stratoflow.engine.recovery import RecoverableState, Recovery
from stratoflow.engine.runtime import CancelScope, Run, StateContext
from stratoflow.engine.states import ResultPlacement, StateNode, selector, template

MAX_WORKERS_PER_STATE = 64

Job = Callable[[int, CancelScope], Any]


def run_concurrently(
    run: Run, scope: CancelScope, count: int, limit: int, job: Job, dedicated: bool
) -> list[Any]:
    """Run `job(i, group)` for i in range(count), at most `limit` at once; the first failure cancels the rest.

    `dedicated`: start every worker wanted, ignoring the execution's thread budget.
    """
    results: list[Any] = [None] * count
    group = CancelScope(scope)
    failures: list[BaseException] = []
    ends: list[datetime] = []
    wanted = max(0, min(count, limit) - 1)
    extra = wanted if dedicated else run.reserve_threads(wanted)
    workers = extra + 1
    shared = itertools.count()

    def indices(worker_number: int) -> Iterator[int]:
        if run.clock.virtual:
            # Which worker runs which item must not depend on thread timing, or virtual durations would.
            yield from range(worker_number, count, workers)
        else:  # on the wall clock, a free worker takes the next item
            for index in shared:
                if index >= count:
                    return
                yield index

    def worker(worker_number: int) -> None:
        try:
            for index in indices(worker_number):
                if group.event.is_set():
                    return
                try:
                    results[index] = job(index, group)
                except Cancelled:
                    return
                except BaseException as error:
                    failures.append(error)
                    group.cancel()
                    return
        finally:
            ends.append(run.clock.now())

    if extra:
        run.join_timeline()  # the workers' timelines start from this thread's
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(worker, number), daemon=True)
        for number in range(1, workers)
    ]
    try:
        for thread in threads:
            thread.start()
        worker(0)
        for thread in threads:
            thread.join()
    finally:
        if not dedicated:
            run.release_threads(extra)
        group.close()
    if run.clock.virtual and ends:  # this branch of time continues from the slowest worker
        behind = (max(ends) - run.clock.now()).total_seconds()
        if behind > 0:
            run.clock.sleep(behind, threading.Event())
    run.check(scope)
    if failures:
        raise failures[0]
    return results


class ParallelState(StateNode):
    kind = "Parallel"

    def __init__(self, name: str, spec: dict[str, Any], compile_machine: Callable[[dict[str, Any]], Machine]):
        super().__init__(name, spec)
        self.branches = [compile_machine(branch) for branch in spec["Branches"]]
        self.timer = timer_branch(spec["Branches"])
        self.parameters = template(spec, "Parameters")
        self.result_selector = template(spec, "ResultSelector")
        self.placement = ResultPlacement(spec)
        self.recovery = Recovery(spec)

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        entered = run.clock.now()

        def attempt(retry_count: int) -> Any:
            context = StateContext(run, self.name, entered, retry_count)
            data = self.select(self.input_path, raw, context, entered_id)
            if self.parameters is not None:
                data = self.render(self.parameters, data, context, entered_id)
            run.emit("ParallelStateStarted", self.name)
            try:
                results = self._branches(data, run, scope)
            except Cancelled:
                run.emit("ParallelStateAborted", self.name)
                raise
            run.emit("ParallelStateSucceeded", self.name)
            return finish(self, run, raw, results, self.result_selector, self.placement, context, entered_id)

        def failed(failure: StateFailure) -> None:
            # Once, when no Retry takes it: a retried Parallel starts again with no failure event between
            # (moto's interpreter, a port of LocalStack's, whose histories are checked against AWS).
            run.emit("ParallelStateFailed", self.name, error=failure.error, cause=failure.cause)

        output, next_state = self.recovery.run(self, raw, run, scope, entered_id, attempt, failed)
        run.emit(self.exited_type, self.name, output=output)
        return output, next_state

    def _branches(self, data: Any, run: Run, scope: CancelScope) -> list[Any]:
        branches, timer = self.branches, self.timer
        if timer is None or not run.clock.virtual:
            return run_concurrently(
                run,
                scope,
                len(branches),
                len(branches),
                lambda i, group: run_machine(branches[i], data, run, group),
                True,
            )
        # The race on a virtual clock (stratoflow.engine.race): the body alone, stopped at the deadline.
        racers = [b for i, b in enumerate(branches) if i != timer.index]
        body = CancelScope(scope, deadline=run.clock.now() + timedelta(seconds=timer.seconds))
        try:
            run_concurrently(
                run,
                body,
                len(racers),
                len(racers),
                lambda i, group: run_machine(racers[i], data, run, group),
                True,
            )
        except StateFailure:
            if body.deadline is None or run.clock.now() <= body.deadline:
                raise
        except Cancelled:
            run.check(scope)  # stopped from outside: not the timer
        finally:
            body.close()
        if body.deadline is not None and run.clock.now() < body.deadline:
            # Every racer succeeded in time: the Parallel still waits for the timer, which fails.
            run.sleep((body.deadline - run.clock.now()).total_seconds(), scope)
        raise StateFailure(timer.error, timer.cause)


class MapState(RecoverableState):
    kind = "Map"

    def __init__(self, name: str, spec: dict[str, Any], compile_machine: Callable[[dict[str, Any]], Machine]):
        super().__init__(name, spec)
        self.processor = compile_machine(spec.get("ItemProcessor") or spec["Iterator"])
        self.items_path = selector(spec, "ItemsPath")
        self.item_selector = template(spec, "ItemSelector") or template(spec, "Parameters")
        self.max_concurrency: int = spec.get("MaxConcurrency", 0)
        self.max_concurrency_path = (
            compile_path(spec["MaxConcurrencyPath"]) if "MaxConcurrencyPath" in spec else None
        )
        self.result_selector = template(spec, "ResultSelector")
        self.placement = ResultPlacement(spec)
        self.recovery = Recovery(spec)

    def _attempt(self, raw: Any, run: Run, scope: CancelScope, entered_id: int, context: StateContext) -> Any:
        data = self.select(self.input_path, raw, context, entered_id)
        items = self.select(self.items_path, data, context, entered_id)
        if not isinstance(items, list):
            raise self.runtime_failure(
                entered_id, f"The ItemsPath must select an array, got {type(items).__name__}"
            )
        limit = self._limit(data, context, entered_id)
        processor, item_selector = self.processor, self.item_selector

        def iteration(index: int, group: CancelScope) -> Any:
            value = items[index]
            if item_selector is not None:
                item_context = StateContext(run, self.name, context.entered, context.retry_count)
                item_context.map_item = (index, value)
                value = self.render(item_selector, data, item_context, entered_id)
            run.emit("MapIterationStarted", self.name, index=index)
            try:
                output = run_machine(processor, value, run, group)
            except StateFailure as failure:
                run.emit(
                    "MapIterationFailed", self.name, index=index, error=failure.error, cause=failure.cause
                )
                raise
            except Cancelled:
                run.emit("MapIterationAborted", self.name, index=index)
                raise
            run.emit("MapIterationSucceeded", self.name, index=index)
            return output

        run.emit("MapStateStarted", self.name, length=len(items))
        try:
            results = run_concurrently(run, scope, len(items), limit, iteration, False)
        except StateFailure as failure:
            run.emit("MapStateFailed", self.name, error=failure.error, cause=failure.cause)
            raise
        except Cancelled:
            run.emit("MapStateAborted", self.name)
            raise
        run.emit("MapStateSucceeded", self.name)
        return finish(self, run, raw, results, self.result_selector, self.placement, context, entered_id)

    def _limit(self, data: Any, context: StateContext, entered_id: int) -> int:
        limit = self.max_concurrency
        if self.max_concurrency_path is not None:
            limit = self.select(self.max_concurrency_path.find, data, context, entered_id)
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise self.runtime_failure(
                    entered_id, f"MaxConcurrencyPath must select an integer >= 0, got {limit!r}"
                )
        return min(limit or MAX_WORKERS_PER_STATE, MAX_WORKERS_PER_STATE)


def finish(
    state: StateNode,
    run: Run,
    raw: Any,
    results: list[Any],
    result_selector: Any,
    placement: ResultPlacement,
    context: StateContext,
    entered_id: int,
) -> Any:
    """ResultSelector -> ResultPath -> OutputPath on the list of outputs, with the payload limit."""
    result: Any = results
    run.check_size(result, state.name, "result")
    if result_selector is not None:
        result = state.render(result_selector, result, context, entered_id)
    output = state.select(
        state.output_path, state.place(placement, raw, result, entered_id), context, entered_id
    )
    run.check_size(output, state.name, "output")
    return output
