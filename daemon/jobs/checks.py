"""What the daemon keeps of each protected upload so that the artist can check the picture the site serves
later (``POST /v1/check``): the upload as sent, the protected file as answered, and the report (which names
the target), for as long as the job records are kept (``jobs.JOB_RETENTION_S``).

One folder per job under ``data_dir()/checks`` (0700; files 0600, written atomically): ``original``,
``protected``, ``meta.json`` (the job id, the owner and a 64-bit difference hash of the original, for
matching a posted picture to its job when no job id is given).  The engine is not imported here: the hash
is computed by the caller (``shading.check.dhash``) and handed in.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artshade.files import write_atomic

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Kept:
    job_id: str
    owner: str | None
    dhash: int
    created: float
    folder: Path

    def original(self) -> bytes:
        return (self.folder / "original").read_bytes()

    def protected(self) -> bytes | None:
        path = self.folder / "protected"
        return path.read_bytes() if path.is_file() else None

    def report(self) -> dict[str, Any]:
        value = json.loads((self.folder / "report.json").read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}


class CheckStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def keep(
        self,
        job_id: str,
        *,
        original: bytes,
        protected: bytes,
        report: dict[str, Any],
        owner: str | None,
        dhash: int,
    ) -> None:
        """Keep what a later check of ``job_id`` needs (called from the engine thread)."""
        if not _JOB_ID.match(job_id):
            raise ValueError("not a job id")
        folder = self.root / job_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        write_atomic(folder / "original", original, mode=0o600)
        write_atomic(folder / "protected", protected, mode=0o600)
        write_atomic(folder / "report.json", json.dumps(report, default=str).encode(), mode=0o600)
        meta = {"job": job_id, "owner": owner, "dhash": f"{dhash:016x}", "created": time.time()}
        write_atomic(folder / "meta.json", json.dumps(meta).encode(), mode=0o600)  # last: marks it complete

    def get(self, job_id: str) -> Kept | None:
        if not _JOB_ID.match(job_id):
            return None
        return self._read(self.root / job_id)

    def kept(self, owner: str | None = None, *, everyone: bool = False) -> Iterator[Kept]:
        """Everything kept for ``owner`` (``everyone``: for every caller), newest first."""
        if not self.root.is_dir():
            return iter(())
        found = [k for d in self.root.iterdir() if (k := self._read(d)) is not None]
        found.sort(key=lambda k: k.created, reverse=True)
        return (k for k in found if everyone or k.owner == owner)

    def prune(self, older_than_s: float) -> int:
        """Forget what was kept longer ago than ``older_than_s`` (and any folder left half written)."""
        if not self.root.is_dir():
            return 0
        limit, removed = time.time() - older_than_s, 0
        for folder in self.root.iterdir():
            if not _JOB_ID.match(folder.name):
                continue
            kept = self._read(folder)
            try:
                stamp = kept.created if kept is not None else folder.stat().st_mtime
            except OSError:
                continue
            if stamp < limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def _read(self, folder: Path) -> Kept | None:
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            return Kept(job_id=str(meta["job"]), owner=meta.get("owner"), dhash=int(meta["dhash"], 16),
                        created=float(meta["created"]), folder=folder)  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            return None


def keeper(store: CheckStore) -> Any:
    """The ``keep`` callback of the job queue: keeps each protected upload in ``store``."""

    def keep(job: Any, data: bytes, result: Any) -> None:
        from artshade.shading.alignment import dhash
        from artshade.shading.io import load_image

        report = dict(getattr(result, "report", None) or {})
        if not report.get("targets"):
            return  # not a report the check can use (an engine stand-in)
        store.keep(job.id, original=data, protected=result.data, report=report, owner=job.owner,
                   dhash=dhash(load_image(data).rgb))  # fmt: skip

    return keep
