"""Running the daemon: bind loopback only, write the runtime file, stop gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from artshade.errors import ShadingError
from artshade.runtime import remove_runtime, write_runtime

from ..config import DaemonConfig
from .app import create_app

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class Server:
    """A started daemon: ``port``, ``url``; ``await stop()``."""

    def __init__(self, runner: web.AppRunner, port: int, write_file: bool) -> None:
        self.runner = runner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._write_file = write_file

    @property
    def app(self) -> web.Application:
        return self.runner.app

    async def stop(self) -> None:
        if self._write_file:
            remove_runtime()
        await self.runner.cleanup()


async def start(config: DaemonConfig, *, write_runtime_file: bool = True) -> Server:
    """Start listening on loopback; ``config.port`` 0 picks a free port (the same on both addresses)."""
    hosts = [h for h in config.hosts if h in LOOPBACK]
    if not hosts:
        raise ShadingError("the daemon listens on loopback only (127.0.0.1, ::1)")
    runner = web.AppRunner(
        create_app(config), handle_signals=False, access_log=logging.getLogger("artshade.daemon.access"),
        shutdown_timeout=config.shutdown_timeout,
        # aiohttp arms this timer when a connection opens and closes the connection if, when it fires,
        # no complete request has arrived: a header-read timeout (and the idle limit between requests).
        keepalive_timeout=config.header_timeout,
    )  # fmt: skip
    await runner.setup()
    port = config.port
    try:
        for index, host in enumerate(hosts):
            site = web.TCPSite(runner, host, port, backlog=128)
            try:
                await site.start()
            except OSError as err:
                if index == 0:
                    raise _bind_error(host, port, err) from None
                log.warning(
                    "not listening on %s port %d (%s); continuing on %s", host, port, err.strerror, hosts[0]
                )
                continue
            if index == 0:
                port = _bound_port(runner)
    except BaseException:
        await runner.cleanup()
        raise
    log.info("artshade daemon listening on %s port %d", " and ".join(hosts), port)
    if write_runtime_file:
        write_runtime(port)
    return Server(runner, port, write_runtime_file)


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise ShadingError("could not learn the port the daemon listens on")


def _bind_error(host: str, port: int, err: OSError) -> ShadingError:
    if err.errno == errno.EADDRINUSE:
        return ShadingError(f"port {port} on {host} is already in use (is `artshade serve` already "
                            "running?); stop it or pass --port")  # fmt: skip
    return ShadingError(f"cannot listen on {host} port {port}: {err.strerror or err}")


@contextlib.asynccontextmanager
async def running(config: DaemonConfig, *, write_runtime_file: bool = True) -> AsyncIterator[Server]:
    server = await start(config, write_runtime_file=write_runtime_file)
    try:
        yield server
    finally:
        await server.stop()


async def serve_until_signalled(config: DaemonConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    async with running(config) as server:
        print(f"artshade daemon listening on {server.url} (Ctrl+C to stop)", flush=True)
        await stop.wait()
        log.info("stopping")


def serve(config: DaemonConfig) -> int:
    with contextlib.suppress(KeyboardInterrupt):  # Windows, where there is no signal handler
        asyncio.run(serve_until_signalled(config))
    return 0
