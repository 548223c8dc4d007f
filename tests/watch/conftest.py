"""Helpers for the watch-folder tests: real picture files, a counting runner, a fake engine."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from artshade.daemon.watch.rules import TEMP_PREFIX
from artshade.shading.settings import Settings
from pictures import picture_bytes, write_picture  # noqa: F401  (tests/pictures.py)
from PIL import Image


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class FakeResult:
    data: bytes
    format: str
    media_type: str
    width: int
    height: int
    report: dict


class FakeRunner:
    """Inverts the picture (no model); counts calls by input hash.  ``gate`` can hold a call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.priorities: list[str] = []
        self.gate: threading.Event | None = None
        self.lock = threading.Lock()

    def run(self, data: bytes, settings: Settings, *, priority: str) -> FakeResult:
        from artshade.shading.io import load_image

        with self.lock:
            self.calls[hashlib.sha256(data).hexdigest()] += 1
            self.priorities.append(priority)
        if self.gate is not None:
            self.gate.wait(30)
        loaded = load_image(data)
        inverted = Image.eval(loaded.rgb, lambda v: 255 - v)
        buf = io.BytesIO()
        inverted.save(
            buf, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}[loaded.format]
        )
        w, h = inverted.size
        return FakeResult(buf.getvalue(), loaded.format, f"image/{loaded.format}", w, h, {})

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class CountingRunner:
    """Wraps a real runner and counts its calls by input hash."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def run(self, data: bytes, settings: Settings, *, priority: str):
        with self.lock:
            self.calls[hashlib.sha256(data).hexdigest()] += 1
        return self.inner.run(data, settings, priority=priority)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outbox = tmp_path / "inbox", tmp_path / "protected"
    inbox.mkdir()
    return inbox, outbox


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def states(state_path: Path) -> dict[str, int]:
    """Job counts by status, read from the watcher's state file (safe while it runs: WAL)."""
    try:
        db = sqlite3.connect(f"file:{state_path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return {}


def wait_for(condition, limit: float = 900.0, what: str = "condition") -> None:
    """Poll until ``condition()``; the limit only guards against a hang (no timing is asserted)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {limit:.0f} s")
        time.sleep(0.05)


def is_report(path: Path) -> bool:
    """The report the watch folder writes beside each output (``NAME.report.json``)."""
    return path.name.endswith(".report.json")


def assert_complete(path: Path) -> None:
    """A file a user can see in the outbox is whole: a picture opens completely, a report parses."""
    assert path.stat().st_size > 0, path
    if is_report(path):
        assert isinstance(json.loads(path.read_text()), dict), path
    elif path.suffix != ".txt":
        with Image.open(path) as im:
            im.load()


def assert_clean_outbox(outbox: Path) -> None:
    """No temp files, nothing empty, and every picture (and report) in the outbox is complete."""
    for path in files_under(outbox):
        assert not path.name.startswith(TEMP_PREFIX), path
        assert_complete(path)


def pictures_in(outbox: Path) -> set[str]:
    return {
        p.relative_to(outbox).as_posix()
        for p in files_under(outbox)
        if "errors" not in p.relative_to(outbox).parts and not is_report(p)
    }


def assert_one_output_each(outbox: Path, good: dict[str, bytes], name: str, duplicate: str) -> None:
    """One output per distinct picture; the duplicated one under whichever of its two names came first."""
    outputs = pictures_in(outbox)
    others = set(good) - {name}
    assert outputs - others in ({name}, {duplicate}), sorted(outputs)
    assert others <= outputs


def drop_batch(inbox: Path, *, slow: bool) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """17 distinct pictures + a duplicate + a corrupt PNG + a text file, written by 20 threads.

    Returns (good pictures by name, everything by name)."""
    good: dict[str, bytes] = {}
    for i in range(17):
        fmt = ("PNG", "JPEG", "WEBP")[i % 3]
        ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
        folder = "" if i < 12 else "sketches/"
        good[f"{folder}pic{i:02d}.{ext}"] = picture_bytes(100 + i, size=64 if i % 2 else 80, fmt=fmt)
    every = dict(good)
    every["pic00 copy.png"] = good["pic00.png"]  # the duplicate
    cut = picture_bytes(999, size=64)
    every["corrupt.png"] = cut[: len(cut) * 2 // 3]
    every["notes.txt"] = b"colour notes for the series, not a picture\n"

    def write(rel: str, data: bytes, chunked: bool) -> None:
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            if not chunked:
                fh.write(data)
                return
            step = max(1, len(data) // 6)
            for i in range(0, len(data), step):
                fh.write(data[i : i + step])
                fh.flush()
                time.sleep(0.02)

    threads = [
        threading.Thread(target=write, args=(rel, data, slow and n % 3 == 0))
        for n, (rel, data) in enumerate(every.items())
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return good, every


def kill_hard(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """SIGKILL a still-running watcher (a crash, not a shutdown) and reap it; never leave it running."""
    try:
        assert proc.poll() is None, "the watcher ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Tools:
    """The helpers above, as one fixture (test modules cannot import conftest under importlib mode)."""

    picture_bytes = staticmethod(picture_bytes)
    write_picture = staticmethod(write_picture)
    sha = staticmethod(sha)
    files_under = staticmethod(files_under)
    FakeRunner = FakeRunner
    CountingRunner = CountingRunner
    wait_for = staticmethod(wait_for)
    assert_clean_outbox = staticmethod(assert_clean_outbox)
    assert_complete = staticmethod(assert_complete)
    is_report = staticmethod(is_report)
    pictures_in = staticmethod(pictures_in)
    assert_one_output_each = staticmethod(assert_one_output_each)
    drop_batch = staticmethod(drop_batch)
    states = staticmethod(states)
    kill_hard = staticmethod(kill_hard)


@pytest.fixture
def tools() -> type[Tools]:
    return Tools
