"""The watch folder's few disk operations, each safe against crashes and never overwriting a user's file.

* ``write_new`` writes a hidden temp file beside the target (``.artshade-tmp-*``), flushes it to disk, then
  links it into place, which fails instead of replacing a file that appeared meanwhile.  Only where the
  filesystem has no hard links (FAT, some network shares) does it fall back to check-then-rename.
* ``move_file`` moves an original only to a free name; across filesystems it copies to a temp file first,
  so the original is removed only once a complete copy exists.
* ``clean_temp_files`` removes the temp files a crash left behind (run at start).

The engine's ``shading.io.write_atomic`` replaces whatever is at the target; the watcher needs the
no-overwrite variant and temp names it can recognise and clean, hence this module.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

from .watch_rules import TEMP_PREFIX, unique_path


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{path.name}")


def _link_or_rename(tmp: Path, path: Path, *, replace: bool) -> None:
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # FileExistsError if the name was taken meanwhile
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in {
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.EMLINK,
            errno.EACCES,
        }:
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)


def write_new(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` all at once: readers see nothing or the complete file, never a part.

    Raises FileExistsError if ``path`` exists, unless ``replace`` (for files the watcher owns).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _link_or_rename(tmp, path, replace=replace)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def move_file(src: Path, wanted: Path) -> Path:
    """Move ``src`` to ``wanted`` or, if taken, ``wanted (1)``...; returns where it went."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    while True:
        dst = unique_path(wanted)
        try:
            os.link(src, dst)
        except FileExistsError:
            continue
        except OSError:
            return _copy_then_remove(src, dst)
        os.unlink(src)
        _fsync_dir(dst.parent)
        _fsync_dir(src.parent)
        return dst


def _copy_then_remove(src: Path, dst: Path) -> Path:
    tmp = _temp_beside(dst)
    try:
        shutil.copy2(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _link_or_rename(tmp, dst, replace=False)
        _fsync_dir(dst.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    os.unlink(src)
    return dst


def clean_temp_files(root: Path) -> list[Path]:
    """Delete the watcher's temp files under ``root`` (left by a crash); returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
