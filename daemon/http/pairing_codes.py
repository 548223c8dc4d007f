"""One-time codes that pair a browser extension by hand.

``PairingCodes`` makes short-lived single-use codes (``47815-XXXX-XXXX-XXXX``, the port first so the
extension knows where to send it) for ``artshade pair``; the options page trades one for the token with
``POST /v1/pair``.  Codes are compared in constant time and failed attempts are rate-limited.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

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
    """Issued codes, kept in memory only: single use, valid ``lifetime`` seconds.

    Wrong guesses are limited per extension origin (``max_failures`` per ``window``): one origin guessing
    does not lock the real extension out.  A code carries 60 random bits and lives ten minutes, so guessing
    from many origins at once gets nowhere either; the origins tracked are bounded (``max_origins``)."""

    def __init__(
        self,
        *,
        lifetime: float = CODE_LIFETIME_S,
        max_failures: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_origins: int = 1024,
    ) -> None:
        self._max_origins = max_origins
        self._lifetime = lifetime
        self._max_failures = max_failures
        self._window = window
        self._clock = clock
        self._codes: list[PairingCode] = []
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def issue(self, port: int) -> PairingCode:
        """A new code for the daemon listening on ``port`` (the port leads the code)."""
        groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3)]
        code = PairingCode(f"{port}-{'-'.join(groups)}", self._clock() + self._lifetime)
        with self._lock:
            self._expire()
            self._codes.append(code)
        return code

    def redeem(self, code: str, origin: str = "") -> bool:
        """True (and the code is spent) if ``code`` is a live issued code; raises RateLimited when ``origin``
        has guessed wrong too often lately."""
        attempt = normalise_code(code).encode()
        with self._lock:
            now = self._clock()
            for key in list(self._failures):
                times = self._failures[key]
                while times and times[0] <= now - self._window:
                    times.popleft()
                if not times:
                    del self._failures[key]
            failures = self._failures.get(origin, deque())
            if len(failures) >= self._max_failures:
                raise RateLimited(failures[0] + self._window - now)
            self._expire()
            match = None
            for issued in self._codes:  # compare against every code, in constant time each
                if hmac.compare_digest(issued.code.encode(), attempt):
                    match = issued
            if match is None:
                if origin not in self._failures and len(self._failures) >= self._max_origins:
                    del self._failures[next(iter(self._failures))]  # the origin tracked longest
                self._failures.setdefault(origin, deque()).append(now)
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
