"""Which browser extensions may call the daemon, and the one-time codes that pair them by hand.

``PairingStore`` keeps the paired extension origins in ``config_dir()/paired-origins.json``.  In memory they
are a set; the file is written atomically and re-read when its mtime changes, so the native host can add an
origin while the daemon runs.

``PairingCodes`` makes short-lived single-use codes (``47815-XXXX-XXXX-XXXX``, the port first so the
extension knows where to send it) for ``artshade pair``; the options page trades one for the token with
``POST /v1/pair``.  Codes are compared in constant time and failed attempts are rate-limited.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from artshade.files import write_json_atomic
from artshade.paths import config_dir

_CHROME = re.compile(r"chrome-extension://[a-p]{32}")
_FIREFOX = re.compile(r"moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise_origin(origin: str) -> str | None:
    """The canonical form of a browser-extension origin, or None if ``origin`` is not one."""
    if not isinstance(origin, str):
        return None
    candidate = origin.strip().rstrip("/")
    scheme, sep, rest = candidate.partition("://")
    if not sep:
        return None
    candidate = f"{scheme.lower()}://{rest.lower()}"
    if _CHROME.fullmatch(candidate) or _FIREFOX.fullmatch(candidate):
        return candidate
    return None


def is_extension_origin(origin: str) -> bool:
    return normalise_origin(origin) is not None


def default_store_path() -> Path:
    return config_dir() / "paired-origins.json"


class PairingStore:
    """The set of paired extension origins, persisted as ``{"origins": [...]}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_store_path()
        self._lock = threading.Lock()
        self._origins: set[str] = set()
        self._stamp: tuple[int, int] | None = None

    def origins(self) -> set[str]:
        with self._lock:
            self._refresh()
            return set(self._origins)

    def __contains__(self, origin: object) -> bool:
        if not isinstance(origin, str):
            return False
        normal = normalise_origin(origin)
        return normal is not None and normal in self.origins()

    def add(self, origin: str) -> str:
        """Pair ``origin`` (normalised); raises ValueError if it is not an extension origin."""
        normal = normalise_origin(origin)
        if normal is None:
            raise ValueError(f"not a browser-extension origin: {origin!r}")
        with self._lock:
            self._refresh()
            if normal not in self._origins:
                self._save(self._origins | {normal})
        return normal

    def remove(self, origin: str) -> None:
        normal = normalise_origin(origin) or origin
        with self._lock:
            self._refresh()
            if normal in self._origins:
                self._save(self._origins - {normal})

    # -- storage edge ------------------------------------------------------------------------------------

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._origins = self._load()
        self._stamp = stamp

    def _load(self) -> set[str]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        items = value.get("origins", []) if isinstance(value, dict) else []
        return {n for n in (normalise_origin(i) for i in items if isinstance(i, str)) if n}

    def _save(self, origins: set[str]) -> None:
        write_json_atomic(self.path, {"origins": sorted(origins)})
        self._origins = set(origins)
        self._stamp = self._stat()


# -- one-time pairing codes ------------------------------------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
CODE_LIFETIME_S = 600.0


@dataclass(frozen=True)
class PairingCode:
    code: str
    expires: float  # time.time()


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many pairing attempts; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class PairingCodes:
    """Issued codes, kept in memory only: single use, valid ``lifetime`` seconds."""

    def __init__(
        self,
        *,
        lifetime: float = CODE_LIFETIME_S,
        max_failures: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifetime = lifetime
        self._max_failures = max_failures
        self._window = window
        self._clock = clock
        self._codes: list[PairingCode] = []
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def issue(self, port: int) -> PairingCode:
        """A new code for the daemon listening on ``port`` (the port leads the code)."""
        groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3)]
        code = PairingCode(f"{port}-{'-'.join(groups)}", self._clock() + self._lifetime)
        with self._lock:
            self._expire()
            self._codes.append(code)
        return code

    def redeem(self, code: str) -> bool:
        """True (and the code is spent) if ``code`` is a live issued code; raises RateLimited when flooded."""
        attempt = normalise_code(code).encode()
        with self._lock:
            now = self._clock()
            while self._failures and self._failures[0] <= now - self._window:
                self._failures.popleft()
            if len(self._failures) >= self._max_failures:
                raise RateLimited(self._failures[0] + self._window - now)
            self._expire()
            match = None
            for issued in self._codes:  # compare against every code, in constant time each
                if hmac.compare_digest(issued.code.encode(), attempt):
                    match = issued
            if match is None:
                self._failures.append(now)
                return False
            self._codes.remove(match)
            return True

    def _expire(self) -> None:
        now = self._clock()
        self._codes = [c for c in self._codes if c.expires > now]


def normalise_code(code: object) -> str:
    """Upper-case, trimmed, spaces to dashes: what a person may type for ``47815-ABCD-EFGH-JKLM``."""
    if not isinstance(code, str):
        return ""
    return re.sub(r"[\s-]+", "-", code.strip().upper()).strip("-")[:64]
