"""Where artshade keeps things on the user's machine.

Every location comes from platformdirs.  ``ARTSHADE_HOME`` roots all of them in one folder (portable
installs, tests); a per-kind variable (``ARTSHADE_CONFIG_DIR`` ...) overrides a single one.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "artshade"


def _dir(kind: str, default: str) -> Path:
    override = os.environ.get(f"ARTSHADE_{kind.upper()}_DIR")
    if override:
        return Path(override).expanduser()
    home = os.environ.get("ARTSHADE_HOME")
    if home:
        return Path(home).expanduser() / kind
    return Path(default)


def config_dir() -> Path:
    return _dir("config", platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    return _dir("data", platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    return _dir("cache", platformdirs.user_cache_dir(APP))


def log_dir() -> Path:
    return _dir("log", platformdirs.user_log_dir(APP))


def pictures_dir() -> Path:
    """The user's Pictures folder; the watch folder's defaults live under it."""
    return _dir("pictures", platformdirs.user_pictures_dir())


def ensure(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path
