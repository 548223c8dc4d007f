"""The project's one way to write a file, to ask whether two paths are the same file, and to hash one.

``write_atomic`` writes a hidden temp file beside the target (``.artshade-tmp-<random>-<name>.part``), flushes
it to disk, then moves it into place: readers see the old file or the complete new one, never a part, and on
any failure (or an interrupt) the temp file is removed and the target is left as it was.

- ``overwrite=False`` never replaces a file: the temp file is hard-linked into place, which fails if the
  name was taken meanwhile (FileExistsError).  Only where the filesystem has no hard links (FAT, some network
  shares) does it fall back to check-then-rename.
- ``mode`` sets the permissions exactly (0o600 for private state, 0o755 for a launcher); without it a file
  that is replaced keeps its mode and a new one gets the default (0o666 less the umask).
- ``forbid`` names paths that must never be written (the artist's originals), however they are spelled or
  linked: :func:`same_file`.
- ``parents`` creates missing folders with that mode; without it a missing folder is refused.

Refusals (a forbidden path, empty data, a folder as target, a missing folder) raise ``OutputError``; the disk
failing raises ``OSError``.  Nothing here imports the engine.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputError

StrPath = str | os.PathLike[str]

#: prefix and suffix of every temp file this module makes (so a crash's leftovers can be recognised).
TEMP_PREFIX = ".artshade-tmp-"
TEMP_SUFFIX = ".part"

#: errors from os.link that mean "this filesystem has no hard links", not "the name is taken".
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.EACCES}
)


def same_file(a: StrPath, b: StrPath) -> bool:
    """True if ``a`` and ``b`` name the same file: same inode when both exist (hard links, symlinks, ``..``),
    else the same real path (for a file that does not exist yet)."""
    first, second = Path(a).expanduser(), Path(b).expanduser()
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:
        pass
    return os.path.normcase(os.path.realpath(first)) == os.path.normcase(os.path.realpath(second))


def temp_path(path: Path) -> Path:
    """A fresh hidden temp name beside ``path``."""
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def fsync_folder(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(
    path: StrPath,
    data: bytes,
    *,
    mode: int | None = None,
    overwrite: bool = True,
    forbid: Iterable[StrPath] = (),
    parents: int | None = None,
) -> None:
    """Write ``data`` to ``path`` all at once (see the module docstring)."""
    target = Path(path)
    for original in forbid:
        if same_file(target, original):
            raise OutputError(
                f"refusing to overwrite the original {Path(original).name}; choose another output"
            )
    if not data:
        raise OutputError("nothing to write: the data is empty")
    folder = target.parent
    if parents is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=parents)
    elif not folder.is_dir():
        raise OutputError(f"the output folder does not exist: {folder}")
    if target.is_dir():
        raise OutputError(f"the output is a folder, not a file: {target}")
    if mode is None and overwrite:
        with contextlib.suppress(OSError):
            st = target.stat()
            if stat.S_ISREG(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    tmp: Path | None = None
    try:
        for _ in range(100):
            candidate = temp_path(target)
            try:
                fd = os.open(candidate, flags, 0o600 if mode is not None else 0o666)  # umask applies
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, target)
            tmp = None
        else:
            _link_new(tmp, target)
        fsync_folder(folder)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _link_new(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target`` unless something is there already (FileExistsError)."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "file exists", str(target))
    os.replace(tmp, target)


def write_json_atomic(
    path: StrPath, value: object, *, mode: int = 0o600, parents: int | None = 0o700
) -> None:
    """``value`` as indented, sorted JSON, written atomically (private by default)."""
    import json

    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=mode, parents=parents)


def sha256_file(path: StrPath) -> str:
    """The sha256 (hex) of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
