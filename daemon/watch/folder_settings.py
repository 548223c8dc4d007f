"""Which settings a file in the inbox is shaded with.

Layers, most general first, each overriding the one before:

1. the global defaults: ``defaults`` of the daemon's settings file (``daemon.config.load_user_settings()``),
   else ``Settings()``;
2. what the watcher was started with (``artshade watch --preset ...``, or the daemon's configuration);
3. ``.artshade.json`` files from the inbox down to the file's own folder, e.g.::

       {"preset": "max", "intensity": "high", "platform": "instagram"}

   Names and values are those of the CLI flags, validated by ``Settings.from_mapping``; a relative
   ``target_image`` is relative to the settings file.  Whoever can write into the inbox can write these
   files (a shared or synced folder), so they get no power over the machine: a ``target_image`` must be a
   file inside the inbox (or the target folder the artist configured at the machine), reached through no
   symbolic link, and machine-level keys (``device``, folders) are refused.  Each refused key is named.
   The target is checked again on *every* picture (:func:`daemon.watch.folder_guards.read_inside`: no link, a
   regular file, size-capped, opened without following links and without blocking), and the engine is
   handed a private copy of the bytes that were checked (``<state folder>/targets/<sha256>``), so swapping
   the file for a link or a FIFO between two pictures, or between the check and the engine's read, gets
   nothing.  A settings file over :data:`MAX_SETTINGS_FILE_BYTES` is refused unread.

A settings file that is not valid JSON or holds a bad value *refuses its folder* (and its subfolders): their
pictures are left untouched until the file is fixed, and one clear line says why.  Falling back to the global
settings would hand out pictures protected differently from what the artist asked for (fail closed).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

from artshade.errors import SettingsError
from artshade.files import write_atomic

from .folder_guards import RefusedFile, check_inside, read_inside
from .rules import SETTINGS_FILE

log = logging.getLogger(__name__)


class FolderSettingsError(SettingsError):
    """A per-folder settings file is unusable; ``.settings_file`` names it."""

    code = "bad_folder_settings"

    def __init__(self, settings_file: Path, reason: str) -> None:
        super().__init__(f"{settings_file}: {reason}; pictures in this folder wait until it is fixed")
        self.settings_file = settings_file


def global_settings() -> Settings:
    """The user's defaults from the daemon's settings file, or built-in defaults if there is none."""
    try:
        config = importlib.import_module("artshade.daemon.config")
    except ModuleNotFoundError as err:
        if err.name != "artshade.daemon.config":
            raise
        return Settings()
    loader = getattr(config, "load_user_settings", None)
    loaded = loader() if loader is not None else None
    if isinstance(loaded, Settings):
        return loaded
    defaults = getattr(loaded, "defaults", None)  # daemon.config.UserSettings
    return defaults if isinstance(defaults, Settings) else Settings()


#: a ``.artshade.json`` holds a few short settings: anything larger is refused before it is read.
MAX_SETTINGS_FILE_BYTES = 64 * 1024

#: names a per-folder file may not set: they belong to the artist at the machine (``daemon.http.powers``).
MACHINE_KEYS = ("device", "inbox", "outbox", "move_originals", "target_folder", "models", "watch_folders")


def refused_keys(values: dict[str, Any], folder: Path, roots: tuple[Path, ...]) -> list[str]:
    """One line per key this file may not set (empty: none)."""
    refused = [
        f"{k!r} (only the artist at the machine may set it, in the settings or on the command line)"
        for k in values
        if k in MACHINE_KEYS
    ]
    target_image = values.get("target_image")
    if target_image not in (None, ""):
        if not isinstance(target_image, str):
            refused.append("'target_image' (must be a file name)")
        else:
            verdict = check_inside(folder / Path(target_image).expanduser(), roots)
            if not verdict:
                refused.append(f"'target_image' ({verdict.reason})")
    return refused


def read_settings_file(path: Path, base: Settings, roots: tuple[Path, ...] = ()) -> Settings:
    """Apply one ``.artshade.json`` on top of ``base``; raise FolderSettingsError if it is unusable.
    ``roots``: the folders a ``target_image`` may come from (the inbox first)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FolderSettingsError(path, "is not a regular file")
            raw = handle.read(MAX_SETTINGS_FILE_BYTES + 1)
        if len(raw) > MAX_SETTINGS_FILE_BYTES:
            raise FolderSettingsError(path, f"is too large (over {MAX_SETTINGS_FILE_BYTES // 1024} KiB)")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FolderSettingsError(path, f"cannot be read ({err})") from None
    try:
        values: Any = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise FolderSettingsError(path, f"is not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(values, dict):
        raise FolderSettingsError(path, 'must hold a JSON object such as {"preset": "max"}')
    refused = refused_keys(values, path.parent, roots or (path.parent,))
    if refused:
        raise FolderSettingsError(path, "refused " + ", refused ".join(refused))
    target_image = values.get("target_image")
    if isinstance(target_image, str) and target_image and not Path(target_image).is_absolute():
        values = {**values, "target_image": str(path.parent / target_image)}
    try:
        return Settings.from_mapping(values, base=base)
    except SettingsError as err:
        raise FolderSettingsError(path, str(err)) from None


class FolderSettings:
    """Resolves (and caches by file size and mtime) the settings of each folder under the inbox."""

    def __init__(
        self,
        inbox: Path,
        base: Settings,
        target_roots: tuple[Path, ...] = (),
        *,
        snapshots: Path | None = None,
        max_target_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.inbox = inbox
        self.base = base
        self.roots = target_roots or (inbox,)
        #: where the checked bytes of folder-named target images are kept for the engine to read
        self.snapshots = snapshots
        self.max_target_bytes = max_target_bytes
        self._cache: dict[Path, tuple[tuple[int, int], Settings, Settings]] = {}

    def for_folder(self, folder: Path) -> Settings:
        """Settings for pictures directly in ``folder`` (inside the inbox); a ``target_image`` a settings
        file named is checked now, and replaced by a private copy of the bytes checked."""
        chain = [self.inbox, *(self.inbox / p for p in _prefixes(folder.relative_to(self.inbox)))]
        settings = self.base
        named_by: Path | None = None
        for level in chain:
            before = settings.target_image
            settings = self._apply(level / SETTINGS_FILE, settings)
            if settings.target_image != before:
                named_by = level / SETTINGS_FILE
        if named_by is not None and settings.target_image is not None:
            settings = settings.replace(target_image=self._checked_target(settings.target_image, named_by))
        return settings

    def _checked_target(self, target: Path, named_by: Path) -> Path:
        try:
            data = read_inside(target, self.roots, self.max_target_bytes)
        except RefusedFile as err:
            raise FolderSettingsError(named_by, f"refused 'target_image' ({err})") from None
        if self.snapshots is None:
            raise FolderSettingsError(named_by, "target images need a state folder to be checked in")
        copy = self.snapshots / (hashlib.sha256(data).hexdigest() + target.suffix.lower()[:8])
        if not copy.is_file() or copy.read_bytes() != data:
            write_atomic(copy, data, mode=0o600, overwrite=True, parents=0o700)
        return copy

    def _apply(self, path: Path, base: Settings) -> Settings:
        try:
            st = path.lstat()
        except FileNotFoundError:
            return base
        except OSError as err:
            raise FolderSettingsError(path, f"cannot be read ({err})") from None
        if stat.S_ISLNK(st.st_mode):
            raise FolderSettingsError(path, "is a symbolic link; links are not followed")
        stamp = (st.st_size, st.st_mtime_ns)
        cached = self._cache.get(path)
        # valid only for the same file and the same base (a file further up may have changed)
        if cached and cached[0] == stamp and cached[1] == base:
            return cached[2]
        settings = read_settings_file(path, base, self.roots)
        self._cache[path] = (stamp, base, settings)
        return settings


def _prefixes(rel: Path) -> list[Path]:
    parts = rel.parts
    return [Path(*parts[: i + 1]) for i in range(len(parts))]
