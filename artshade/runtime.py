"""The runtime file ``data_dir()/daemon.json``: how other local programs find a running daemon.

Written atomically (mode 0600) once the daemon listens, removed on shutdown.  The native host and
``artshade pair`` read it with :func:`read_runtime`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from artshade import __version__
from artshade.files import write_json_atomic
from artshade.paths import data_dir


def runtime_path() -> Path:
    return data_dir() / "daemon.json"


def runtime_info(port: int) -> dict[str, Any]:
    return {"url": f"http://127.0.0.1:{port}", "port": port, "pid": os.getpid(), "version": __version__}


def write_runtime(port: int) -> Path:
    path = runtime_path()
    write_json_atomic(path, runtime_info(port))
    return path


def remove_runtime() -> None:
    """Remove the runtime file if it is ours (a newer daemon may have replaced it)."""
    info = read_runtime()
    if info is not None and info.get("pid") == os.getpid():
        runtime_path().unlink(missing_ok=True)


def read_runtime() -> dict[str, Any] | None:
    """The running daemon's ``{"url", "port", "pid", "version"}``, or None if there is no usable file."""
    try:
        value = json.loads(runtime_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("port"), int)
        or not isinstance(value.get("url"), str)
    ):
        return None
    return value
