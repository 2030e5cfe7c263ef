"""Group commit: single reports that arrive together are stored in one transaction.

A channel that pushes one report per request would otherwise pay a whole transaction per report:
four round trips to PostgreSQL, a disk flush at commit, and the intake turn, which every intake
writer of every process takes in turn (intake_batch). While one group is being stored, the
reports arriving meanwhile wait in a queue; when it commits, the first of them leads the next
group with everything that queued up. Under light traffic a group is one report and nothing
waits; under heavy traffic the transaction's cost is shared by the group.

Each report is still acknowledged only after the transaction holding it committed. A group that
fails as a whole (not one report's bad photo, which is answered in its own slot) is split and its
reports stored one by one, so that one report can never make the others fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiter(Generic[Item, Result]):
    item: Item
    woken: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Runs `store` over the items submitted by concurrent callers, a group at a time."""

    def __init__(self, store: Callable[[Sequence[Item]], Sequence[Result]], max_group: int) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, not {max_group}")
        self._store = store
        self._max = max_group
        self._lock = threading.Lock()
        self._queue: list[_Waiter[Item, Result]] = []
        self._leading = False
        # Sizes of the groups stored since start, for the benchmark's report.
        self.groups = 0
        self.items = 0

    @property
    def waiting(self) -> int:
        """Items queued for the next group."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: Item) -> Result:
        """Store `item` in the next group and return its result (or raise its error)."""
        waiter: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._queue.append(waiter)
            if not self._leading:
                self._leading = waiter.leads = True
        while not waiter.leads and not waiter.done:
            waiter.woken.wait()
            waiter.woken.clear()
        if not waiter.done:
            self._lead(waiter)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self, leader: _Waiter[Item, Result]) -> None:
        """Store the next group, then pass the lead on to whoever queued meanwhile."""
        with self._lock:
            # The leader's own item heads the queue: it was queued when nobody led, or it is the
            # one the previous leader passed the lead to.
            group = self._queue[: self._max]
            del self._queue[: self._max]
        self._run(group)
        assert leader.done
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.leads = True
                successor.woken.set()
            else:
                self._leading = False

    def _run(self, group: list[_Waiter[Item, Result]]) -> None:
        try:
            results: Sequence[Result | None] = self._store([w.item for w in group])
            error: BaseException | None = None
        except BaseException as exc:
            if len(group) > 1:
                for waiter in group:
                    self._run([waiter])
                return
            results, error = [None], exc
        self.groups += 1
        self.items += len(group)
        for waiter, result in zip(group, results, strict=True):
            self._finish(waiter, result, error)

    @staticmethod
    def _finish(
        waiter: _Waiter[Item, Result], result: Result | None, error: BaseException | None
    ) -> None:
        waiter.result, waiter.error, waiter.done = result, error, True
        waiter.woken.set()
