"""The queue's places: how many jobs may wait in each priority class, and each paired extension's share.

A full class raises :class:`QueueFull` (the API answers 429 with Retry-After).  Each extension (a job's
``owner``) may hold at most half of a class's places (:attr:`Places.share`), so one caller cannot fill the
queue for the others; the artist's own jobs (owner ``None``) are not capped.  Retry-After comes from how
long the last jobs took.
"""

from __future__ import annotations

import math
from collections import deque

from .job import PRIORITIES


class QueueFull(Exception):
    def __init__(
        self, priority: str, retry_after: int, limit: int | None = None, *, share: bool = False
    ) -> None:
        room = "" if limit is None else f" ({limit} waiting; `artshade serve --queue-length N` raises it)"
        if share:
            message = f"this caller already has {limit} jobs waiting, its share of the {priority} queue"
            super().__init__(f"{message}; retry in {retry_after} s")
        else:
            super().__init__(f"the {priority} queue is full{room}; retry in {retry_after} s")
        self.retry_after = retry_after


class Places:
    def __init__(self, size: int) -> None:
        #: jobs waiting (not running) at most, per priority class
        self.size = size
        self._waiting = dict.fromkeys(PRIORITIES, 0)
        #: (priority, owner) -> jobs waiting or reserved, for extension owners only
        self._owned: dict[tuple[str, str], int] = {}
        self._durations: deque[float] = deque(maxlen=20)

    @property
    def share(self) -> int:
        """The most jobs one extension may have waiting in a priority class: half the places."""
        return max(1, self.size // 2)

    def take(self, priority: str, owner: str | None) -> None:
        """Reserve a place for a new job, or raise :class:`QueueFull`."""
        if self._waiting[priority] >= self.size:
            raise QueueFull(priority, self.retry_after(priority), self.size)
        if owner is not None and self._owned.get((priority, owner), 0) >= self.share:
            raise QueueFull(priority, self.retry_after(priority), self.share, share=True)
        self.hold(priority, owner)

    def hold(self, priority: str, owner: str | None) -> None:
        """Count a waiting job whatever the limits (one queued again after a restart)."""
        self._waiting[priority] += 1
        self._own(priority, owner, +1)

    def free(self, priority: str, owner: str | None) -> None:
        """A waiting job left the queue (it started, was cancelled, or never got queued)."""
        self._waiting[priority] -= 1
        self._own(priority, owner, -1)

    def waiting(self) -> int:
        return sum(self._waiting.values())

    def took(self, seconds: float) -> None:
        """A job ran for ``seconds``: the pace Retry-After is reckoned from."""
        self._durations.append(seconds)

    def retry_after(self, priority: str = "interactive") -> int:
        per_job = sum(self._durations) / len(self._durations) if self._durations else 5.0
        return max(1, min(300, math.ceil(per_job * (self._waiting[priority] + 1))))

    def _own(self, priority: str, owner: str | None, delta: int) -> None:
        if owner is None:
            return
        count = self._owned.get((priority, owner), 0) + delta
        if count > 0:
            self._owned[(priority, owner)] = count
        else:
            self._owned.pop((priority, owner), None)
