"""Progress of a batch for a person: a tqdm bar on a terminal, one plain line every few seconds off one.

Both show the same figures: pictures finished of the total, how many were shaded, skipped and failed, the
pace (pictures a minute, over the pictures that needed work) and the time left at that pace.  ``summary()``
is the closing line.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from artshade.progress import duration


class BatchProgress:
    def __init__(
        self,
        total: int,
        stream: IO[str] | None = None,
        *,
        every: float = 10.0,
        tty: bool | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.enabled = enabled
        self.counts: Counter[str] = Counter()
        self._clock = clock
        self.started = clock()
        self._last_line = self.started
        self._bar: Any = None
        is_tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        if enabled and is_tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="picture", desc="shading", file=self.stream, leave=False,
                             bar_format="{desc}: {n_fmt}/{total_fmt}|{bar}| {postfix}")  # fmt: skip

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    def per_minute(self) -> float | None:
        """Pictures that needed work (shaded or failed) a minute; None before the first."""
        worked = self.counts["shaded"] + self.counts["failed"]
        return worked * 60.0 / self.elapsed if worked and self.elapsed > 0 else None

    def eta(self) -> float | None:
        """Seconds left at the pace so far (every picture finished counts), None before the first."""
        done = self.finished
        if not done or self.elapsed <= 0:
            return None
        return max(0.0, (self.total - done) * self.elapsed / done)

    def figures(self) -> str:
        c = self.counts
        text = f"shaded {c['shaded']}, skipped {c['skipped']}, failed {c['failed']}"
        pace = self.per_minute()
        if pace is not None:
            text += f", {pace:.1f}/min"
        eta = self.eta()
        if eta is not None and self.finished < self.total:
            text += f", about {duration(eta)} left"
        return text

    def line(self) -> str:
        return f"{self.finished}/{self.total} pictures ({self.figures()})"

    def update(self, status: str) -> None:
        self.counts[status] += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.n = self.finished
            self._bar.set_postfix_str(self.figures(), refresh=False)
            self._bar.refresh()
            return
        now = self._clock()
        if now - self._last_line >= self.every or self.finished == self.total:
            self._last_line = now
            print(self.line(), file=self.stream, flush=True)

    def summary(self) -> str:
        c = self.counts
        pace = self.per_minute()
        text = (
            f"{self.finished} of {self.total} pictures in {duration(self.elapsed)}: {c['shaded']} shaded, "
            f"{c['skipped']} skipped (already done), {c['failed']} failed"
        )
        return text + (f"; {pace:.1f} pictures a minute" if pace is not None else "")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
