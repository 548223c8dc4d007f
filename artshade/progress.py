"""Progress for people: percent, stage and time left, the same numbers wherever they are shown.

The engine reports ``progress(fraction, stage)``: the fraction of the whole run (never going back) and a
short stage name (loading, target, optimising, finishing, measuring, done).  :class:`Estimate` turns that
into percent, elapsed and an estimate of the seconds left; :class:`ProgressPrinter` shows it on a stream:
a tqdm bar when the stream is a terminal, otherwise one plain line at most every ``every`` seconds (and at
each new stage), which is what a log file, a pipe or CI wants.  The daemon's job records and log use
:class:`Estimate` too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

#: an estimate of the time left is withheld until this much of the run is done (too early to tell)
MIN_FRACTION_FOR_ETA = 0.03


def eta_seconds(elapsed: float, fraction: float) -> float | None:
    """Seconds left at the pace so far, or None while too little is done to tell."""
    if fraction < MIN_FRACTION_FOR_ETA or elapsed <= 0:
        return None
    return max(0.0, elapsed * (1.0 - fraction) / fraction)


def duration(seconds: float) -> str:
    """``7s``, ``1m05s``, ``1h02m``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Estimate:
    """Percent, stage, elapsed and time left of one run, from its progress reports."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.fraction = 0.0
        self.stage = "starting"

    def update(self, fraction: float, stage: str) -> None:
        if fraction == fraction:  # not NaN
            self.fraction = max(self.fraction, min(1.0, float(fraction)))
        self.stage = stage

    @property
    def percent(self) -> int:
        return int(self.fraction * 100)

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def eta(self) -> float | None:
        return None if self.fraction >= 1.0 else eta_seconds(self.elapsed, self.fraction)

    def line(self) -> str:
        """``42% optimising, 12s elapsed, about 16s left``."""
        text = f"{self.percent:3d}% {self.stage}, {duration(self.elapsed)} elapsed"
        eta = self.eta
        return text if eta is None else f"{text}, about {duration(eta)} left"


class ProgressPrinter:
    """A progress callback that shows the run on ``stream`` (stderr by default); ``close()`` when done."""

    def __init__(
        self,
        label: str,
        stream: IO[str] | None = None,
        *,
        every: float = 5.0,
        tty: bool | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.enabled = enabled
        self.estimate = Estimate(clock)
        self._clock = clock
        self._last_line: float | None = None
        self._last_stage = ""
        self._bar: Any = None
        is_tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        if enabled and is_tty:
            from tqdm import tqdm

            layout = "{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]"
            self._bar = tqdm(
                total=100, unit="%", desc=label, file=self.stream, leave=False, bar_format=layout
            )

    def __call__(self, fraction: float, stage: str) -> None:
        self.estimate.update(fraction, stage)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.n = self.estimate.percent
            self._bar.set_postfix_str(stage, refresh=False)
            self._bar.refresh()
            return
        now = self._clock()
        due = self._last_line is None or now - self._last_line >= self.every
        if due or stage != self._last_stage:
            self._last_line, self._last_stage = now, stage
            print(f"{self.label}: {self.estimate.line()}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
