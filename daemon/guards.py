"""The three checks every request passes: Host, Origin and token.

Each is a small pure function that returns a :class:`Verdict` (allowed or not, and why) and logs a refusal,
so the middleware stays thin and each rule has its own truth-table test.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Container
from dataclasses import dataclass

from .pairing import normalise_origin

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "[::1]", "localhost")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def _refuse(check: str, reason: str) -> Verdict:
    log.warning("refused request: %s check: %s", check, reason)
    return Verdict(False, reason)


def check_host(host: str | None, port: int) -> Verdict:
    """The Host header must name a loopback address or ``localhost`` with our own port (DNS rebinding)."""
    if not host:
        return _refuse("host", "the request has no Host header")
    expected = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if host.strip().lower() in expected:
        return Verdict(True, "loopback host")
    return _refuse("host", f"Host {host[:100]!r} is not this daemon on loopback port {port}")


def check_origin(origin: str | None, paired: Container[str]) -> Verdict:
    """No Origin (CLI, curl) or a paired browser-extension origin; every web origin is refused."""
    if origin is None:
        return Verdict(True, "no Origin (not a browser page)")
    normal = normalise_origin(origin)
    if normal is None:
        return _refuse("origin", f"Origin {origin[:100]!r} is not a browser extension")
    if normal not in paired:
        return _refuse("origin", f"extension {normal} is not paired with this daemon")
    return Verdict(True, "paired extension")


def check_token(authorization: str | None, token: str) -> Verdict:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not authorization:
        return _refuse("token", "no Authorization header")
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return _refuse("token", "Authorization is not a Bearer token")
    if not token or not hmac.compare_digest(presented.strip().encode("utf-8"), token.encode("utf-8")):
        return _refuse("token", "wrong token")
    return Verdict(True, "token matches")
