"""The watch folder's few disk operations, each safe against crashes and never overwriting a user's file.

* ``write_new`` is ``artshade.files.write_atomic`` without overwriting: the hidden temp file
  (``.artshade-tmp-*``) is linked into place, which fails instead of replacing a file that appeared meanwhile.
* ``move_file`` moves an original only to a free name; across filesystems it writes a complete copy first, so
  the original is removed only once the copy exists.
* ``clean_temp_files`` removes the temp files a crash left behind (run at start).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from artshade.files import fsync_folder, is_temp_name, write_atomic

from .rules import unique_path


def write_new(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` all at once: readers see nothing or the complete file, never a part.

    Raises FileExistsError if ``path`` exists, unless ``replace`` (for files the watcher owns).
    """
    write_atomic(path, data, overwrite=replace, parents=0o777)


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
            try:
                return _copy_then_remove(src, dst)
            except FileExistsError:
                continue
        os.unlink(src)
        fsync_folder(dst.parent)
        fsync_folder(src.parent)
        return dst


def _copy_then_remove(src: Path, dst: Path) -> Path:
    write_atomic(dst, src.read_bytes(), overwrite=False)
    with contextlib.suppress(OSError):
        shutil.copystat(src, dst)
    os.unlink(src)
    return dst


def clean_temp_files(root: Path) -> list[Path]:
    """Delete the watcher's temp files under ``root`` (left by a crash); returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if is_temp_name(name):
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
