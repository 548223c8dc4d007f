"""glibc's allocator, set for the engine's large, short-lived buffers.

One encoder pass allocates and frees feature maps of tens of megabytes (the first block of a 512x640 view
holds 84 MB).  glibc serves every block over 32 MB (the most its dynamic threshold reaches) with a fresh
``mmap`` and unmaps it when it is freed, and the kernel zero-fills every page of a new mapping on first
touch: on a 2-core CPU a fifth to a third of each forward and backward pass went to those page faults.
:func:`keep_freed_memory` has glibc serve such blocks from its heap, from one arena for every thread (the
daemon's engine runs in a thread of its own), and keep what is freed for the next pass;
:func:`give_back` returns what is kept to the system once a piece of work is done, so an idle daemon holds
only what it uses.  The engine's output is the same byte for byte.

Both do nothing off glibc (macOS, Windows, musl), and :func:`keep_freed_memory` does nothing when the user
set glibc's allocator themselves (``GLIBC_TUNABLES`` or a ``MALLOC_*`` variable) or preloads another
allocator: their choice wins.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8

#: freed memory glibc may keep at the top of its heap between passes; ``give_back`` returns it after a job
KEEP_BYTES = 1 << 30

_SETTINGS = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, KEEP_BYTES), (M_ARENA_MAX, 1))


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return None
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except (ValueError, OSError, AttributeError):  # no such confstr name (musl), or no glibc to load
        return None


def users_own_choice(environ: Mapping[str, str]) -> str | None:
    """The variable through which the user set the allocator themselves, if any."""
    for name in sorted(environ):
        if name == "GLIBC_TUNABLES" or name.startswith("MALLOC_"):
            return name
    if "malloc" in environ.get("LD_PRELOAD", ""):  # libjemalloc.so, libtcmalloc.so, libmimalloc.so ...
        return "LD_PRELOAD"
    return None


def keep_freed_memory(environ: Mapping[str, str] | None = None) -> bool:
    """Set glibc to keep freed memory for the next pass (process-wide; call it first thing, before any
    thread starts).  True if it was set."""
    own = users_own_choice(os.environ if environ is None else environ)
    if own is not None:
        log.debug("allocator left as %s sets it", own)
        return False
    libc = _glibc()
    if libc is None:
        return False
    done = [libc.mallopt(param, value) == 1 for param, value in _SETTINGS]
    if not all(done):
        log.debug("mallopt refused some settings: %s", done)
    return all(done)


def give_back() -> None:
    """Return the memory glibc keeps (freed, unused) to the system; cheap (tens of milliseconds)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
