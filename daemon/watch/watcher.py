"""The watch folder: pictures dropped into an inbox come back shaded in an outbox, and nothing is ever lost.

Use it alone (``artshade watch``) or from the daemon::

    watcher = FolderWatcher(inbox, outbox, settings, runner=my_runner)
    watcher.start()          # catch-up scan, then watch (threads; returns at once)
    ...
    watcher.stop()           # finishes or cancels the current picture, then returns

    FolderWatcher(inbox, outbox, settings).scan_once()   # what is there now, then return (``--once``)

``settings`` are the watcher's base settings (global defaults plus whatever the caller chose); per-folder
``.artshade.json`` files override them (see ``daemon.watch.folder_settings``).  ``runner`` shades one picture;
the default calls the engine in this process; the daemon passes one that submits to its queue at ``"batch"``
priority.  ``on_file`` gets a ``FileOutcome`` for every picture handled (the CLI prints them); ``on_start``
gets the path of each picture just before it is shaded (the CLI shows its progress).

How a file is handled, in the watcher's single worker thread:

1. taken only when complete: its size and mtime are unchanged for ``stable_window`` seconds and it opens as
   an image (a truncated picture whose size still changes waits; one that stays truncated fails);
2. hidden and temporary files, the watcher's own folders and non-images are ignored (non-images logged);
   a symbolic link in the inbox (a file, or a folder on the way to one) is never followed, only reported;
3. key = sha256(content) + the settings' fingerprint (with the engine version).  A key already done is a
   *duplicate*: recorded as such, with no second shading and no second copy in the outbox (the protected
   picture is already there, under the first name; only if that output was taken out of the outbox is a
   new drop shaded again).  A file handled before (same path, size and mtime, or same path and content)
   is skipped even if the settings changed since: new settings apply to what arrives next;
4. the output name (same name and format, mirrored subfolders, `` (1)`` on collision) is reserved in the
   state file, the picture is shaded, the output written to a hidden temp file and linked into place, and
   only then is the job recorded done.  After a crash the job still ``in_progress`` is redone into the same
   reserved name, and temp files are removed at start: no partial or zero-byte outputs;
5. a failure leaves the original where it is and writes one line to ``outbox/errors/<sub>/<NAME>.txt``; a
   bad picture is not retried until its content changes, a passing failure (engine, disk) on next start;
6. originals are never modified; with ``move_originals`` they are moved there (mirrored) once the output is
   safely on disk.

The folders themselves pass ``daemon.watch.folder_guards.require_watch_layout`` (no links, no nesting, no
system folders).  One watcher per (inbox, outbox) at a time (a lock beside the state file; a second gets
SettingsError).
The state file defaults to ``data_dir()/watch/<hash of the two folders>.sqlite3``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from artshade.shading.settings import Settings
from watchdog.events import FileSystemEventHandler

from artshade.errors import Cancelled, InputError, NotAnImageError, SettingsError, ShadingError

from . import rules
from .files import clean_temp_files, move_file, write_new
from .folder_guards import check_not_a_link, check_not_system, link_on_the_way, require_watch_layout
from .folder_settings import FolderSettings, FolderSettingsError
from .state import WatchState, job_key

if TYPE_CHECKING:
    from artshade.shading.api import BytesResult
    from artshade.shading.io import Limits

log = logging.getLogger("artshade.watch")

DEFAULT_STABLE_WINDOW = 1.0
DEFAULT_POLL_INTERVAL = 0.25


class Runner(Protocol):
    """Shades one picture; blocking, called from the watcher's worker thread."""

    def run(self, data: bytes, settings: Settings, *, priority: str) -> BytesResult: ...


