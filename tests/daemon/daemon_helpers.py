"""Helpers for the daemon's tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from artshade.daemon.config import DaemonConfig
from artshade.daemon.http.server import Server, start
from PIL import Image

TOKEN = "test-token-" + "x" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CANON_QUERY = {"preset": "fast"}
CHROME_ORIGIN = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"
FIREFOX_ORIGIN = "moz-extension://0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def image_bytes(size: int = 64, variant: int = 0, fmt: str = "PNG") -> bytes:
    """A small picture with some structure (a gradient and a square), different for each ``variant``."""
    im = Image.new("RGB", (size, size))
    im.putdata(
        [
            ((x * 4 + variant * 37) % 256, (y * 4) % 256, (x + y + variant) % 256)
            for y in range(size)
            for x in range(size)
        ]
    )
    im.paste((240, 240, 240), (size // 4, size // 4, size // 2, size // 2))
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


async def read_sse(response: aiohttp.ClientResponse) -> list[tuple[str, dict[str, Any]]]:
    """Parse a whole Server-Sent Events stream into (event, data) pairs (comments skipped)."""
    events: list[tuple[str, dict[str, Any]]] = []
    event, data = "message", ""
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                events.append((event, json.loads(data)))
            event, data = "message", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
    return events


@dataclass
class Canonical:
    """The one real shading of the session (64x64 PNG, preset fast)."""

    image: bytes
    job: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    result: bytes
    media_type: str
    report: dict[str, Any]
    cache_dir: Path


class GatedEngine:
    """An engine stand-in for queue tests: each call waits, reporting progress (so it can be cancelled),
    until ``release`` is set, then returns ``result`` (a real protected image from the canonical run)."""

    def __init__(self, result: Any = None) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls: list[bytes] = []
        self.settings: list[Any] = []
        self.result = result

    def __call__(
        self, data: bytes, settings: Any, *, progress: Callable[[float, str], None], **_: Any
    ) -> Any:
        self.calls.append(data)
        self.settings.append(settings)
        self.started.set()
        while not self.release.wait(0.02):
            progress(0.0, "held")
        progress(1.0, "done")
        return self.result


@dataclass
class Daemons:
    models_dir: Path | None
    tmp_path: Path
    started: list[Server] = field(default_factory=list)

    def config(self, **overrides: Any) -> DaemonConfig:
        values: dict[str, Any] = {"port": 0, "token": TOKEN, "models_dir": self.models_dir,
                                  "cache_dir": self.tmp_path / "cache", "watch_folders": False}  # fmt: skip
        values.update(overrides)
        return DaemonConfig(**values)

    async def start(self, config: DaemonConfig | None = None, **overrides: Any) -> Server:
        server = await start(config or self.config(**overrides), write_runtime_file=False)
        self.started.append(server)
        return server

    async def stop(self, server: Server) -> None:
        if server in self.started:
            self.started.remove(server)
            await server.stop()


@contextlib.asynccontextmanager
async def client(
    server: Server, *, token: str | None = TOKEN, **headers: str
) -> AsyncIterator[aiohttp.ClientSession]:
    base = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(server.url, headers={**base, **headers}) as http:
        yield http


async def wait_for_state(
    http: aiohttp.ClientSession, job_id: str, states: tuple[str, ...], timeout: float = 600
) -> dict[str, Any]:
    """Poll a job until it is in one of ``states`` (bounded; the engine is slow on a busy CPU)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await (await http.get(f"/v1/jobs/{job_id}")).json()
        if job["state"] in states:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job['state']}"
        await asyncio.sleep(0.05)


class ThreadedDaemon:
    """A daemon on its own event loop in a thread, for synchronous clients (schemathesis, the CLI)."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Server | None = None

    def __enter__(self) -> Server:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            start(self.config, write_runtime_file=False), self.loop
        ).result(60)
        return self.server

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
