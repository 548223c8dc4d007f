"""What became of each file the watcher handled, and the tally of a run (``artshade watch`` prints both)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import rules


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file.  ``outcome``: shaded, duplicate, failed, ignored, held (its folder's
    settings file is bad) or retry (a passing failure; tried again on next start)."""

    source: Path
    outcome: str
    output: Path | None = None
    message: str = ""
    seconds: float = 0.0

    def line(self, inbox: Path) -> str:
        rel = (
            self.source.relative_to(inbox).as_posix()
            if rules.is_within(self.source, inbox)
            else str(self.source)
        )
        if self.outcome == "shaded":
            return f"shaded     {rel} -> {self.output} ({self.seconds:.1f} s)"
        if self.outcome == "duplicate":
            return f"duplicate  {rel}: same picture already shaded as {self.output}"
        return f"{self.outcome:<10} {rel}: {self.message}"


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def failed(self) -> int:
        return sum(self.counts.get(k, 0) for k in ("failed", "held", "retry"))

    def line(self) -> str:
        order = ("shaded", "duplicate", "failed", "retry", "held", "ignored")
        parts = [f"{self.counts[k]} {k}" for k in order if self.counts.get(k)]
        return ", ".join(parts) if parts else "nothing to do"
