"""Job records in SQLite (``data_dir()/jobs.sqlite3``, WAL), so a restart still knows every job.

Used from the event loop's thread only; each write is one small statement in its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    progress     REAL NOT NULL DEFAULT 0,
    stage        TEXT NOT NULL DEFAULT '',
    error_code   TEXT,
    error_detail TEXT,
    created      REAL NOT NULL,
    finished     REAL,
    priority     TEXT NOT NULL,
    settings     TEXT NOT NULL,
    cache_key    TEXT NOT NULL,
    input_path   TEXT,
    report       TEXT,
    owner        TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""

FINISHED = ("done", "error", "cancelled")


@dataclass
class JobRecord:
    id: str
    state: str
    progress: float
    stage: str
    error_code: str | None
    error_detail: str | None
    created: float
    finished: float | None
    priority: str
    settings: dict[str, Any]
    cache_key: str
    input_path: str | None
    report: dict[str, Any] | None
    #: the extension origin that submitted the job (None: the artist at the machine or the watch folder).
    owner: str | None = None


COLUMNS = tuple(JobRecord.__dataclass_fields__)


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "owner" not in columns:  # a job store from before jobs had owners
            self._db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")
        path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def save(self, record: JobRecord) -> None:
        values = [getattr(record, c) for c in COLUMNS]
        values[COLUMNS.index("settings")] = json.dumps(record.settings, default=str)
        values[COLUMNS.index("report")] = (
            None if record.report is None else json.dumps(record.report, default=str)
        )
        placeholders = ", ".join("?" for _ in COLUMNS)
        self._db.execute(
            f"INSERT OR REPLACE INTO jobs ({', '.join(COLUMNS)}) VALUES ({placeholders})", values
        )

    def get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _record(row)

    def unfinished(self) -> Iterator[JobRecord]:
        marks = ", ".join("?" for _ in FINISHED)
        rows = self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE state NOT IN ({marks}) ORDER BY created", FINISHED
        ).fetchall()
        return (_record(r) for r in rows)

    def prune(self, older_than_s: float) -> int:
        """Forget finished jobs older than ``older_than_s`` seconds."""
        marks = ", ".join("?" for _ in FINISHED)
        cur = self._db.execute(
            f"DELETE FROM jobs WHERE state IN ({marks}) AND finished < ?",
            (*FINISHED, time.time() - older_than_s),
        )
        return cur.rowcount


def _record(row: tuple[Any, ...]) -> JobRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["settings"] = json.loads(values["settings"])
    values["report"] = None if values["report"] is None else json.loads(values["report"])
    return JobRecord(**values)
