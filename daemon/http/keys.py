"""Typed keys: everything a handler may reach through ``request.app``, and what the middlewares put on the
request."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from artshade.pairing import PairingStore

from ..config import DaemonConfig, UserSettings
from ..jobs.checks import CheckStore
from ..jobs.queue import JobQueue
from ..watch.daemon_folders import FolderManager
from .pairing_codes import PairingCodes
from .powers import Caller


class UserSettingsBox:
    """The current user settings (replaced whole by ``PUT /v1/settings``)."""

    def __init__(self, value: UserSettings) -> None:
        self.value = value


class InfoCache:
    """Slow, unchanging facts computed on first use (``shading.device.describe()``)."""

    def __init__(self) -> None:
        self.device: dict[str, Any] | None = None


CONFIG = web.AppKey("config", DaemonConfig)
TOKEN = web.AppKey("token", str)
PAIRED = web.AppKey("paired", PairingStore)
CODES = web.AppKey("codes", PairingCodes)
USER_SETTINGS = web.AppKey("user_settings", UserSettingsBox)
INFO = web.AppKey("info", InfoCache)
QUEUE = web.AppKey("queue", JobQueue)
FOLDERS = web.AppKey("folders", FolderManager)
#: what is kept of each protected upload for ``POST /v1/check``, and the one check that runs at a time
CHECKS = web.AppKey("checks", CheckStore)
CHECK_SLOT = web.AppKey("check_slot", asyncio.Lock)
#: open event streams, closed on shutdown so they do not hold it up.
STREAMS = web.AppKey("streams", set)

#: per request: who is calling (set by the token middleware) and the extension origin CORS answers to.
CALLER = web.RequestKey("caller", Caller)
CORS_ORIGIN = web.RequestKey("cors_origin", str)
