"""Find the local daemon, ask whether it is alive, and start it detached when it is not."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artshade import ids, paths
from artshade.loopback import OPENER
from artshade.runtime import read_runtime

from .errors import Code, HostError

log = logging.getLogger(__name__)

#: stdout/stderr of a daemon the host started (the daemon keeps its own log beside it).
CONSOLE_LOG = "daemon-console.log"
HEALTH_PATH = "/v1/health"


def _runtime_port() -> int | None:
    try:
        info = read_runtime()
    except Exception:  # a half-written or foreign runtime file must not break the host
        log.warning("could not read the daemon runtime file", exc_info=True)
        return None
    port = info.get("port") if isinstance(info, dict) else None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def configured_port() -> int:
    """ARTSHADE_PORT, else the running (or last) daemon's port from its runtime file, else the default."""
    env = os.environ.get("ARTSHADE_PORT", "").strip()
    if env:
        if env.isdigit() and 0 < int(env) < 65536:
            return int(env)
        log.warning("ignoring ARTSHADE_PORT=%r: not a port number", env)
    return _runtime_port() or ids.DEFAULT_PORT


def url_for(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The daemon's health JSON if artshade answers there (200, a JSON object naming the service),
    else None."""
    try:
        with OPENER.open(url + HEALTH_PATH, timeout=timeout) as response:
            if response.status != 200:
                return None
            body = json.loads(response.read(64 * 1024).decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) and body.get("service") == "artshade" else None


@dataclass
class DaemonState:
    url: str
    running: bool
    version: str | None
    started: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"running": self.running, "url": self.url, "version": self.version}


def _version(body: dict[str, Any]) -> str | None:
    version = body.get("version")
    return version if isinstance(version, str) else None


def probe() -> DaemonState:
    url = url_for(configured_port())
    body = health(url)
    return DaemonState(url, body is not None, _version(body) if body else None)


def _spawn(port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = paths.ensure(paths.log_dir()) / CONSOLE_LOG
    command = [sys.executable, "-m", "artshade", "serve", "--port", str(port)]
    kwargs: dict[str, Any] = {}
    if os.name == "nt":
        flags = ("DETACHED_PROCESS", "CREATE_NEW_PROCESS_GROUP", "CREATE_NO_WINDOW")
        kwargs["creationflags"] = sum(getattr(subprocess, f, 0) for f in flags)
    else:
        kwargs["start_new_session"] = True  # outlives the host, the browser, and their signals
    with open(log_path, "ab") as console:
        # stdin/stdout/stderr are replaced, so the daemon never holds the browser's native-messaging pipes.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            close_fds=True,
            cwd=str(log_path.parent),
            **kwargs,
        )
    log.info("started %s (pid %d), console in %s", " ".join(command), process.pid, log_path)
    return process, log_path


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            lines = [ln.strip() for ln in handle.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def ensure_running(timeout_s: float) -> DaemonState:
    """Return the running daemon's state, starting ``artshade serve`` and waiting for health if needed."""
    port = configured_port()
    url = url_for(port)
    body = health(url)
    if body is not None:
        return DaemonState(url, True, _version(body))
    try:
        process, console = _spawn(port)
    except OSError as err:
        raise HostError(Code.DAEMON_START_FAILED, f"could not start artshade serve: {err}") from err
    deadline = time.monotonic() + timeout_s
    while True:
        body = health(url, timeout=1.0)
        if body is not None:
            return DaemonState(url, True, _version(body), started=process.poll() is None)
        status = process.poll()
        if status is not None:
            # Another host may have started it at the same moment: then ours lost the port, which is fine.
            body = health(url)
            if body is not None:
                return DaemonState(url, True, _version(body))
            detail = _last_line(console)
            raise HostError(
                Code.DAEMON_START_FAILED,
                f"artshade serve exited with status {status}"
                + (f": {detail}" if detail else "")
                + f" (see {console})",
            )
        if time.monotonic() >= deadline:
            raise HostError(
                Code.DAEMON_UNREACHABLE,
                f"artshade serve (pid {process.pid}) did not answer {url}{HEALTH_PATH} within {timeout_s:g} s"
                f" (see {console})",
            )
        time.sleep(0.2)
