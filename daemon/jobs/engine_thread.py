"""One thread per device that runs blocking engine calls, awaited from the event loop."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from artshade.allocator import give_back

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineThread:
    """Runs callables one at a time in a dedicated daemon thread; ``await run(fn)`` gets the result."""

    def __init__(self, name: str = "artshade-engine") -> None:
        self._calls: queue.Queue[
            tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]] | None
        ]
        self._calls = queue.Queue()
        # a daemon thread: a stuck engine call must not keep the process alive after shutdown gave up on it.
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((fn, loop, future))
        return await future

    def stop(self, timeout: float) -> bool:
        """Ask the thread to end after its current call; True if it ended within ``timeout``."""
        self._calls.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        while (item := self._calls.get()) is not None:
            fn, loop, future = item
            try:
                value = fn()
            except BaseException as err:  # handed to the awaiting coroutine
                _deliver(loop, future, error=err)
            else:
                _deliver(loop, future, value=value)
            finally:
                give_back()  # what the call freed goes back to the system while the daemon waits


def _deliver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], *, value: Any = None,
             error: BaseException | None = None) -> None:  # fmt: skip
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug("engine call finished after the event loop closed")
