"""The batch's record: ``OUT/artshade-manifest.parquet``, and the journal that makes a crash lose nothing.

The manifest has one row per picture of the run (``COLUMNS``).  While a run goes, each finished picture is
appended at once to a journal (``OUT/.artshade-batch-journal.jsonl``, a JSON line each, flushed; fsynced every
few seconds); at the end, or on Ctrl-C or an error, the manifest is written from the journal in one atomic
replace and the journal removed.  A run killed outright leaves the journal; the next run reads the manifest
and then the journal, so every picture finished before the crash counts as done.  Rows travel from the
workers to the driver with some delay, so each worker also appends every picture it shades to a journal of
its own (``WORKER_JOURNALS``); those count as done too, and a stopped run's manifest includes them.

A picture is done when its row says ``shaded`` or ``skipped``, its source still has the same sha256, the
settings fingerprint (``Settings.fingerprint``: settings + engine version, the daemon cache's rule) is the
same, and the output file is still there.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from artshade.files import write_atomic

log = logging.getLogger(__name__)

MANIFEST_NAME = "artshade-manifest.parquet"
JOURNAL_NAME = ".artshade-batch-journal.jsonl"
#: each worker's own journal of the pictures it shaded (one file per worker process, so no two writers
#: share a file, on a shared folder too): rows still on their way to the driver when a run stops
WORKER_JOURNALS = ".artshade-batch-workers"
LOCK_NAME = ".artshade-batch.lock"
STATUSES = ("shaded", "skipped", "failed")
DONE = ("shaded", "skipped")

#: the manifest's columns, in order
SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("output", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("seconds", pa.float64()),
        # CPU time the worker spent on the picture (every thread of its process): what a core costs
        ("cpu_seconds", pa.float64()),
        ("engine", pa.string()),
        ("colour_ssim", pa.float64()),
        ("pull", pa.float64()),
        ("platform", pa.string()),
        ("source_sha256", pa.string()),
        ("fingerprint", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
#: rows per Parquet row group (memory while writing stays bounded by this, not the catalogue)
CHUNK = 10_000


def row(**values: Any) -> dict[str, Any]:
    """A manifest row: every column, ``None`` where not given."""
    unknown = set(values) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not manifest columns: {sorted(unknown)}")
    return {c: values.get(c) for c in COLUMNS}


def load_done(out: Path) -> dict[str, dict[str, Any]]:
    """What earlier runs recorded, by source: the manifest, then the journal of a run that did not finish."""
    rows: dict[str, dict[str, Any]] = {}
    manifest = out / MANIFEST_NAME
    if manifest.is_file():
        try:
            for r in pq.read_table(manifest, columns=list(COLUMNS)).to_pylist():
                rows[r["source"]] = r
        except (OSError, ValueError, pa.ArrowException) as exc:
            log.warning("ignoring unreadable manifest %s (%s): its pictures are shaded again", manifest, exc)
    for r in worker_rows(out):
        rows[r["source"]] = r
    for r in read_journal(out / JOURNAL_NAME):
        rows[r["source"]] = r
    return rows


def worker_rows(out: Path) -> Iterator[dict[str, Any]]:
    """The rows in the workers' own journals."""
    folder = out / WORKER_JOURNALS
    if folder.is_dir():
        for path in sorted(folder.glob("*.jsonl")):
            yield from read_journal(path)


def drop_worker_journals(out: Path) -> None:
    folder = out / WORKER_JOURNALS
    if folder.is_dir():
        for path in folder.glob("*.jsonl"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()


def is_done(prior: dict[str, Any] | None, sha256: str, fingerprint: str) -> bool:
    """Whether ``prior`` (a manifest row) already holds this source's output for these settings."""
    return (
        prior is not None
        and prior.get("status") in DONE
        and prior.get("source_sha256") == sha256
        and prior.get("fingerprint") == fingerprint
        and bool(prior.get("output"))
        and Path(prior["output"]).is_file()
    )


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """The rows in a journal; a torn last line (a crash mid-write) is left out."""
    try:
        f = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("source"), str):
                yield row(**{k: v for k, v in value.items() if k in COLUMNS})


class Journal:
    """Appends each finished picture's row at once; ``close()`` when the run ends."""

    def __init__(self, path: Path, *, fsync_every: float = 2.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fsync_every = fsync_every
        self._synced = time.monotonic()
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, values: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(values, separators=(",", ":")) + "\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self._fsync_every:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def write_manifest(out: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write ``rows`` as the manifest, all at once (``files.write_atomic``), encoded in bounded chunks (a
    row is a few hundred bytes: 100 000 pictures make a manifest of a few megabytes)."""
    target = out / MANIFEST_NAME
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, SCHEMA) as writer:
        chunk: list[dict[str, Any]] = []
        for r in rows:
            chunk.append(r)
            if len(chunk) >= CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA))
                chunk = []
        writer.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA))
    write_atomic(target, buffer.getvalue())
    return target


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """The manifest's rows (for people and tests)."""
    return pq.read_table(out / MANIFEST_NAME).to_pylist()
