"""The job queue: one door for the HTTP API and the watch folder into the engine.

- Bounded per priority class (``interactive`` uploads run before ``batch`` watch-folder work), with each
  paired extension's share of the places: :class:`~daemon.jobs.places.Places` (a full class raises
  ``QueueFull``); the jobs themselves are :class:`~daemon.jobs.job.Job`.
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
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

from artshade.errors import Cancelled, ShadingError
from artshade.files import write_atomic
from artshade.progress import Estimate

from .cache import ResultCache, cache_key
from .engine_thread import EngineThread
from .job import PRIORITIES, Job, exception_for
from .places import Places
from .store import JobStore

log = logging.getLogger(__name__)

#: finished jobs kept in memory (all of them stay in SQLite).
RECENT_JOBS = 512
#: seconds a finished job keeps its result bytes in memory (then they come from the cache).
RESULT_HOLD_S = 120.0
#: seconds finished job records (and what ``checks`` keeps of each protected upload) are kept
JOB_RETENTION_S = 30 * 86400


class ShuttingDown(Exception):
    pass


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
        self.places = Places(queue_size)
        #: called (engine thread) with each interactive job's input and result, for later checks
        self._keep = keep
        self._thread = EngineThread()
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._running: Job | None = None
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
        self.places.take(priority, owner)  # reserved across the awaits below (QueueFull if there is none)
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
                self.places.free(priority, owner)

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
        raise exception_for(code, detail)

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
            self.places.free(job.priority, job.owner)
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
        return {"length": self.places.waiting(), "running": 0 if self._running is None else 1}

    # -- the worker ----------------------------------------------------------------------------------------

    def _push(self, job: Job, *, reserved: bool = False) -> None:
        if not reserved:
            self.places.hold(job.priority, job.owner)
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
                self.places.free(job.priority, job.owner)
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
            self.places.took(time.monotonic() - started)

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
