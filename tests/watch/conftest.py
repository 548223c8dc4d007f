"""Helpers for the watch-folder tests: real picture files, a counting runner, a fake engine."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shading.settings import Settings


def picture_bytes(seed: int, size: int = 64, fmt: str = "PNG") -> bytes:
    """A small picture whose content depends on ``seed`` (different seeds -> different bytes)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_picture(path: Path, seed: int, size: int = 64, fmt: str = "PNG") -> bytes:
    data = picture_bytes(seed, size, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


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
        from shading.io import load_image

        with self.lock:
            self.calls[hashlib.sha256(data).hexdigest()] += 1
            self.priorities.append(priority)
        if self.gate is not None:
            self.gate.wait(30)
        loaded = load_image(data)
        inverted = Image.eval(loaded.rgb, lambda v: 255 - v)
        buf = io.BytesIO()
        inverted.save(buf, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}[loaded.format])
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


class Tools:
    """The helpers above, as one fixture (test modules cannot import conftest under importlib mode)."""

    picture_bytes = staticmethod(picture_bytes)
    write_picture = staticmethod(write_picture)
    sha = staticmethod(sha)
    files_under = staticmethod(files_under)
    FakeRunner = FakeRunner
    CountingRunner = CountingRunner


@pytest.fixture
def tools() -> type[Tools]:
    return Tools
