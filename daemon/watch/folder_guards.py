"""Which folders a watch folder may use, and which files inside an inbox it may follow.

Each check is a small function returning a :class:`~daemon.verdict.Verdict` (allowed or not, and why) and
logging a refusal; :func:`require_watch_layout` runs them for one watch folder and raises ``SettingsError``
with the first reason.  The daemon's settings validation and ``FolderWatcher`` both use it, so a folder the
command line may not watch cannot be configured through the settings either.

- No symbolic links: an inbox, outbox or target folder that is itself a link is refused (the folder a link
  names can change behind the artist's back), and inside the inbox links are never followed.
- No nesting: the outbox must not be the inbox, inside it, or contain it.
- No system folders (``/``, ``/etc``, ``/usr``, ``C:\\Windows`` ...) and none of artshade's own folders
  (its settings, token, job store and cache).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from artshade.errors import SettingsError

from ..verdict import Verdict

log = logging.getLogger(__name__)

#: folders no watch folder may be, or be inside (the real path is compared).
POSIX_SYSTEM_FOLDERS = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc",
    "/run", "/sbin", "/snap", "/srv", "/sys", "/usr", "/var",
    "/System", "/Library", "/Applications", "/private/etc", "/private/var", "/cores", "/Volumes",
)  # fmt: skip
#: temp folders under the system folders above that are fine (macOS keeps per-user temp in /var/folders).
POSIX_ALLOWED_UNDER_SYSTEM = ("/var/tmp", "/var/folders", "/private/var/folders", "/private/var/tmp")
WINDOWS_SYSTEM_VARIABLES = ("SystemRoot", "windir", "ProgramFiles", "ProgramFiles(x86)", "ProgramData")


def _refuse(check: str, reason: str) -> Verdict:
    log.warning("refused folder: %s check: %s", check, reason)
    return Verdict(False, reason)


def real(path: Path) -> Path:
    return Path(os.path.normcase(os.path.realpath(path)))


def within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or inside it, comparing real paths."""
    inner, outer = real(path), real(folder)
    return inner == outer or outer in inner.parents


def system_folders() -> list[Path]:
    if sys.platform.startswith("win"):
        found = [os.environ.get(v) for v in WINDOWS_SYSTEM_VARIABLES]
        return [Path(f) for f in found if f]
    return [Path(f) for f in POSIX_SYSTEM_FOLDERS]


def own_folders() -> list[Path]:
    """artshade's own state: settings, token, paired extensions, job store, result cache, logs."""
    from artshade import paths

    return [paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()]


def check_not_a_link(path: Path, role: str) -> Verdict:
    if path.is_symlink():
        return _refuse("symlink", f"the {role} {path} is a symbolic link; name the real folder instead")
    return Verdict(True, "not a link")


def check_not_system(path: Path, role: str) -> Verdict:
    resolved = real(path)
    if resolved.parent == resolved:
        return _refuse("system", f"the {role} {path} is the root of a disk")
    temp = not sys.platform.startswith("win") and any(
        within(resolved, Path(ok)) for ok in POSIX_ALLOWED_UNDER_SYSTEM
    )
    for folder in system_folders():
        if within(resolved, folder) and not temp:
            return _refuse("system", f"the {role} {path} is inside the system folder {folder}")
    if real(Path.home()) == resolved:
        return _refuse("system", f"the {role} {path} is the whole home folder; use a folder inside it")
    for folder in own_folders():
        if within(resolved, folder) or within(folder, resolved):
            return _refuse("system", f"the {role} {path} holds artshade's own files ({folder})")
    return Verdict(True, "an ordinary folder")


def check_apart(inbox: Path, outbox: Path) -> Verdict:
    if within(outbox, inbox):
        if real(outbox) == real(inbox):
            return _refuse("layout", f"the outbox {outbox} is the inbox itself; use a folder beside it")
        return _refuse("layout", f"the outbox {outbox} is inside the inbox {inbox}; use a folder beside it")
    if within(inbox, outbox):
        return _refuse("layout", f"the inbox {inbox} is inside the outbox {outbox}")
    return Verdict(True, "separate folders")


def require_watch_layout(inbox: Path, outbox: Path, target_folder: Path | None = None) -> None:
    """Raise SettingsError (one line) unless the folders pass every check above."""
    checks: list[Verdict] = []
    for path, role in ((inbox, "inbox"), (outbox, "outbox"), (target_folder, "target folder")):
        if path is None:
            continue
        if not path.is_absolute():
            raise SettingsError(f"the {role} must be an absolute path, got {str(path)!r}")
        checks += [check_not_a_link(path, role), check_not_system(path, role)]
    checks.append(check_apart(inbox, outbox))
    for verdict in checks:
        if not verdict:
            raise SettingsError(verdict.reason)


def link_on_the_way(path: Path, root: Path) -> Path | None:
    """The first symbolic link among ``path`` and its parents below ``root`` (None: there is none)."""
    rel = path.relative_to(root)
    probe = root
    for part in rel.parts:
        probe = probe / part
        if probe.is_symlink():
            return probe
    return None


def check_inside(path: Path, roots: Iterable[Path]) -> Verdict:
    """``path`` is a regular file inside one of ``roots``, and no symbolic link leads there."""
    roots = list(roots)
    candidate = Path(os.path.abspath(path))
    for root in roots:
        top = Path(os.path.abspath(root))
        if candidate != top and top not in candidate.parents:
            continue
        link = link_on_the_way(candidate, top)
        if link is not None:
            return _refuse("inside", f"{path} goes through the symbolic link {link}")
        if not within(candidate, top):
            return _refuse("inside", f"{path} leads outside {top}")
        if not candidate.is_file():
            return _refuse("inside", f"{path} is not a regular file")
        return Verdict(True, f"inside {top}")
    shown = " or ".join(str(r) for r in roots) or "the inbox"
    return _refuse("inside", f"{path} is outside {shown}")


class RefusedFile(Exception):
    """A file a folder's settings name may not be read; the message is one line saying why."""


def read_inside(path: Path, roots: Iterable[Path], max_bytes: int) -> bytes:
    """The bytes of ``path``, read only if it is a regular file inside one of ``roots`` reached through no
    symbolic link, and at most ``max_bytes`` long.

    Run on every use (what a path names can change between two pictures): the file is opened without
    following a link and without blocking (a FIFO or a device would hang the one engine thread), the open
    file must be a regular file, and the path is checked again after opening so that a parent folder
    swapped for a link meanwhile is caught.  Raises :class:`RefusedFile`."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
    verdict = check_inside(path, roots)  # before opening: a link, a FIFO or a device is never opened
    if not verdict:
        raise RefusedFile(verdict.reason)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise RefusedFile(f"{path} does not exist") from None
    except OSError as err:  # ELOOP: the last part is a symbolic link
        if path.is_symlink():
            raise RefusedFile(f"{path} is a symbolic link; links are not followed") from None
        raise RefusedFile(f"{path} cannot be read ({err.strerror or err})") from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise RefusedFile(f"{path} is not a regular file")
        if st.st_size > max_bytes:
            raise RefusedFile(f"{path} is too large ({st.st_size} bytes; the limit is {max_bytes})")
        verdict = check_inside(path, roots)  # again, now that it is open: no folder on the way became a link
        try:
            same = os.stat(path, follow_symlinks=False)
        except OSError:
            same = None
        if not verdict:
            raise RefusedFile(verdict.reason)
        if same is None or (same.st_dev, same.st_ino) != (st.st_dev, st.st_ino):
            raise RefusedFile(f"{path} changed while it was being read")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RefusedFile(f"{path} is too large (over {max_bytes} bytes)")
    return data
