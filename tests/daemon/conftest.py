"""Fixtures for the daemon's tests: real servers on ephemeral loopback ports, tiny images, and one real
shading per session whose result every other test's daemon finds in a shared cache."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # daemon_helpers, for the test modules too

from artshade.daemon.config import DaemonConfig  # noqa: E402
from artshade.daemon.http.server import running  # noqa: E402
from daemon_helpers import (  # noqa: E402
    AUTH,
    CANON_QUERY,
    TOKEN,
    Canonical,
    Daemons,
    ThreadedDaemon,
    image_bytes,
    read_sse,
)


@pytest.fixture(scope="session")
def canonical(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Canonical:
    root = tmp_path_factory.mktemp("canonical")
    config = DaemonConfig(port=0, token=TOKEN, models_dir=models_dir, config_dir=root / "config",
                          data_dir=root / "data", cache_dir=root / "cache", watch_folders=False)  # fmt: skip
    data = image_bytes()

    async def shade() -> Canonical:
        async with (
            running(config, write_runtime_file=False) as server,
            aiohttp.ClientSession(server.url, headers=AUTH) as http,
        ):
            posted = await http.post(
                "/v1/protect", params=CANON_QUERY, data=data, headers={"Content-Type": "image/png"}
            )
            assert posted.status == 202, await posted.text()
            job = await posted.json()
            async with http.get(
                f"/v1/jobs/{job['id']}/events", timeout=aiohttp.ClientTimeout(total=900)
            ) as stream:
                assert stream.status == 200
                events = await read_sse(stream)
            result = await http.get(f"/v1/jobs/{job['id']}/result")
            assert result.status == 200, await result.text()
            report = await (await http.get(f"/v1/jobs/{job['id']}/report")).json()
            return Canonical(
                data, job, events, await result.read(), result.content_type, report, root / "cache"
            )

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop, whoever asks first
        return pool.submit(asyncio.run, shade()).result()


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[Daemons]:
    """Daemons on the test's ARTSHADE_MODELS: the real weights when the test uses them (``canonical``)."""
    pool = Daemons(None, tmp_path)
    try:
        yield pool
    finally:
        for server in list(pool.started):
            await pool.stop(server)


@pytest.fixture
def threaded_daemon(tmp_path: Path) -> Iterator[Callable[..., ThreadedDaemon]]:
    def make(**overrides: Any) -> ThreadedDaemon:
        values: dict[str, Any] = {"port": 0, "token": TOKEN, "models_dir": None,
                                  "cache_dir": tmp_path / "cache", "watch_folders": False}  # fmt: skip
        values.update(overrides)
        return ThreadedDaemon(DaemonConfig(**values))

    yield make
