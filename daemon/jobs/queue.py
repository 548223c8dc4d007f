"""The job queue: one door for the HTTP API and the watch folder into the engine.

- Bounded per priority class (``interactive`` uploads run before ``batch`` watch-folder work); a full class
  raises :class:`QueueFull` (the API answers 429 with Retry-After).  Each paired extension (a job's
  ``owner``) may hold at most half of a class's places (:meth:`JobQueue.share`), so one caller cannot fill
  the queue for the others; the artist's own jobs (owner ``None``) are not capped.
- One engine call at a time per device, in an :class:`EngineThread`; the event loop stays free.
- The event loop owns all job state: the engine thread only posts progress back with
  ``call_soon_threadsafe``, so SSE subscribers see a consistent, ordered stream.
- Cancellation: the progress callback raises ``shading.errors.Cancelled`` once cancel was asked.
- Results go to the :class:`ResultCache`; records to the :class:`JobStore`.  After a restart, unfinished
  interactive jobs whose input was kept are queued again, everything else fails with a clear error.
- :meth:`JobQueue.submit_bytes` is the thread-safe entry for in-process batch work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import itertools
import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

import artshade.errors as engine_errors
from artshade.errors import Cancelled, ShadingError
from artshade.files import write_atomic
from artshade.progress import Estimate

from ..errors import error_body
from .cache import Result, ResultCache, cache_key
from .engine_thread import EngineThread
from .store import JobRecord, JobStore

log = logging.getLogger(__name__)

PRIORITIES = {"interactive": 0, "batch": 1}
FINAL_STATES = ("done", "error", "cancelled")
#: finished jobs kept in memory (all of them stay in SQLite).
RECENT_JOBS = 512
#: seconds a finished job keeps its result bytes in memory (then they come from the cache).
RESULT_HOLD_S = 120.0
#: seconds finished job records (and what ``checks`` keeps of each protected upload) are kept
JOB_RETENTION_S = 30 * 86400


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


class ShuttingDown(Exception):
    pass


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


Engine = Callable[..., Any]


class JobQueue:
    def __init__(
        self,
        *,
        engine: Engine,
        cache: ResultCache,
        store: JobStore,
        inputs_dir: Path,
        limits: Any = None,
        models_dir: Path | None = None,
        queue_size: int = 32,
        keep: Callable[[Job, bytes, Any], None] | None = None,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._store = store
        self._inputs_dir = inputs_dir
        self._limits = limits
        self._models_dir = models_dir
        self.queue_size = queue_size
        #: called (engine thread) with each interactive job's input and result, for later checks
        self._keep = keep
        self._thread = EngineThread()
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()
        self._waiting = dict.fromkeys(PRIORITIES, 0)
        #: (priority, owner) -> jobs waiting or reserved, for extension owners only
        self._owned: dict[tuple[str, str], int] = {}
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._running: Job | None = None
        self._durations: deque[float] = deque(maxlen=20)
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._inputs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._store.prune(older_than_s=JOB_RETENTION_S)
        self._recover()
        self._thread.start()
        self._task = asyncio.create_task(self._schedule(), name="artshade-jobs")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, stop the running job (it is queued again on the next start), end the worker."""
        self._stopping = True
        running = self._running
        if running is not None:
            running.cancel_reason = "shutdown"
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                log.warning(
                    "the running job did not stop within %.0f s; leaving it for the next start", timeout
                )
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if not self._thread.stop(timeout=1.0):
            log.warning("the engine thread is still busy; exiting without it")

    def _recover(self) -> None:
        for rec in self._store.unfinished():
            job = Job.from_record(rec)
            if job.priority == "interactive" and job.input_path is not None and job.input_path.is_file():
                log.info("queueing job %s again after a restart", job.id)
                job.state, job.progress, job.stage = "queued", 0.0, "queued"
                self._store.save(job.record())
                self._remember(job)
                self._push(job)
            else:
                self._remember(job)
                self._finish(job, "error", ("interrupted",
                             "the daemon stopped before this job finished and its input was not kept; "
                             "send it again"))  # fmt: skip

    # -- submitting ----------------------------------------------------------------------------------------

    async def submit(
        self, data: bytes, settings: Settings, *, priority: str = "interactive", owner: str | None = None
    ) -> Job:
        """Queue ``data`` for shading (or answer from the cache); raises QueueFull or ShuttingDown."""
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        if self._stopping or self._loop is None:
            raise ShuttingDown("the daemon is shutting down")
        if self._waiting[priority] >= self.queue_size:
            raise QueueFull(priority, self.retry_after(priority), self.queue_size)
        if owner is not None and self._owned.get((priority, owner), 0) >= self.share:
            raise QueueFull(priority, self.retry_after(priority), self.share, share=True)
        self._waiting[priority] += 1  # reserve the slot across the awaits below
        self._own(priority, owner, +1)
        queued = False
        try:
            key = await asyncio.to_thread(cache_key, data, settings)
            job = Job(
                id=uuid.uuid4().hex, priority=priority, settings=settings, cache_key=key, created=time.time(),
                owner=owner,
            )  # fmt: skip
            self._remember(job)
            cached = await asyncio.to_thread(self._cache.get, key) if key in self._cache else None
            if cached is not None:
                job.result, job.report = cached, cached.report
                if priority == "interactive":
                    await asyncio.to_thread(self._keep_for_check, job, data, cached)
                self._finish(job, "done")
                return job
            if priority == "interactive":  # kept on disk (not in memory) so a restart can finish it
                job.input_path = self._inputs_dir / job.id
                await asyncio.to_thread(
                    partial(write_atomic, job.input_path, data, mode=0o600, parents=0o700)
                )
            else:
                job.data = data
            self._store.save(job.record())
            if self._stopping:
                raise ShuttingDown("the daemon is shutting down")
            self._push(job, reserved=True)
            queued = True
            return job
        finally:
            if not queued:
                self._waiting[priority] -= 1
                self._own(priority, owner, -1)

    def submit_bytes(
        self, data: bytes, settings: Settings, priority: str = "batch"
    ) -> concurrent.futures.Future[Any]:
        """Thread-safe: queue ``data`` from any thread; the future gives the BytesResult or raises
        the engine's ShadingError, Cancelled, QueueFull or ShuttingDown."""
        if self._loop is None:
            raise ShuttingDown("the job queue is not running")

        async def run() -> Any:
            job = await self.submit(data, settings, priority=priority)
            try:
                await job.done_event.wait()
            except asyncio.CancelledError:
                await self.cancel(job.id, wait=0)
                raise
            return await self.outcome(job)

        return asyncio.run_coroutine_threadsafe(run(), self._loop)

    async def outcome(self, job: Job) -> Any:
        """The finished job's result, or its error raised as the engine's exception."""
        if job.state == "done":
            result = await self.result(job)
            if result is None:
                raise ShadingError("the result is no longer in the cache")
            return result
        if job.exception is not None:
            raise job.exception
        code, detail = job.error or ("shading_error", "the job failed")
        raise _exception_for(code, detail)

    async def result(self, job: Job) -> Any:
        """The done job's result bytes (memory or cache); None if they were evicted."""
        if job.result is not None:
            return job.result
        return await asyncio.to_thread(self._cache.get, job.cache_key)

    # -- looking and cancelling ---------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None:
            rec = self._store.get(job_id)
            if rec is not None:
                job = Job.from_record(rec)
                self._remember(job)
        return job

    async def cancel(self, job_id: str, *, wait: float = 10.0) -> Job | None:
        """Cancel a queued or running job; returns it (state ``cancelled`` unless it finished first)."""
        job = self.get(job_id)
        if job is None or job.terminal:
            return job
        if job.state == "queued":
            self._waiting[job.priority] -= 1
            self._own(job.priority, job.owner, -1)
            self._finish(job, "cancelled", ("cancelled", "cancelled before it started"))
            return job
        job.cancel_reason = "user"
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(job.done_event.wait()), wait)
        return job

    def subscribe(self, job: Job) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        """Events for ``job`` from now on: the current progress, each change, then one final event."""
        events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        if job.terminal:
            events.put_nowait(job.final_event())
            return events
        events.put_nowait(job.progress_event())
        job.subscribers.add(events)
        return events

    def unsubscribe(self, job: Job, events: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        job.subscribers.discard(events)

    def stats(self) -> dict[str, int]:
        return {"length": sum(self._waiting.values()), "running": 0 if self._running is None else 1}

    def retry_after(self, priority: str = "interactive") -> int:
        per_job = sum(self._durations) / len(self._durations) if self._durations else 5.0
        return max(1, min(300, math.ceil(per_job * (self._waiting[priority] + 1))))

    # -- the worker ----------------------------------------------------------------------------------------

    @property
    def share(self) -> int:
        """The most jobs one extension may have waiting in a priority class: half the places."""
        return max(1, self.queue_size // 2)

    def _own(self, priority: str, owner: str | None, delta: int) -> None:
        if owner is None:
            return
        count = self._owned.get((priority, owner), 0) + delta
        if count > 0:
            self._owned[(priority, owner)] = count
        else:
            self._owned.pop((priority, owner), None)

    def _push(self, job: Job, *, reserved: bool = False) -> None:
        if not reserved:
            self._waiting[job.priority] += 1
            self._own(job.priority, job.owner, +1)
        heapq.heappush(self._heap, (PRIORITIES[job.priority], next(self._seq), job))
        self._wake.set()

    async def _next(self) -> Job | None:
        while True:
            while not self._heap:
                if self._stopping:
                    return None
                self._wake.clear()
                await self._wake.wait()
            if self._stopping:
                return None
            _, _, job = heapq.heappop(self._heap)
            if job.state == "queued":  # skip the ones cancelled while waiting
                self._waiting[job.priority] -= 1
                self._own(job.priority, job.owner, -1)
                return job

    async def _schedule(self) -> None:
        while (job := await self._next()) is not None:
            await self._execute(job)

    async def _execute(self, job: Job) -> None:
        job.state, job.stage = "running", "starting"
        job.estimate = Estimate()
        log.info("job %s: started (%s, preset %s)", job.id, job.priority, job.settings.preset)
        self._running = job
        self._store.save(job.record())
        self._publish(job, *job.progress_event())
        started = time.monotonic()
        try:
            result = await self._thread.run(partial(self._work, job))
        except Cancelled as err:
            if job.cancel_reason == "shutdown":
                job.state, job.progress, job.stage = "queued", 0.0, "queued"
                self._store.save(job.record())  # runs again on the next start
            else:
                self._finish(job, "cancelled", ("cancelled", str(err)))
        except ShadingError as err:
            job.exception = err
            self._finish(job, "error", (err.code, str(err)))
        except Exception as err:
            log.exception("job %s: the engine failed", job.id)
            job.exception = err
            self._finish(job, "error", ("internal", f"the engine failed unexpectedly ({type(err).__name__})"))
        else:
            job.result, job.report = result, dict(getattr(result, "report", None) or {})
            self._finish(job, "done")
        finally:
            self._running = None
            self._durations.append(time.monotonic() - started)

    def _work(self, job: Job) -> Any:
        """In the engine thread: the cached result, or a fresh one from the engine (then cached)."""
        data = job.data if job.data is not None else job.input_path.read_bytes() if job.input_path else b""
        result = self._cache.get(job.cache_key)
        if result is None:
            result = self._engine(
                data,
                job.settings,
                models_dir=self._models_dir,
                progress=partial(self._progress, job),
                limits=self._limits,
            )
            self._cache.put(job.cache_key, result)
        if job.priority == "interactive":
            self._keep_for_check(job, data, result)
        return result

    def _keep_for_check(self, job: Job, data: bytes, result: Any) -> None:
        """Hand an upload and its result to ``keep`` (a failure there is logged; the job still succeeds)."""
        if self._keep is None or not data:
            return
        try:
            self._keep(job, data, result)
        except Exception:
            log.exception("job %s: could not keep the upload for later checks", job.id)

    def _progress(self, job: Job, fraction: float, stage: str) -> None:
        """The engine's progress callback (engine thread)."""
        if job.cancel_reason is not None:
            raise Cancelled(
                "cancelled by the user" if job.cancel_reason == "user" else "the daemon is stopping"
            )
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_progress, job, float(fraction), str(stage))

    def _on_progress(self, job: Job, fraction: float, stage: str) -> None:
        if job.state != "running":
            return
        fraction = max(job.progress, min(1.0, fraction)) if math.isfinite(fraction) else job.progress
        if round(fraction, 3) == round(job.progress, 3) and stage == job.stage:
            return
        tenth, new_stage = int(job.progress * 10), stage[:64] != job.stage
        job.progress, job.stage = fraction, stage[:64]
        if job.estimate is not None:
            job.estimate.update(fraction, job.stage)
            if new_stage or int(fraction * 10) != tenth:  # the log gets every stage and every 10%
                log.info("job %s: %s", job.id, job.estimate.line())
        self._publish(job, *job.progress_event())

    def _finish(self, job: Job, state: str, error: tuple[str, str] | None = None) -> None:
        took = "" if job.estimate is None else f" after {job.estimate.elapsed:.1f} s"
        log.info("job %s: %s%s%s", job.id, state, took, "" if error is None else f": {error[1]}")
        job.state, job.error, job.finished = state, error, time.time()
        if state == "done":
            job.progress = 1.0
        job.stage = state
        job.data = None
        if job.input_path is not None:
            job.input_path.unlink(missing_ok=True)
            job.input_path = None
        self._store.save(job.record())
        self._publish(job, *job.final_event())
        job.subscribers.clear()
        job.done_event.set()
        if job.result is not None and self._loop is not None:
            self._loop.call_later(RESULT_HOLD_S, setattr, job, "result", None)
        self._trim()

    def _publish(self, job: Job, event: str, data: dict[str, Any]) -> None:
        for events in job.subscribers:
            events.put_nowait((event, data))

    def _remember(self, job: Job) -> None:
        self._jobs[job.id] = job
        self._jobs.move_to_end(job.id)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.terminal]
        for job in finished[: max(0, len(finished) - RECENT_JOBS)]:
            del self._jobs[job.id]


def _exception_for(code: str, detail: str) -> ShadingError:
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


__all__ = ["Job", "JobQueue", "QueueFull", "Result", "ShuttingDown"]
