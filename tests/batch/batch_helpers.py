"""Helpers for the batch tests: small pictures, the settings they shade with, this process's Ray workers."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

#: the settings every batch test shades with: quick on two shared cores (no target search, 4 steps)
FAST = ["--preset", "fast", "--target", "blobs", "--seed", "7"]


def picture_bytes(seed: int, size: int = 48, fmt: str = "PNG") -> bytes:
    """A small picture whose content depends on ``seed``."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_picture(path: Path, seed: int, size: int = 48, fmt: str = "PNG") -> bytes:
    data = picture_bytes(seed, size, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


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
