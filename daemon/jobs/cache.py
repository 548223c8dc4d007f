"""Protected results cached on disk, keyed by sha256(input) + settings, bounded in size (LRU).

Each entry is two files in the cache folder: ``KEY.bin`` (the protected bytes) and ``KEY.json`` (format,
media type, size, report).  The last use is the ``.bin`` file's mtime, so the order survives restarts.
Writes are atomic; every method is thread-safe (the engine thread writes, the event loop reads).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from artshade.shading.result import BytesResult as Result
from artshade.shading.settings import Settings

from artshade.files import write_atomic

log = logging.getLogger(__name__)


def cache_key(data: bytes, settings: Settings) -> str:
    """sha256 over the input's digest and ``Settings.fingerprint()``, which holds the engine version (an
    improved engine must not serve what an older one made): the watch folder's rule too."""
    digest = hashlib.sha256()
    digest.update(hashlib.sha256(data).digest())
    digest.update(settings.fingerprint().encode("ascii"))
    return digest.hexdigest()


class ResultCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        #: key -> (size in bytes, last use)
        self._index: dict[str, tuple[int, float]] = {}
        for path in root.glob("*.bin"):
            meta = path.with_suffix(".json")
            try:
                st = path.stat()
                size = st.st_size + meta.stat().st_size
            except OSError:
                continue
            self._index[path.stem] = (size, st.st_mtime)

    @property
    def size(self) -> int:
        with self._lock:
            return sum(size for size, _ in self._index.values())

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._index

    def get(self, key: str) -> Result | None:
        with self._lock:
            if key not in self._index:
                return None
            bin_path, meta_path = self._paths(key)
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                data = bin_path.read_bytes()
                now = time.time()
                os.utime(bin_path, (now, now))
            except (OSError, ValueError):
                self._drop(key)
                return None
            self._index[key] = (self._index[key][0], now)
        return Result(data=data, format=meta["format"], media_type=meta["media_type"], width=meta["width"],
                      height=meta["height"], report=meta.get("report") or {})  # fmt: skip

    def put(self, key: str, result: Any) -> None:
        """Store a result (anything with BytesResult's fields), then evict the least recently used."""
        meta = {
            "format": result.format,
            "media_type": result.media_type,
            "width": result.width,
            "height": result.height,
            "report": result.report,
        }
        meta_bytes = json.dumps(meta, default=str).encode("utf-8")
        size = len(result.data) + len(meta_bytes)
        if size > self.max_bytes:
            log.info("result of %d bytes is larger than the whole cache; not cached", size)
            return
        with self._lock:
            bin_path, meta_path = self._paths(key)
            write_atomic(meta_path, meta_bytes, mode=0o600, parents=0o700)
            write_atomic(bin_path, bytes(result.data), mode=0o600, parents=0o700)
            self._index[key] = (size, time.time())
            self._evict()

    def _evict(self) -> None:
        total = sum(size for size, _ in self._index.values())
        for key, (size, _) in sorted(self._index.items(), key=lambda kv: kv[1][1]):
            if total <= self.max_bytes:
                break
            self._drop(key)
            total -= size

    def _drop(self, key: str) -> None:
        self._index.pop(key, None)
        for path in self._paths(key):
            path.unlink(missing_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.bin", self.root / f"{key}.json"
