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

A settings file that is not valid JSON or holds a bad value *refuses its folder* (and its subfolders): their
pictures are left untouched until the file is fixed, and one clear line says why.  Falling back to the global
settings would hand out pictures protected differently from what the artist asked for (fail closed).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from artshade.shading.settings import Settings

from artshade.errors import SettingsError

from .folder_guards import check_inside
from .watch_rules import SETTINGS_FILE

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


#: names a per-folder file may not set: they belong to the artist at the machine (``daemon.powers``).
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
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            text = handle.read().decode("utf-8")
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

    def __init__(self, inbox: Path, base: Settings, target_roots: tuple[Path, ...] = ()) -> None:
        self.inbox = inbox
        self.base = base
        self.roots = target_roots or (inbox,)
        self._cache: dict[Path, tuple[tuple[int, int], Settings, Settings]] = {}

    def for_folder(self, folder: Path) -> Settings:
        """Settings for pictures directly in ``folder`` (inside the inbox)."""
        chain = [self.inbox, *(self.inbox / p for p in _prefixes(folder.relative_to(self.inbox)))]
        settings = self.base
        for level in chain:
            settings = self._apply(level / SETTINGS_FILE, settings)
        return settings

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
