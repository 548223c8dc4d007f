"""One picture's way from the inbox to the outbox, in the watcher's worker thread: read it without following
a link, key it (its sha256 and the settings' fingerprint), skip what was done, shade it, write the output
and its report, move the original if asked, or explain why not (``outbox/errors``).  ``FolderWatcher``
decides *when* a file is ready; :class:`Pictures` decides *what* becomes of it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artshade.shading.settings import Settings

from artshade.errors import Cancelled, InputError, NotAnImageError, ShadingError
from artshade.files import sha256_file

from . import rules
from .files import move_file, write_new
from .folder_guards import link_on_the_way
from .folder_settings import FolderSettingsError
from .outcomes import FileOutcome
from .runner import Runner
from .state import WatchState, job_key

if TYPE_CHECKING:
    from artshade.shading.io import Limits

log = logging.getLogger("artshade.watch")


class Pictures:
    """What becomes of each picture.  The watcher hands over its state file (``state``), the settings for a
    folder (``settings_for``) and how to tell what happened (``report``), to look again at a file still
    being written (``again``), to hold one back until its folder's settings file is fixed (``hold_back``),
    whether it is stopping (``stopping``) and that a picture is about to be shaded (``started``)."""

    def __init__(
        self,
        inbox: Path,
        outbox: Path,
        *,
        move_originals: Path | None,
        limits: Limits,
        runner: Runner,
        state: Callable[[], WatchState],
        settings_for: Callable[[Path], Settings],
        report: Callable[[FileOutcome], None],
        again: Callable[[Path], None],
        hold_back: Callable[[Path], None],
        stopping: Callable[[], bool],
        started: Callable[[Path], None],
    ) -> None:
        self.inbox, self.outbox, self.move_originals = inbox, outbox, move_originals
        self.limits = limits
        self.runner = runner
        self._state = state
        self._settings_for = settings_for
        self._report = report
        self._again = again
        self._hold_back = hold_back
        self._stopping = stopping
        self._started = started
        self._bad_settings_reported: set[tuple[Path, str]] = set()

    @property
    def state(self) -> WatchState:
        return self._state()

    def settings_changed(self) -> None:
        """A ``.artshade.json`` changed: a bad one is reported again if it is still bad."""
        self._bad_settings_reported.clear()

    def handle(self, path: Path) -> None:
        """Take ``path`` (complete, not ignored) the whole way: skip, duplicate, shade or fail it."""
        link = link_on_the_way(path, self.inbox)
        if link is not None:  # a link could lead anywhere on the disk: never followed
            self._report(
                FileOutcome(path, "ignored", message=f"{link.name} is a symbolic link (not followed)")
            )
            return
        try:
            st = path.lstat()
        except FileNotFoundError:
            return
        rel = path.relative_to(self.inbox).as_posix()
        known = self.state.source(rel)
        if known and (known.size, known.mtime_ns) == (st.st_size, st.st_mtime_ns):
            self._after_known(path, known.outcome)
            return
        if st.st_size > self.limits.max_bytes:
            self._too_big(path, st, rel)
            return
        started = time.monotonic()
        try:
            data = _read_no_follow(path)
        except FileNotFoundError:
            return
        except OSError as err:  # replaced by a link meanwhile (ELOOP), or unreadable
            self._report(
                FileOutcome(path, "ignored", message=f"cannot be read safely ({err.strerror or err})")
            )
            return
        if _changed(path, st):
            self._again(path)  # still being written
            return
        sha = hashlib.sha256(data).hexdigest()
        if known and known.content_sha256 == sha:
            self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, known.job_key, known.outcome)
            self._after_known(path, known.outcome)
            return
        try:
            settings = self._settings_for(path.parent)
        except FolderSettingsError as err:
            self._hold(path, err)
            return
        key = job_key(sha, settings)
        job = self.state.job(key)
        if job and job.status == "done" and job.output and (self.outbox / job.output).exists():
            outcome = "shaded" if job.source == rel else "duplicate"
            self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, key, outcome)
            if outcome == "duplicate":
                self._report(FileOutcome(path, "duplicate", self.outbox / job.output))
            self._move_original(path)
            return
        if job and job.status == "failed":
            self._failed(path, st, rel, sha, key, settings, job.error or "cannot be shaded", record=False)
            return

        from artshade.shading.io import load_image

        try:
            load_image(data, self.limits)
        except NotAnImageError as err:
            if path.suffix.lower() in rules.IMAGE_SUFFIXES:
                self._failed(path, st, rel, sha, key, settings, str(err))
            else:
                self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, None, "ignored")
                self._report(FileOutcome(path, "ignored", message="not an image (jpeg, png, webp or tiff)"))
            return
        except InputError as err:
            if _changed(path, st):
                self._again(path)
                return
            self._failed(path, st, rel, sha, key, settings, str(err))
            return

        self._shade(path, st, rel, sha, key, settings, data, job, started)

    def _shade(
        self,
        path: Path,
        st: os.stat_result,
        rel: str,
        sha: str,
        key: str,
        settings: Settings,
        data: bytes,
        job: Any,
        started: float,
    ) -> None:
        if job and job.status == "in_progress" and job.output:
            out, reserved = self.outbox / job.output, True  # redo after a crash, into the same name
        else:
            out, reserved = self._reserve(rules.mirrored(path, self.inbox, self.outbox)), False
        self.state.begin(key, sha, settings, rel, self._rel_out(out))
        self._started(path)
        try:
            result = self.runner.run(data, settings, priority="batch")
            if not result.data:
                raise ShadingError("the engine returned an empty picture")
        except Cancelled as err:
            if self._stopping():
                return  # stays in progress; redone on next start
            self.state.forget(key)
            self._retry(path, str(err))
            return
        except InputError as err:
            self._failed(path, st, rel, sha, key, settings, str(err))
            return
        except (ShadingError, OSError) as err:
            self.state.forget(key)
            self._retry(path, str(err))
            return

        name = rules.output_name(out.name, result.format)
        if name != out.name:  # the engine changed the format: the extension follows
            out, reserved = self._reserve(out.with_name(name)), False
            self.state.begin(key, sha, settings, rel, self._rel_out(out))
        while True:
            try:
                write_new(out, result.data, replace=reserved)
                break
            except FileExistsError:  # someone else took the name meanwhile: never overwrite
                out = self._reserve(out)
                self.state.begin(key, sha, settings, rel, self._rel_out(out))
            except OSError as err:  # disk full, permissions...: nothing half-written stays behind
                self.state.forget(key)
                self._retry(path, f"cannot write {out}: {err.strerror or err}")
                return
        self.state.finish(key, self._rel_out(out))
        self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, key, "shaded")
        with contextlib.suppress(FileNotFoundError):
            rules.error_note_path(path, self.inbox, self.outbox).unlink()
        self._report(FileOutcome(path, "shaded", out, seconds=time.monotonic() - started))
        original = self._move_original(path) or path
        self._write_report(out, original, result, replace=reserved)

    def _write_report(self, out: Path, original: Path, result: Any, *, replace: bool) -> None:
        """The engine's report beside the output (``NAME.report.json``), saying where the original and the
        output are, so that ``artshade check --report`` can rebuild the target later.  Never over a file
        the watcher did not write; a report that cannot be written is logged, the picture stays shaded."""
        report = dict(getattr(result, "report", None) or {})
        if not report:
            return
        report["input"] = {**(report.get("input") or {}), "path": str(original)}
        report["output"] = {**(report.get("output") or {}), "path": str(out)}
        where = report_path(out)
        try:
            write_new(where, json.dumps(report, indent=2, default=str).encode(), replace=replace)
        except FileExistsError:
            log.warning("not writing the report %s: a file of that name is already there", where)
        except OSError as err:
            log.warning("cannot write the report %s: %s", where, err.strerror or err)

    def _reserve(self, wanted: Path) -> Path:
        return rules.unique_path(wanted, taken=lambda p: self.state.is_reserved(self._rel_out(p)))

    def _rel_out(self, out: Path) -> str:
        return out.relative_to(self.outbox).as_posix()

    def _after_known(self, path: Path, outcome: str) -> None:
        """A file handled before: move it if asked; one that failed is reported again (still there)."""
        if outcome in {"shaded", "duplicate"}:
            self._move_original(path)
        elif outcome == "failed":
            note = rules.error_note_path(path, self.inbox, self.outbox)
            try:
                reason = note.read_text(encoding="utf-8").strip().removeprefix(f"{path.name}: ")
            except OSError:
                reason = "could not be shaded"
            self._report(FileOutcome(path, "failed", message=f"{reason} (unchanged since)"))

    def _too_big(self, path: Path, st: os.stat_result, rel: str) -> None:
        from artshade.shading.io import sniff_format

        with open(path, "rb") as fh:
            head = fh.read(64)
        sha = sha256_file(path)
        if sniff_format(head) or path.suffix.lower() in rules.IMAGE_SUFFIXES:
            mb = self.limits.max_bytes / 1024 / 1024
            reason = f"file is larger than the {mb:.0f} MB limit (raise it with {self.limits.bytes_setting})"
            self._failed(path, st, rel, sha, None, None, reason)
        else:
            self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, None, "ignored")
            self._report(FileOutcome(path, "ignored", message="not an image (jpeg, png, webp or tiff)"))

    def _failed(
        self,
        path: Path,
        st: os.stat_result,
        rel: str,
        sha: str,
        key: str | None,
        settings: Settings | None,
        reason: str,
        *,
        record: bool = True,
    ) -> None:
        if record and key is not None and settings is not None:
            self.state.fail(key, sha, settings, rel, reason)
        self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, key, "failed")
        self._note(path, reason)
        self._report(FileOutcome(path, "failed", message=reason))

    def _retry(self, path: Path, reason: str) -> None:
        self._note(path, f"{reason} (tried again on next start or when the file changes)")
        self._report(FileOutcome(path, "retry", message=reason))

    def _hold(self, path: Path, err: FolderSettingsError) -> None:
        self._hold_back(path)
        note = (
            self.outbox
            / rules.ERRORS_DIR
            / err.settings_file.parent.relative_to(self.inbox)
            / "artshade.json.txt"
        )
        reported = (err.settings_file, str(err))
        if reported not in self._bad_settings_reported:
            self._bad_settings_reported.add(reported)
            log.error("%s", err)
            with contextlib.suppress(OSError):
                write_new(note, (str(err) + "\n").encode(), replace=True)
        self._report(FileOutcome(path, "held", message=f"bad settings file {err.settings_file.name}"))

    def _note(self, path: Path, reason: str) -> None:
        note = rules.error_note_path(path, self.inbox, self.outbox)
        try:
            write_new(note, f"{path.name}: {reason}\n".encode(), replace=True)
        except OSError as err:
            log.error("cannot write %s: %s", note, err)

    def _move_original(self, path: Path) -> Path | None:
        """Move the original where the artist asked (if they did); returns where it went."""
        if self.move_originals is None or not path.exists():
            return None
        try:
            return move_file(path, rules.mirrored(path, self.inbox, self.move_originals))
        except OSError as err:
            log.error("cannot move %s to %s: %s", path, self.move_originals, err)
            return None


def report_path(out: Path) -> Path:
    """Where the watch folder writes the report of the output ``out``: beside it, ``NAME.report.json``."""
    return out.with_name(out.name + ".report.json")


def _read_no_follow(path: Path) -> bytes:
    """The file's bytes, refusing (ELOOP) if it became a symbolic link since it was checked."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _changed(path: Path, st: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns)
