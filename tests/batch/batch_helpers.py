"""Helpers for the batch tests: small pictures, the settings they shade with, this process's Ray workers."""

from __future__ import annotations

import os
from pathlib import Path

from pictures import picture_bytes, write_picture  # noqa: F401  (tests/pictures.py)

#: the settings every batch test shades with: quick on two shared cores (no target search, 4 steps)
FAST = ["--preset", "fast", "--target", "blobs", "--seed", "7"]


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux /proc): our own Ray's raylet and workers, nobody else's."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def shade_workers() -> list[int]:
    """This test process's Ray workers that are ShadeWorker actors (Ray names the process after the class)."""
    pids = []
    for pid in descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "ShadeWorker" in cmdline:
            pids.append(pid)
    return pids
