"""Watch folders inside the daemon: each configured folder is a ``daemon.watch.watcher.FolderWatcher`` whose
runner sends pictures through the daemon's job queue at ``batch`` priority (behind interactive uploads)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

from artshade.errors import Cancelled

from ..config import UserSettings, WatchFolder
from ..jobs.places import QueueFull
from ..jobs.queue import JobQueue, ShuttingDown

log = logging.getLogger(__name__)


class QueueRunner:
    """The watcher's runner: ``run()`` blocks its (watcher) thread until the queued job finishes."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._current: concurrent.futures.Future[Any] | None = None

    def run(self, data: bytes, settings: Settings, *, priority: str = "batch") -> Any:
        while True:
            if self._stopped.is_set():
                raise Cancelled("the daemon is stopping")
            try:
                future = self._queue.submit_bytes(data, settings, priority=priority)
            except ShuttingDown:
                raise Cancelled("the daemon is stopping") from None
            with self._lock:
                self._current = future
            try:
                return future.result()
            except QueueFull as err:  # wait for room rather than fail the picture
                if self._stopped.wait(min(err.retry_after, 5)):
                    raise Cancelled("the daemon is stopping") from None
            except (concurrent.futures.CancelledError, ShuttingDown):
                raise Cancelled("the daemon is stopping") from None
            finally:
                with self._lock:
                    self._current = None

    def cancel(self) -> None:
        """Stop for good: the picture in progress is cancelled (its job too)."""
        self._stopped.set()
        with self._lock:
            if self._current is not None:
                self._current.cancel()


FolderKey = tuple[Path, Path, Settings, Path | None]


class FolderManager:
    """Runs one watcher per configured folder and follows changes to the user settings."""

    def __init__(self, queue: JobQueue, *, limits: Any = None, models_dir: Path | None = None) -> None:
        self._queue = queue
        self._limits = limits
        self._models_dir = models_dir
        self._watchers: dict[FolderKey, Any] = {}
        self.problems: dict[str, str] = {}

    async def apply(self, user: UserSettings) -> None:
        """Start watchers for new folders, stop those no longer configured (or whose settings changed)."""
        wanted: dict[FolderKey, WatchFolder] = {}
        for folder in user.watch_folders:
            wanted[(folder.inbox, folder.outbox, user.folder_settings(folder), folder.target_folder)] = folder
        for key in [k for k in self._watchers if k not in wanted]:
            await asyncio.to_thread(self._stop_one, key)
        for key in wanted:
            if key not in self._watchers:
                await asyncio.to_thread(self._start_one, key)

    async def stop(self) -> None:
        for key in list(self._watchers):
            await asyncio.to_thread(self._stop_one, key)

    def running(self) -> list[dict[str, str]]:
        return [{"inbox": str(k[0]), "outbox": str(k[1])} for k in self._watchers]

    def _start_one(self, key: FolderKey) -> None:
        inbox, outbox, settings, target_folder = key
        self.problems.pop(str(inbox), None)
        try:
            from .watcher import FolderWatcher

            watcher = FolderWatcher(
                inbox, outbox, settings,
                runner=QueueRunner(self._queue), limits=self._limits, models_dir=self._models_dir,
                target_folder=target_folder,
            )  # fmt: skip
            watcher.start()
        except Exception as err:  # a bad folder must not take the daemon down
            log.error("cannot watch %s: %s", inbox, err)
            self.problems[str(inbox)] = " ".join(str(err).split()) or type(err).__name__
            return
        self._watchers[key] = watcher

    def _stop_one(self, key: FolderKey) -> None:
        watcher = self._watchers.pop(key, None)
        if watcher is not None:
            watcher.stop(timeout=10)
