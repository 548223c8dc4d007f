"""A check's answer: allowed or not, and why.  The HTTP side's request checks (``daemon.http.guards``) and
the watch folder's folder checks (``daemon.watch.folder_guards``) both answer with one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    #: for a token check: the extension origin an extension token belongs to (None: the daemon's token).
    subject: str | None = None

    def __bool__(self) -> bool:
        return self.ok
