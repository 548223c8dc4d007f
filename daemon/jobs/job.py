"""One job: what was asked (picture, settings, priority, owner), where it stands (state, progress, estimate,
error) and how it looks from outside (``to_json``, the progress and final events), as the API shows it and
as ``JobStore`` keeps it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

import artshade.errors as engine_errors
from artshade.errors import Cancelled, ShadingError
from artshade.progress import Estimate

from ..errors import error_body
from .store import JobRecord

#: the priority classes, the lower number first: ``interactive`` uploads before ``batch`` watch-folder work
PRIORITIES = {"interactive": 0, "batch": 1}
FINAL_STATES = ("done", "error", "cancelled")


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}Z"


@dataclass(eq=False)
class Job:
    id: str
    priority: str
    settings: Settings
    cache_key: str
    created: float
    state: str = "queued"
    progress: float = 0.0
    stage: str = "queued"
    error: tuple[str, str] | None = None
    finished: float | None = None
    report: dict[str, Any] | None = None
    input_path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    result: Any = field(default=None, repr=False)
    exception: BaseException | None = field(default=None, repr=False)
    cancel_reason: str | None = None
    #: the extension origin that submitted the job (None: the artist at the machine, or the watch folder);
    #: an extension sees only its own jobs.
    owner: str | None = None
    #: percent and time left while running (None before it starts and after a restart)
    estimate: Estimate | None = field(default=None, repr=False)
    done_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set, repr=False)

    @property
    def terminal(self) -> bool:
        return self.state in FINAL_STATES

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            **self.progress_numbers(),
            "error": None if self.error is None else error_body(*self.error),
            "created": _iso(self.created),
            "finished": _iso(self.finished),
            "result_url": f"/v1/jobs/{self.id}/result" if self.state == "done" else None,
        }

    def record(self) -> JobRecord:
        return JobRecord(
            id=self.id, state=self.state, progress=self.progress, stage=self.stage,
            error_code=self.error[0] if self.error else None,
            error_detail=self.error[1] if self.error else None,
            created=self.created, finished=self.finished, priority=self.priority,
            settings=self.settings.to_dict(), cache_key=self.cache_key,
            input_path=None if self.input_path is None else str(self.input_path), report=self.report,
            owner=self.owner,
        )  # fmt: skip

    @classmethod
    def from_record(cls, rec: JobRecord) -> Job:
        try:
            settings = Settings.from_mapping({k: v for k, v in rec.settings.items() if v is not None})
        except ShadingError:
            settings = Settings()
        job = cls(
            id=rec.id, priority=rec.priority, settings=settings, cache_key=rec.cache_key, created=rec.created,
            state=rec.state, progress=rec.progress, stage=rec.stage,
            error=(rec.error_code, rec.error_detail or "") if rec.error_code else None, finished=rec.finished,
            report=rec.report, input_path=Path(rec.input_path) if rec.input_path else None, owner=rec.owner,
        )  # fmt: skip
        if job.terminal:
            job.done_event.set()
        return job

    def final_event(self) -> tuple[str, dict[str, Any]]:
        return self.state, self.to_json()

    def progress_numbers(self) -> dict[str, Any]:
        """What the job's progress looks like to a person: fraction, percent, stage and seconds left."""
        eta = self.estimate.eta if self.estimate is not None and self.state == "running" else None
        return {
            "progress": round(self.progress, 4),
            "percent": int(self.progress * 100),
            "stage": self.stage,
            "eta_s": None if eta is None else round(eta, 1),
        }

    def progress_event(self) -> tuple[str, dict[str, Any]]:
        return "progress", self.progress_numbers()


def exception_for(code: str, detail: str) -> ShadingError:
    """The engine's exception for a job's error code (so a failed job raises what the engine raised)."""
    for cls in vars(engine_errors).values():
        if (
            isinstance(cls, type)
            and issubclass(cls, ShadingError)
            and cls.code == code
            and cls is not Cancelled
        ):
            return cls(detail)
    if code == "cancelled":
        return Cancelled(detail)
    return ShadingError(detail)
