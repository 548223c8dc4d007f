"""What shades the watcher's pictures: a :class:`Runner`.  Alone (``artshade watch``) it is the engine in
this process (:class:`EngineRunner`); in the daemon, the job queue (``daemon_folders.QueueRunner``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from artshade.shading.settings import Settings

from artshade.allocator import give_back
from artshade.errors import Cancelled

if TYPE_CHECKING:
    from artshade.shading.io import Limits
    from artshade.shading.result import BytesResult


class Runner(Protocol):
    """Shades one picture; blocking, called from the watcher's worker thread."""

    def run(self, data: bytes, settings: Settings, *, priority: str) -> BytesResult: ...


class EngineRunner:
    """The default runner: the engine, in this process.  ``cancel()`` aborts the picture in progress and
    any later one until ``reset()`` (the watcher calls it when it starts)."""

    def __init__(
        self,
        models_dir: Path | None = None,
        limits: Limits | None = None,
        on_progress: Callable[[float, str], None] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.limits = limits
        self.on_progress = on_progress
        self._cancel = threading.Event()

    def run(self, data: bytes, settings: Settings, *, priority: str = "batch") -> BytesResult:
        from artshade import shading

        def progress(fraction: float, stage: str) -> None:
            if self._cancel.is_set():
                raise Cancelled("the watcher is stopping")
            if self.on_progress is not None:
                self.on_progress(fraction, stage)

        try:
            return shading.protect_bytes(
                data, settings, models_dir=self.models_dir, progress=progress, limits=self.limits
            )
        finally:
            give_back()  # what the picture freed goes back to the system while the folder waits

    def cancel(self) -> None:
        self._cancel.set()

    def reset(self) -> None:
        self._cancel.clear()
