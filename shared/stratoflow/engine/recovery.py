"""Retry and Catch, for the Task, Parallel and Map states.

When an attempt fails, the first Retrier whose ErrorEquals matches decides: while its own attempt
count is below MaxAttempts (default 3; 0 never retries) the state runs again after
IntervalSeconds (default 1) x BackoffRate (default 2.0) ^ retries-so-far, capped at
MaxDelaySeconds; JitterStrategy FULL waits a random time between 0 and that. Once it is exhausted
(or when no Retrier matches), the first matching Catcher places `{"Error", "Cause"}` at its
ResultPath in the raw state input and goes to its Next. Error matching is `errors.error_matches`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from stratoflow.engine.errors import StateFailure, error_matches
from stratoflow.engine.runtime import CancelScope, Run, StateContext
from stratoflow.engine.states import ResultPlacement, StateNode


class Retrier:
    __slots__ = ("backoff_rate", "error_equals", "interval", "jitter", "max_attempts", "max_delay")

    def __init__(self, spec: dict[str, Any]):
        self.error_equals: list[str] = spec["ErrorEquals"]
        self.interval: float = spec.get("IntervalSeconds", 1)
        self.max_attempts: int = spec.get("MaxAttempts", 3)
        self.backoff_rate: float = spec.get("BackoffRate", 2.0)
        self.max_delay: float | None = spec.get("MaxDelaySeconds")
        self.jitter = spec.get("JitterStrategy", "NONE") == "FULL"

    def delay(self, retries_done: int, rng: random.Random) -> float:
        """Seconds to wait before the retry that follows `retries_done` earlier ones of this Retrier."""
        delay = self.interval * self.backoff_rate**retries_done
        if self.max_delay is not None:
            delay = min(delay, self.max_delay)
        return rng.uniform(0, delay) if self.jitter else delay


class Catcher:
    __slots__ = ("error_equals", "next", "placement")

    def __init__(self, spec: dict[str, Any]):
        self.error_equals: list[str] = spec["ErrorEquals"]
        self.next: str = spec["Next"]
        self.placement = ResultPlacement(spec)


class Recovery:
    """The Retry and Catch of one state."""

    def __init__(self, spec: dict[str, Any], rng: random.Random | None = None):
        self.retriers = [Retrier(item) for item in spec.get("Retry", [])]
        self.catchers = [Catcher(item) for item in spec.get("Catch", [])]
        self.rng = rng or random.Random()

    def run(
        self,
        state: StateNode,
        raw: Any,
        run: Run,
        scope: CancelScope,
        entered_id: int,
        attempt: Callable[[int], Any],
        failed: Callable[[StateFailure], None] | None = None,
    ) -> tuple[Any, str | None]:
        """Run `attempt(retry_count)` until it succeeds, is caught, or fails for good (`failed` is told
        then, before a Catch routes it: a retried attempt's failure is no event of its own)."""
        retries = [0] * len(self.retriers)
        retry_count = 0
        while True:
            try:
                return attempt(retry_count), state.next
            except StateFailure as failure:
                index = next(
                    (i for i, r in enumerate(self.retriers) if error_matches(r.error_equals, failure.error)),
                    None,
                )
                if index is not None and retries[index] < self.retriers[index].max_attempts:
                    delay = self.retriers[index].delay(retries[index], self.rng)
                    retries[index] += 1
                    retry_count += 1
                    run.sleep(delay, scope)
                    run.count_transition()  # Step Functions bills each retry as a state transition
                    continue
                if failed is not None:
                    failed(failure)
                for catcher in self.catchers:
                    if error_matches(catcher.error_equals, failure.error):
                        output = state.place(catcher.placement, raw, failure.as_output(), entered_id)
                        run.check_size(output, state.name, "output")
                        return output, catcher.next
                raise


class RecoverableState(StateNode):
    """A state with Retry and Catch (Task, Map): each attempt is `_attempt`, the recovery wraps them."""

    recovery: Recovery

    def execute(self, raw: Any, run: Run, scope: CancelScope) -> tuple[Any, str | None]:
        entered_id = run.emit(self.entered_type, self.name, input=raw)
        entered = run.clock.now()

        def attempt(retry_count: int) -> Any:
            return self._attempt(
                raw, run, scope, entered_id, StateContext(run, self.name, entered, retry_count)
            )

        output, next_state = self.recovery.run(self, raw, run, scope, entered_id, attempt)
        run.emit(self.exited_type, self.name, output=output)
        return output, next_state

    def _attempt(self, raw: Any, run: Run, scope: CancelScope, entered_id: int, context: StateContext) -> Any:
        raise NotImplementedError
