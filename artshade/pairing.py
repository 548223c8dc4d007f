"""Which browser extensions may call the daemon: the paired-origins file, kept here in the common layer
because the daemon and the native host both read and write it.

``PairingStore`` keeps the paired extension origins in ``config_dir()/paired-origins.json``, and for each
one the extension's own tokens, stored as SHA-256 hashes only.  An extension token opens what a paired
extension may do and nothing more (``daemon.http.powers``); the daemon's own token (``artshade token``) stays
with the artist's command line.  ``artshade unpair`` removes an origin with its tokens and marks it revoked:
the native host then refuses to pair it again on its own (revoked stays revoked), until the artist pairs it by
hand (``artshade pair`` and the code on the options page), which lifts the mark.  The file is written
atomically under a lock (the native host and the daemon both write it) and re-read when it changes, so a
pairing or an unpairing takes effect in a running daemon at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from artshade import ids
from artshade.files import write_json_atomic
from artshade.paths import config_dir


def normalise_origin(origin: str) -> str | None:
    """The canonical form of a browser-extension origin, or None if ``origin`` is not one."""
    if not isinstance(origin, str):
        return None
    candidate = origin.strip().rstrip("/")
    scheme, sep, rest = candidate.partition("://")
    if not sep:
        return None
    candidate = f"{scheme.lower()}://{rest.lower()}"
    if re.fullmatch(ids.CHROME_ORIGIN, candidate) or re.fullmatch(ids.FIREFOX_ORIGIN, candidate):
        return candidate
    return None


def default_store_path() -> Path:
    return config_dir() / "paired-origins.json"


#: tokens kept per extension origin (the newest; pairing again issues another, the oldest is dropped).
TOKENS_PER_ORIGIN = 4


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenEntry:
    origin: str
    sha256: str
    created: float


class PairingStore:
    """The paired extension origins and their hashed tokens, persisted as
    ``{"origins": [...], "tokens": [{"origin", "sha256", "created"}]}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_store_path()
        self._lock = threading.Lock()
        self._origins: set[str] = set()
        self._tokens: list[TokenEntry] = []
        self._revoked: set[str] = set()
        self._stamp: tuple[int, int, int] | None = None

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
        """Pair ``origin`` (normalised; the artist's own act, so a revocation is lifted); raises ValueError
        if it is not an extension origin."""
        normal = _extension_origin(origin)
        with self._writing():
            if normal not in self._origins or normal in self._revoked:
                self._save(self._origins | {normal}, self._tokens, self._revoked - {normal})
        return normal

    def issue_token(self, origin: str, *, unless_revoked: bool = False) -> str:
        """Pair ``origin`` and return a new token for it alone (only its hash is kept).

        ``unless_revoked``: pairing that no one at the machine asked for this time (the native host's):
        refused with :class:`Revoked` for an origin the artist unpaired.  Otherwise (a code the artist
        made and typed) the revocation is lifted."""
        normal = _extension_origin(origin)
        token = secrets.token_urlsafe(32)
        entry = TokenEntry(normal, token_hash(token), time.time())
        with self._writing():
            if unless_revoked and normal in self._revoked:
                raise Revoked(normal)
            mine = [t for t in self._tokens if t.origin == normal][-(TOKENS_PER_ORIGIN - 1) :]
            others = [t for t in self._tokens if t.origin != normal]
            self._save(self._origins | {normal}, [*others, *mine, entry], self._revoked - {normal})
        return token

    def revoked(self) -> set[str]:
        with self._lock:
            self._refresh()
            return set(self._revoked)

    def token_origin(self, token: str) -> str | None:
        """The paired origin ``token`` was issued to, or None.  Every stored hash is compared, each in
        constant time."""
        presented = token_hash(token).encode("ascii")
        with self._lock:
            self._refresh()
            found = None
            for entry in self._tokens:
                if hmac.compare_digest(entry.sha256.encode("ascii"), presented):
                    found = entry.origin
            return found if found in self._origins else None

    def remove(self, origin: str) -> bool:
        """Unpair ``origin`` and revoke its tokens; False if it was not paired."""
        normal = normalise_origin(origin) or origin
        with self._writing():
            if normal not in self._origins and not any(t.origin == normal for t in self._tokens):
                return False
            revoked = self._revoked | ({normal} if normalise_origin(normal) else set())
            self._save(self._origins - {normal}, [t for t in self._tokens if t.origin != normal], revoked)
        return True

    def clear(self) -> set[str]:
        """Unpair every extension; returns the origins that were paired."""
        with self._writing():
            removed = set(self._origins)
            if removed or self._tokens:
                self._save(set(), [], self._revoked | removed | {t.origin for t in self._tokens})
        return removed

    # -- storage edge ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Read-modify-write under this process's lock and a lock file shared with other processes."""
        from filelock import FileLock

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, FileLock(str(self.path.with_name(self.path.name + ".lock")), timeout=10):
            self._stamp = None  # always re-read: another process may have written a moment ago
            self._refresh()
            yield

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        stamp = self._stat()
        if stamp is not None and stamp == self._stamp:
            return
        self._origins, self._tokens, self._revoked = self._load()
        self._stamp = stamp

    def _load(self) -> tuple[set[str], list[TokenEntry], set[str]]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return set(), [], set()
        if not isinstance(value, dict):
            return set(), [], set()
        items = value.get("origins", [])
        origins = {n for n in (normalise_origin(i) for i in _list(items) if isinstance(i, str)) if n}
        tokens = []
        for item in _list(value.get("tokens", [])):
            if not isinstance(item, dict):
                continue
            origin, digest, created = item.get("origin"), item.get("sha256"), item.get("created", 0)
            normal = normalise_origin(origin) if isinstance(origin, str) else None
            if normal and isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
                tokens.append(TokenEntry(normal, digest, float(created) if _number(created) else 0.0))
        revoked = {
            n
            for n in (normalise_origin(i) for i in _list(value.get("revoked", [])) if isinstance(i, str))
            if n
        }
        return origins, tokens, revoked

    def _save(self, origins: set[str], tokens: list[TokenEntry], revoked: set[str] | None = None) -> None:
        revoked = self._revoked if revoked is None else revoked
        write_json_atomic(
            self.path,
            {
                "origins": sorted(origins),
                "tokens": [{"origin": t.origin, "sha256": t.sha256, "created": t.created} for t in tokens],
                "revoked": sorted(revoked),
            },
        )
        self._origins, self._tokens, self._revoked = set(origins), list(tokens), set(revoked)
        self._stamp = self._stat()


class Revoked(Exception):
    """The artist unpaired this origin; only pairing it by hand again lifts that."""

    def __init__(self, origin: str) -> None:
        super().__init__(
            f"the artist unpaired {origin} (`artshade unpair`); to pair it again, run `artshade pair` and "
            "enter the code on the extension's options page"
        )
        self.origin = origin


def _extension_origin(origin: str) -> str:
    normal = normalise_origin(origin)
    if normal is None:
        raise ValueError(f"not a browser-extension origin: {origin!r}")
    return normal


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
