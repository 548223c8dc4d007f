"""The ``artshade serve`` processes a test caused (the native host starts one detached), found through
/proc, and a clean stop for them.  Shared by the native-host and extension tests."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def serve_processes(*, home: Path | None = None, port: int | None = None) -> list[int]:
    """``artshade serve`` processes with ``ARTSHADE_HOME=home`` in their environment and/or ``port`` in
    their arguments (a test's own home or port, so only the daemons it caused match)."""
    if home is None and port is None:
        raise ValueError("name the test's home or port: any other daemon on the machine is not ours")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0") if home is not None else []
        except OSError:
            continue
        if b"artshade" not in argv or b"serve" not in argv:
            continue
        if home is not None and f"ARTSHADE_HOME={home}".encode() not in environ:
            continue
        if port is not None and str(port).encode() not in argv:
            continue
        found.append(int(entry.name))
    return found


def stop_processes(pids: list[int], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``timeout`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running (a zombie, waiting for its parent to reap it, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
