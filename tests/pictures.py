"""Small pictures whose content depends on a seed, for the tests of every door (watch folder, batch)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def picture_bytes(seed: int, size: int = 64, fmt: str = "PNG") -> bytes:
    """A small picture whose content depends on ``seed`` (different seeds -> different bytes)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_picture(path: Path, seed: int, size: int = 64, fmt: str = "PNG") -> bytes:
    """``picture_bytes`` written to ``path`` (folders made); returns the bytes."""
    data = picture_bytes(seed, size, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data
