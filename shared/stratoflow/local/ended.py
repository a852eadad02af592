"""Which executions ended (or paused) on a home since the last look, whichever process ran them.

`strato server` runs Flow triggers when an execution ends. Those it runs itself it hears of at once;
those a separate `strato run` (or another server) ran it finds here. Every round it reads the
executions started since a cursor (the latest start it has seen) and re-reads, by id, the ones that
were still unfinished at the last look (a PAUSED one may end days later): those that ended and were
not handled yet are news. Cursor and unfinished ids are kept in the store's KV, so that a restarted
server also sees what ended while it was down. Seeing an end twice (after a restart, or a race with
the server's own hook) starts nothing twice: a Flow trigger's execution id is derived from the
upstream execution's id, and admission records an id once.

Pauses are news too (Flow triggers on PAUSED): each execution's pauses are counted in its state
history, and the count already acted on is kept for the unfinished ones, so a pause shorter than a
round is seen as well, and the n-th pause fires once (its trigger's execution id names the pause).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.execution.occurrences import as_paused, pauses_of
from stratoflow.store.base import ExecutionStore

KV_NAMESPACE = "stratoflow.server"
CURSOR_KEY = "ended-executions-cursor"
WINDOW = 10_000  # new executions read per look: far more than a local home starts in a second


class EndedExecutions:
    def __init__(
        self, store: ExecutionStore, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self._now = now
        self._handled: dict[str, datetime] = {}  # id -> start, of ends acted on, near the cursor
        self._lock = threading.Lock()
        found, value = store.kv_get(KV_NAMESPACE, CURSOR_KEY)
        saved = value if found and isinstance(value, dict) else {}
        cursor, unfinished = saved.get("cursor"), saved.get("unfinished")
        self.cursor: datetime | None = (
            datetime.fromisoformat(cursor) if isinstance(cursor, str) and cursor else None
        )
        self._unfinished: set[str] = {str(i) for i in unfinished} if isinstance(unfinished, list) else set()
        pauses = saved.get("pauses")
        # id -> pauses acted on, of the unfinished executions
        self._pauses: dict[str, int] = (
            {str(i): int(n) for i, n in pauses.items() if isinstance(n, int)}
            if isinstance(pauses, dict)
            else {}
        )

    def handle(self, execution: Execution) -> bool:
        """Record that `execution`'s end is acted on now (the server ran it); False when it was already."""
        with self._lock:
            if execution.id in self._handled:
                return False
            self._handled[execution.id] = execution.start_date
            return True

    def handle_pause(self, execution: Execution, pause: int) -> bool:
        """Record that pause number `pause` of `execution` is acted on now; False when it was already."""
        with self._lock:
            if self._pauses.get(execution.id, 0) >= pause:
                return False
            self._pauses[execution.id] = pause
            return True

    def poll(self) -> list[tuple[Execution, int]]:
        """What happened since the last look and was not handled, oldest execution first: (execution,
        0) for an end, (the execution as PAUSED, n) for its n-th pause."""
        with self._lock:
            first_look = self.cursor is None
            since = self.cursor or datetime.min.replace(tzinfo=UTC)
            window = list(reversed(self.store.list_executions(since=since, limit=WINDOW)))
            seen = {e.id for e in window}
            earlier = [self.store.get_execution(i) for i in sorted(self._unfinished - seen)]
            candidates = [e for e in earlier if e is not None] + window
            news: list[tuple[Execution, int]] = []
            for execution in candidates:
                acted, paused = self._pauses.get(execution.id, 0), pauses_of(execution)
                news += [(as_paused(execution), n) for n in range(acted + 1, paused + 1)]
                self._pauses[execution.id] = max(acted, paused)
                if execution.state.is_terminal and execution.id not in self._handled:
                    self._handled[execution.id] = execution.start_date
                    news.append((execution, 0))
            unfinished = {e.id for e in candidates if not e.state.is_terminal}
            cursor = max((e.start_date for e in window), default=self.cursor or self._now())
            # Only executions that start at the cursor itself are read again: the rest can be forgotten.
            self._handled = {i: start for i, start in self._handled.items() if start >= cursor}
            # Kept while the execution may be read again: unfinished, or starting at the cursor.
            pauses = {i: n for i, n in self._pauses.items() if n and (i in unfinished or i in self._handled)}
            if (cursor, unfinished, pauses) != (self.cursor, self._unfinished, self._pauses):
                self.cursor, self._unfinished = cursor, unfinished
                saved: dict[str, JsonValue] = {
                    "cursor": cursor.isoformat(),
                    "unfinished": [*sorted(unfinished)],
                    "pauses": dict[str, JsonValue](sorted(pauses.items())),
                }
                self.store.kv_set(KV_NAMESPACE, CURSOR_KEY, saved)
            self._pauses = pauses
        # A home's first look: what ended or paused before any server ran on it is history, not news.
        return [] if first_look else news