class EngineRunner:
    """The default runner: the engine, in this process.  ``cancel()`` aborts the picture in progress and
    any later one until ``reset()`` (the watcher calls it when it starts)."""

    def __init__(
        self,
        models_dir: Path | None = None,
        limits: Limits | None = None,
        on_progress: Callable[[float, str], None] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.limits = limits
        self.on_progress = on_progress
        self._cancel = threading.Event()

    def run(self, data: bytes, settings: Settings, *, priority: str = "batch") -> BytesResult:
        from artshade import shading

        def progress(fraction: float, stage: str) -> None:
            if self._cancel.is_set():
                raise Cancelled("the watcher is stopping")
            if self.on_progress is not None:
                self.on_progress(fraction, stage)

        return shading.protect_bytes(
            data, settings, models_dir=self.models_dir, progress=progress, limits=self.limits
        )

    def cancel(self) -> None:
        self._cancel.set()

    def reset(self) -> None:
        self._cancel.clear()


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file.  ``outcome``: shaded, duplicate, failed, ignored, held (its folder's
    settings file is bad) or retry (a passing failure; tried again on next start)."""

    source: Path
    outcome: str
    output: Path | None = None
    message: str = ""
    seconds: float = 0.0

    def line(self, inbox: Path) -> str:
        rel = (
            self.source.relative_to(inbox).as_posix()
            if rules.is_within(self.source, inbox)
            else str(self.source)
        )
        if self.outcome == "shaded":
            return f"shaded     {rel} -> {self.output} ({self.seconds:.1f} s)"
        if self.outcome == "duplicate":
            return f"duplicate  {rel}: same picture already shaded as {self.output}"
        return f"{self.outcome:<10} {rel}: {self.message}"


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def failed(self) -> int:
        return sum(self.counts.get(k, 0) for k in ("failed", "held", "retry"))

    def line(self) -> str:
        order = ("shaded", "duplicate", "failed", "retry", "held", "ignored")
        parts = [f"{self.counts[k]} {k}" for k in order if self.counts.get(k)]
        return ", ".join(parts) if parts else "nothing to do"


@dataclass
class _Watch:
    first_seen: float
    since: float
    sig: tuple[int, int] | None = None


def default_folders() -> tuple[Path, Path]:
    """``<Pictures>/artshade/inbox`` and ``<Pictures>/artshade/protected``."""
    from artshade.paths import pictures_dir

    base = pictures_dir() / "artshade"
    return base / "inbox", base / "protected"


def default_state_path(inbox: Path, outbox: Path) -> Path:
    """One state file per (inbox, outbox) pair, in the user data folder."""
    from artshade.paths import data_dir

    tag = hashlib.sha256(f"{inbox}\0{outbox}".encode()).hexdigest()[:16]
    return data_dir() / "watch" / f"{tag}.sqlite3"


class FolderWatcher:
    def __init__(
        self,
        inbox: Path,
        outbox: Path,
        settings: Settings,
        *,
        runner: Runner | None = None,
        state_path: Path | None = None,
        move_originals: Path | None = None,
        stable_window: float = DEFAULT_STABLE_WINDOW,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        limits: Limits | None = None,
        models_dir: Path | None = None,
        on_file: Callable[[FileOutcome], None] | None = None,
        target_folder: Path | None = None,
        on_start: Callable[[Path], None] | None = None,
    ) -> None:
        self.inbox = _folder(inbox)
        self.outbox = _folder(outbox)
        self.move_originals = _folder(move_originals) if move_originals else None
        self.target_folder = _folder(target_folder) if target_folder else None
        _check_layout(self.inbox, self.outbox, self.move_originals, self.target_folder)
        self.settings = settings
        self.limits = limits or _default_limits()
        self.runner: Runner = runner or EngineRunner(models_dir, self.limits)
        self.state_path = (state_path or default_state_path(self.inbox, self.outbox)).expanduser().resolve()
        self.stable_window = stable_window
        self.poll_interval = poll_interval
        self.on_file = on_file
        self.on_start = on_start
        self.summary = Summary()
        self.folder_settings = self._folder_settings(settings)
        self._excluded: list[Path | None] = [self.outbox, self.move_originals]
        self._state_files = {
            self.state_path.with_name(self.state_path.name + s) for s in ("", "-wal", "-shm", "-journal")
        }
        self._state: WatchState | None = None
        self._pending: dict[Path, _Watch] = {}
        self._held: set[Path] = set()
        self._bad_settings_reported: set[tuple[Path, str]] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._observer: Any = None
        self._file_lock: Any = None
        self._batch_left = 0

    # -- public -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Catch up on what arrived while nobody watched, then watch (in threads; returns at once)."""
        self._prepare()
        self._stop.clear()
        self._observer = self._observe()  # before the scan, so nothing arriving during it is missed
        self._scan_tree(self.inbox)
        self._worker = threading.Thread(target=self._loop, name="artshade-watch", daemon=True)
        self._worker.start()
        log.info("watching %s -> %s", self.inbox, self.outbox)

    def _observe(self) -> Any:
        """The OS's file events; where they are unavailable (inotify limits, some network shares), polling."""
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        try:
            observer = Observer()
            observer.schedule(_Handler(self), str(self.inbox), recursive=True)
            observer.daemon = True
            observer.start()
            return observer
        except OSError as err:
            log.warning(
                "file events unavailable for %s (%s); checking the folder every few seconds", self.inbox, err
            )
        observer = PollingObserver(timeout=2)
        observer.schedule(_Handler(self), str(self.inbox), recursive=True)
        observer.daemon = True
        observer.start()
        return observer

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; the picture in progress is cancelled if the runner can, else finished."""
        self._stop.set()
        cancel = getattr(self.runner, "cancel", None)
        if callable(cancel):
            cancel()
        with self._cond:
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        self._release()

    def scan_once(self) -> Summary:
        """Handle every picture in the inbox now (waiting for each to be complete), then return."""
        self._prepare()
        self._stop.clear()
        self._scan_tree(self.inbox)
        try:
            while not self._stop.is_set():
                with self._cond:
                    if not self._pending:
                        break
                if not self._work_ready():
                    self._stop.wait(self.poll_interval)
        finally:
            self._release()
        return self.summary

    def backlog(self) -> int:
        """Files seen but not handled yet (waiting to be complete, or queued behind the current one)."""
        with self._cond:
            return len(self._pending) + self._batch_left

    def idle(self) -> bool:
        """True when no file is waiting (tests and the daemon's status use it)."""
        with self._cond:
            return not self._pending and not self._busy

    def notice(self, path: Path) -> None:
        """(Re)consider ``path``: it is taken once stable.  Called by the observer and the scans."""
        path = Path(os.path.abspath(path))
        if path.name == rules.SETTINGS_FILE:
            self._settings_changed()
            return
        if self._ignored(path):
            return
        now = time.monotonic()
        with self._cond:
            w = self._pending.get(path)
            if w is None:
                self._pending[path] = _Watch(first_seen=now, since=now)
            else:
                w.since = now
            self._cond.notify_all()

    def forget(self, path: Path) -> None:
        with self._cond:
            self._pending.pop(Path(os.path.abspath(path)), None)

    # -- loop ---------------------------------------------------------------------------------------------

    _busy = False

    def _prepare(self) -> None:
        for folder in (self.inbox, self.outbox, self.move_originals):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        self._lock_state()
        reset = getattr(self.runner, "reset", None)
        if callable(reset):
            reset()
        for root in (self.outbox, self.move_originals):
            if root is not None:
                for path in clean_temp_files(root):
                    log.info("removed a temp file left by a crash: %s", path)
        if self._state is None:
            self._state = WatchState(self.state_path)
        self.folder_settings = self._folder_settings(self.settings)

    def _folder_settings(self, settings: Settings) -> FolderSettings:
        return FolderSettings(
            self.inbox,
            settings,
            self._target_roots(),
            snapshots=self.state_path.parent / "targets",
            max_target_bytes=self.limits.max_bytes,
        )

    def _target_roots(self) -> tuple[Path, ...]:
        """Where a ``.artshade.json`` may take a ``target_image`` from: the inbox, and the target folder the
        artist configured at the machine."""
        return (self.inbox, *((self.target_folder,) if self.target_folder else ()))

    def _lock_state(self) -> None:
        """One watcher per (inbox, outbox): a second one (daemon and CLI at once) is refused."""
        if self._file_lock is not None:
            return
        from filelock import FileLock, Timeout

        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.state_path) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SettingsError(
                f"another artshade watcher is already shading {self.inbox} into {self.outbox}"
            ) from None
        self._file_lock = lock

    def _release(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._work_ready():
                with self._cond:
                    self._cond.wait(self.poll_interval)

    def _work_ready(self) -> bool:
        ready = self._ready()  # sets _busy when it returns something
        try:
            for n, path in enumerate(ready):
                if self._stop.is_set():
                    break
                with self._cond:
                    self._batch_left = len(ready) - n - 1
                try:
                    self._handle(path)
                except Exception:  # one file never stops the others
                    log.exception("unexpected error with %s", path)
                    self._report(FileOutcome(path, "retry", message="unexpected error (see the log)"))
        finally:
            with self._cond:
                self._busy = False
                self._batch_left = 0
        return bool(ready)

    def _ready(self) -> list[Path]:
        """Paths unchanged for the stable window, oldest first; drops vanished ones."""
        now = time.monotonic()
        ready: list[tuple[float, Path]] = []
        with self._cond:
            for path, w in list(self._pending.items()):
                try:
                    st = path.lstat()
                except OSError:
                    del self._pending[path]
                    continue
                if stat.S_ISLNK(st.st_mode):  # never followed; _handle says so once
                    ready.append((w.first_seen, path))
                    del self._pending[path]
                    continue
                if not stat.S_ISREG(st.st_mode):
                    del self._pending[path]
                    continue
                sig = (st.st_size, st.st_mtime_ns)
                if sig != w.sig:
                    w.sig, w.since = sig, now
                elif now - w.since >= self.stable_window:
                    ready.append((w.first_seen, path))
                    del self._pending[path]
            self._busy = bool(ready)
        return [p for _, p in sorted(ready)]

    def _scan_tree(self, root: Path) -> None:
        for path in self._walk(root):
            self.notice(path)

    def _walk(self, root: Path) -> Iterator[Path]:
        for folder, dirs, files in os.walk(root):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not self._ignored(here / d))
            for name in sorted(files):
                yield here / name

    def _ignored(self, path: Path) -> bool:
        if path in self._state_files:
            return True
        return rules.ignore_reason(path, self.inbox, self._excluded) is not None

    def _settings_changed(self) -> None:
        """A ``.artshade.json`` changed: pictures held for a bad one get another chance."""
        with self._cond:
            held, self._held = self._held, set()
        self._bad_settings_reported.clear()
        for path in held:
            self.notice(path)

    # -- one file -----------------------------------------------------------------------------------------

    @property
    def state(self) -> WatchState:
        if self._state is None:
            raise RuntimeError("the watcher is not running")
        return self._state

    def _handle(self, path: Path) -> None:
        if self._ignored(path):
            return
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
            self.notice(path)  # still being written
            return
        sha = hashlib.sha256(data).hexdigest()
        if known and known.content_sha256 == sha:
            self.state.record_source(rel, st.st_size, st.st_mtime_ns, sha, known.job_key, known.outcome)
            self._after_known(path, known.outcome)
            return
        try:
            settings = self.folder_settings.for_folder(path.parent)
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
                self.notice(path)
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
        if self.on_start is not None:
            self.on_start(path)
        try:
            result = self.runner.run(data, settings, priority="batch")
            if not result.data:
                raise ShadingError("the engine returned an empty picture")
        except Cancelled as err:
            if self._stop.is_set():
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
        sha = _sha256_file(path)
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
        with self._cond:
            self._held.add(path)
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

    def _report(self, outcome: FileOutcome) -> None:
        self.summary.add(outcome.outcome)
        level = logging.WARNING if outcome.outcome in {"failed", "retry", "held"} else logging.INFO
        log.log(level, "%s", outcome.line(self.inbox))
        if self.on_file is not None:
            self.on_file(outcome)


def report_path(out: Path) -> Path:
    """Where the watch folder writes the report of the output ``out``: beside it, ``NAME.report.json``."""
    return out.with_name(out.name + ".report.json")


class _Handler(FileSystemEventHandler):
    """watchdog events -> ``FolderWatcher.notice`` (created, modified, closed, moved in)."""

    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__()
        self.watcher = watcher

    def dispatch(self, event: Any) -> None:
        kind = event.event_type
        if kind in {"opened", "closed_no_write"}:
            return
        if kind == "deleted":
            self.watcher.forget(Path(os.fsdecode(event.src_path)))
            return
        if kind == "moved":
            self.watcher.forget(Path(os.fsdecode(event.src_path)))
            target = Path(os.fsdecode(event.dest_path))
        else:
            target = Path(os.fsdecode(event.src_path))
        if event.is_directory:
            if kind in {"created", "moved"} and target.is_dir():
                self.watcher._scan_tree(target)
            return
        self.watcher.notice(target)


def _folder(path: Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def _check_layout(inbox: Path, outbox: Path, move_to: Path | None, target_folder: Path | None) -> None:
    """The same folder rules for the command line and the daemon (``daemon.watch.folder_guards``)."""
    require_watch_layout(inbox, outbox, target_folder)
    if move_to is not None:
        if move_to in {inbox, outbox} or rules.is_within(inbox, move_to):
            raise SettingsError("--move-originals must be a folder other than the inbox and the outbox")
        for verdict in (
            check_not_a_link(move_to, "originals folder"),
            check_not_system(move_to, "originals folder"),
        ):
            if not verdict:
                raise SettingsError(verdict.reason)


def _read_no_follow(path: Path) -> bytes:
    """The file's bytes, refusing (ELOOP) if it became a symbolic link since it was checked."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _default_limits() -> Limits:
    from artshade.shading.io import Limits

    return Limits()


def _changed(path: Path, st: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
