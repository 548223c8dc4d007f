"""What the watch folder has done, kept in SQLite so a restart never redoes finished work.

Two tables:

``jobs``    one row per (picture content, settings): key = sha256 of the bytes + the settings' fingerprint
            (with the engine version).  ``status`` is ``in_progress`` (its output name reserved; redone
            after a crash), ``done`` (output renamed into place) or ``failed`` (the picture itself is bad;
            not retried until its content changes).
``sources`` one row per file seen in the inbox (path relative to the inbox): its size, mtime and hash, and
            what became of it (``shaded``, ``duplicate``, ``failed``, ``ignored``).  A restart skips a file
            whose size and mtime match without reading it again, and never reshades a file it already
            handled even if the settings changed since (new settings apply to what arrives next).

All paths stored are POSIX-style, relative to the inbox or the outbox.  The connection is used from one
thread at a time (the watcher's lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from artshade.shading.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    settings TEXT NOT NULL,
    source TEXT NOT NULL,
    output TEXT,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'done', 'failed')),
    error TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_output ON jobs(output);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    job_key TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('shaded', 'duplicate', 'failed', 'ignored')),
    updated REAL NOT NULL
);
"""

FINAL_OUTCOMES = frozenset({"shaded", "duplicate", "failed", "ignored"})


def settings_json(settings: Settings) -> str:
    """Canonical JSON of the settings (sorted keys), kept with each job for whoever reads the state file."""
    return json.dumps(settings.to_dict(), sort_keys=True, separators=(",", ":"))


def job_key(content_sha256: str, settings: Settings) -> str:
    """The picture's sha256 and ``Settings.fingerprint()`` (the settings and the engine version: what an
    older engine made is not "already done" after an upgrade), the same rule as the daemon's result cache."""
    return f"{content_sha256}:{settings.fingerprint()}"


@dataclass(frozen=True)
class Job:
    key: str
    source: str
    output: str | None
    status: str
    error: str | None


@dataclass(frozen=True)
class Source:
    path: str
    size: int
    mtime_ns: int
    content_sha256: str
    job_key: str | None
    outcome: str


class WatchState:
    """The SQLite file (WAL journal, so a reader never blocks the watcher and a crash loses nothing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- jobs -------------------------------------------------------------------------------------------

    def job(self, key: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, source, output, status, error FROM jobs WHERE key = ?", (key,)
            ).fetchone()
        return Job(*row) if row else None

    def is_reserved(self, output: str) -> bool:
        """Whether an unfinished job has reserved this output name."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM jobs WHERE output = ? AND status = 'in_progress'", (output,)
            ).fetchone()
        return row is not None

    def begin(self, key: str, content_sha256: str, settings: Settings, source: str, output: str) -> None:
        """Reserve ``output`` for this job before anything is written (a crash leaves it in progress)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (key, content_sha256, settings, source, output, status, error, updated) "
                "VALUES (?, ?, ?, ?, ?, 'in_progress', NULL, ?) "
                "ON CONFLICT(key) DO UPDATE SET source = excluded.source, output = excluded.output, "
                "status = 'in_progress', error = NULL, updated = excluded.updated",
                (key, content_sha256, settings_json(settings), source, output, time.time()),
            )

    def finish(self, key: str, output: str) -> None:
        """Called only once the output is renamed into place."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = 'done', output = ?, updated = ? WHERE key = ?",
                (output, time.time(), key),
            )

    def fail(self, key: str, content_sha256: str, settings: Settings, source: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (key, content_sha256, settings, source, output, status, error, updated) "
                "VALUES (?, ?, ?, ?, NULL, 'failed', ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET status = 'failed', output = NULL, error = excluded.error, "
                "updated = excluded.updated",
                (key, content_sha256, settings_json(settings), source, error, time.time()),
            )

    def forget(self, key: str) -> None:
        """Drop an unfinished job whose work was lost to a passing error (it is tried again later)."""
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE key = ? AND status = 'in_progress'", (key,))

    def jobs(self, status: str | None = None) -> list[Job]:
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT key, source, output, status, error FROM jobs").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT key, source, output, status, error FROM jobs WHERE status = ?", (status,)
                ).fetchall()
        return [Job(*row) for row in rows]

    # -- sources ----------------------------------------------------------------------------------------

    def source(self, path: str) -> Source | None:
        with self._lock:
            row = self._db.execute(
                "SELECT path, size, mtime_ns, content_sha256, job_key, outcome FROM sources WHERE path = ?",
                (path,),
            ).fetchone()
        return Source(*row) if row else None

    def record_source(
        self, path: str, size: int, mtime_ns: int, content_sha256: str, job_key: str | None, outcome: str
    ) -> None:
        if outcome not in FINAL_OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._db.execute(
                "INSERT INTO sources (path, size, mtime_ns, content_sha256, job_key, outcome, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, content_sha256 = excluded.content_sha256, "
                "job_key = excluded.job_key, outcome = excluded.outcome, updated = excluded.updated",
                (path, size, mtime_ns, content_sha256, job_key, outcome, time.time()),
            )
