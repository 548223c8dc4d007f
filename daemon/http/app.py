"""``create_app(config)``: the daemon's aiohttp application.

Every long-lived resource is owned by a cleanup context, started in order and closed in reverse: the
SQLite job store and the result cache, the job queue with its engine thread, then the watch folders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from artshade.pairing import PairingStore

from ..config import DaemonConfig, load_user_settings
from ..jobs.cache import ResultCache
from ..jobs.checks import CheckStore, keeper
from ..jobs.queue import JOB_RETENTION_S, JobQueue
from ..jobs.store import JobStore
from ..watch.daemon_folders import FolderManager
from . import keys
from .check_routes import routes as check_routes
from .handlers import routes
from .keys import CONFIG, QUEUE, STREAMS, USER_SETTINGS
from .middlewares import MIDDLEWARES, add_response_headers
from .pairing_codes import PairingCodes
from .token import get_or_create_token

log = logging.getLogger(__name__)


def create_app(config: DaemonConfig) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=config.max_body)
    app[CONFIG] = config
    app[keys.TOKEN] = config.token or get_or_create_token()
    app[keys.PAIRED] = PairingStore(config.pairing_path)
    app[keys.CODES] = PairingCodes()
    app[USER_SETTINGS] = keys.UserSettingsBox(load_user_settings(config.settings_path))
    app[keys.INFO] = keys.InfoCache()
    app[STREAMS] = set()
    app.router.add_routes(routes)
    app.router.add_routes(check_routes)
    app[keys.CHECK_SLOT] = asyncio.Lock()
    app.on_response_prepare.append(add_response_headers)
    app.on_shutdown.append(close_streams)
    app.cleanup_ctx.append(job_queue)
    app.cleanup_ctx.append(watch_folders)
    return app


async def job_queue(app: web.Application) -> AsyncIterator[None]:
    """The job store (SQLite), the result cache and the queue with its engine thread."""
    from artshade import shading

    config = app[CONFIG]
    store = JobStore(config.data_dir / "jobs.sqlite3")
    cache = ResultCache(config.cache_dir / "results", config.cache_bytes)
    kept = CheckStore(config.data_dir / "checks")
    await asyncio.to_thread(kept.prune, JOB_RETENTION_S)
    app[keys.CHECKS] = kept
    queue = JobQueue(
        engine=config.engine or shading.protect_bytes,
        cache=cache,
        store=store,
        inputs_dir=config.data_dir / "inputs",
        limits=config.input_limits(),
        models_dir=config.models_dir,
        queue_size=config.queue_size,
        keep=keeper(kept),
    )
    await queue.start()
    app[QUEUE] = queue
    try:
        yield
    finally:
        await queue.stop(config.shutdown_timeout)
        store.close()


async def watch_folders(app: web.Application) -> AsyncIterator[None]:
    """The configured watch folders, fed into the job queue at batch priority."""
    config = app[CONFIG]
    folders = FolderManager(
        app[QUEUE],
        limits=config.input_limits(),
        models_dir=config.models_dir,
    )
    app[keys.FOLDERS] = folders
    if config.watch_folders:
        await folders.apply(app[USER_SETTINGS].value)
    try:
        yield
    finally:
        await folders.stop()


async def close_streams(app: web.Application) -> None:
    """End open event streams so a shutdown is not held up by them."""
    streams: set[Any] = app[STREAMS]
    for events in list(streams):
        events.put_nowait(("close", {}))
