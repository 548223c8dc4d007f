"""On-disk cache of diffusion-made targets and CLIP analyses, so a model runs once per distinct input.

Layout (under ``artshade.paths.cache_dir()/targets/``): ``<key>.png`` + ``<key>.json`` (the facts recorded
when it was made) for images, ``<key>.json`` alone for analyses.  The key is a SHA-256 of everything the
result depends on (model name and fingerprint, prompt, seed, size, steps, source-image hash ...), so there
is nothing to invalidate: a different input is a different key.  Files are written atomically (temp file
in the same folder, then ``os.replace``); a damaged entry reads as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

from PIL import Image

from artshade import paths

from .. import io as shading_io

log = logging.getLogger(__name__)


def cache_root() -> Path:
    return paths.cache_dir() / "targets"


def make_key(kind: str, parts: dict[str, Any]) -> str:
    """A stable key: ``kind-<sha256 of the canonical JSON of parts>`` (first 32 hex digits)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return f"{kind}-{hashlib.sha256(blob).hexdigest()[:32]}"


def image_hash(img: Image.Image) -> str:
    """Hash of the pixels (mode, size, bytes): equal images hash equal whatever file they came from."""
    h = hashlib.sha256(f"{img.mode}:{img.size[0]}x{img.size[1]}:".encode())
    h.update(img.tobytes())
    return h.hexdigest()


class TargetCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()

    # -- images + their facts
    def get_image(self, key: str) -> tuple[Image.Image, dict[str, Any]] | None:
        png, meta = self.root / f"{key}.png", self.root / f"{key}.json"
        if not (png.is_file() and meta.is_file()):
            return None
        try:
            facts = json.loads(meta.read_text("utf-8"))
            with Image.open(png) as img:
                img.load()
                rgb = img.convert("RGB")
        except (OSError, ValueError) as err:
            log.warning("ignoring damaged target cache entry %s: %s", key, err)
            return None
        return rgb, facts

    def put_image(self, key: str, image: Image.Image, facts: dict[str, Any]) -> None:
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "PNG")
        # image first, facts second: an entry counts only once both exist
        self._write(self.root / f"{key}.png", buf.getvalue())
        self._write(self.root / f"{key}.json", json.dumps(facts, indent=1, sort_keys=True).encode())

    # -- JSON-only entries (CLIP analyses)
    def get_json(self, key: str) -> dict[str, Any] | None:
        path = self.root / f"{key}.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("ignoring damaged cache entry %s: %s", key, err)
            return None
        return data if isinstance(data, dict) else None

    def put_json(self, key: str, data: dict[str, Any]) -> None:
        self._write(self.root / f"{key}.json", json.dumps(data, indent=1, sort_keys=True).encode())

    def _write(self, path: Path, data: bytes) -> None:
        paths.ensure(path.parent)
        shading_io.write_atomic(path, data)
