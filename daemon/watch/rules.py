"""Pure rules of the watch folder: which files it takes, where their outputs go, how names never collide.

Nothing here touches the disk except ``unique_path``, which only asks whether a name is free.  Paths
handed to these helpers are absolute and resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePath

from artshade import files

#: suffixes browsers, editors and copy tools use for files still being written.
TEMP_SUFFIXES = frozenset(
    {".part", ".partial", ".crdownload", ".download", ".opdownload", ".tmp", ".temp", ".swp", ".lock"}
)
#: junk files operating systems drop into folders; ignored without a log line.
JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
#: the per-folder settings file (a dotfile, so never taken as a picture itself).
SETTINGS_FILE = ".artshade.json"
#: prefix of the watcher's own temporary files (hidden, in the folder of the final file).
TEMP_PREFIX = files.TEMP_PREFIX
#: folder of the outbox that explains failures, one ``NAME.txt`` per failed file.
ERRORS_DIR = "errors"

#: extensions that promise a picture; a file named like this that does not open is reported as an error.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff"})
#: canonical extension for each output format the engine returns.
FORMAT_SUFFIX = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif"}
FORMAT_SUFFIXES = {
    "jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "png": {".png"},
    "webp": {".webp"},
    "tiff": {".tif", ".tiff"},
}


def is_hidden_or_temp(name: str) -> bool:
    """A dotfile, an Office lock (``~$x``), an editor backup (``x~``) or a download still in progress."""
    lower = name.lower()
    if not name or name.startswith(".") or name.startswith("~$") or name.endswith("~"):
        return True
    return PurePath(lower).suffix in TEMP_SUFFIXES or lower in JUNK_NAMES


def is_within(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    return path == folder or folder in path.parents


def ignore_reason(path: Path, inbox: Path, excluded: Iterable[Path | None]) -> str | None:
    """Why the watcher must not take ``path`` (None: it may).

    ``excluded`` are the watcher's own folders (outbox, the folder originals move to, the state file's
    folder), which may sit inside the inbox.
    """
    if not is_within(path, inbox) or path == inbox:
        return "outside the inbox"
    for folder in excluded:
        if is_within(path, folder):
            return "the watcher's own output"
    rel = path.relative_to(inbox)
    if any(is_hidden_or_temp(part) for part in rel.parts):
        return "hidden or temporary"
    return None


def mirrored(path: Path, inbox: Path, root: Path) -> Path:
    """Where ``path`` (inside ``inbox``) goes under ``root``, subfolders kept."""
    return root / path.relative_to(inbox)


def error_note_path(path: Path, inbox: Path, outbox: Path) -> Path:
    """``outbox/errors/<sub>/<NAME>.txt`` for a failed ``inbox/<sub>/<NAME>``."""
    rel = path.relative_to(inbox)
    return outbox / ERRORS_DIR / rel.parent / f"{rel.name}.txt"


def output_name(source_name: str, result_format: str) -> str:
    """Same name as the source; only if the engine returned another format does the extension change."""
    stem, suffix = PurePath(source_name).stem, PurePath(source_name).suffix
    if suffix.lower() in FORMAT_SUFFIXES.get(result_format, set()):
        return source_name
    return stem + FORMAT_SUFFIX.get(result_format, suffix)


def candidate_names(name: str) -> Iterable[str]:
    """``a.png``, ``a (1).png``, ``a (2).png`` ..."""
    yield name
    stem, suffix = PurePath(name).stem, PurePath(name).suffix
    n = 1
    while True:
        yield f"{stem} ({n}){suffix}"
        n += 1


def unique_path(wanted: Path, taken: Callable[[Path], bool] | None = None) -> Path:
    """The first of ``wanted``, ``wanted (1)``... that does not exist and is not ``taken`` (reserved)."""
    for name in candidate_names(wanted.name):
        candidate = wanted.with_name(name)
        if not candidate.exists() and not (taken and taken(candidate)):
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover
