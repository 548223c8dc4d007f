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

How a file is handled, in the watcher's single worker thread (step 1 here; the rest, what becomes of a
picture, in ``daemon.watch.pictures``):

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

import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artshade.shading.settings import Settings
from watchdog.events import FileSystemEventHandler

from artshade.errors import SettingsError

from . import rules
from .files import clean_temp_files
from .folder_guards import check_not_a_link, check_not_system, require_watch_layout
from .folder_settings import FolderSettings
from .outcomes import FileOutcome, Summary
from .pictures import Pictures
from .runner import EngineRunner, Runner
from .state import WatchState

if TYPE_CHECKING:
    from artshade.shading.io import Limits

log = logging.getLogger("artshade.watch")

DEFAULT_STABLE_WINDOW = 1.0
DEFAULT_POLL_INTERVAL = 0.25


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
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._observer: Any = None
        self._file_lock: Any = None
        self._batch_left = 0
        self.pictures = Pictures(
            self.inbox, self.outbox, move_originals=self.move_originals, limits=self.limits,
            runner=self.runner, state=lambda: self.state,
            settings_for=lambda folder: self.folder_settings.for_folder(folder), report=self._report,
            again=self.notice, hold_back=self._hold_back, stopping=self._stop.is_set, started=self._started,
        )  # fmt: skip

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
                    if not self._ignored(path):
                        self.pictures.handle(path)
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
                if stat.S_ISLNK(st.st_mode):  # never followed; ``Pictures.handle`` says so once
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
        self.pictures.settings_changed()
        for path in held:
            self.notice(path)

    # -- what the pictures report -------------------------------------------------------------------------

    @property
    def state(self) -> WatchState:
        if self._state is None:
            raise RuntimeError("the watcher is not running")
        return self._state

    def _started(self, path: Path) -> None:
        if self.on_start is not None:
            self.on_start(path)

    def _hold_back(self, path: Path) -> None:
        """Keep ``path`` aside until its folder's settings file changes."""
        with self._cond:
            self._held.add(path)

    def _report(self, outcome: FileOutcome) -> None:
        self.summary.add(outcome.outcome)
        level = logging.WARNING if outcome.outcome in {"failed", "retry", "held"} else logging.INFO
        log.log(level, "%s", outcome.line(self.inbox))
        if self.on_file is not None:
            self.on_file(outcome)


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


def _default_limits() -> Limits:
    from artshade.shading.io import Limits

    return Limits()
