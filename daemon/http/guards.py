"""The checks every request passes: Host, Origin, token, and the power the request needs.

Each is a small pure function that returns a :class:`~daemon.verdict.Verdict` (allowed or not, and why)
and logs a refusal, so the middleware stays thin and each rule has its own truth-table test.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Container, Sequence

from artshade.pairing import normalise_origin

from ..verdict import Verdict

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "[::1]", "localhost")


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


def bearer(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None if the header is missing or another kind."""
    if not authorization:
        return None
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    return presented.strip()


def check_token(authorization: str | None, token: str) -> Verdict:
    """``Authorization: Bearer <the daemon's token>``, compared in constant time."""
    if not authorization:
        return _refuse("token", "no Authorization header")
    presented = bearer(authorization)
    if presented is None:
        return _refuse("token", "Authorization is not a Bearer token")
    if not token or not hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8")):
        return _refuse("token", "wrong token")
    return Verdict(True, "token matches")


def check_extension_token(authorization: str | None, token_origin: Callable[[str], str | None]) -> Verdict:
    """``Authorization: Bearer <a paired extension's token>`` (``token_origin`` compares the hashes in
    constant time); the verdict's ``subject`` is the extension's origin."""
    presented = bearer(authorization)
    if presented is None:
        return _refuse("token", "no Bearer token")
    origin = token_origin(presented)
    if origin is None:
        return _refuse("token", "wrong token")
    return Verdict(True, "an extension's token", subject=origin)


def check_token_origin(subject: str, origin: str | None) -> Verdict:
    """An extension's token works for that extension only: an Origin it sends must be its own."""
    if origin is None or normalise_origin(origin) == subject:
        return Verdict(True, "the token's own extension")
    return _refuse("origin", f"this token belongs to {subject}, not {str(origin)[:100]}")


def check_power(kind: str, origin: str | None, needed: str, what: str) -> Verdict:
    """``needed`` is ``machine`` or ``extension`` (``daemon.http.powers``): only the artist at the
    machine (the daemon's token and no Origin) has the machine power."""
    if needed == "extension" or kind == "machine":
        return Verdict(True, f"{kind} may {what}")
    return _refuse(
        "power",
        f"only the artist at the machine may {what} (from the command line or the settings file), "
        f"not extension {origin or '(unknown)'}",
    )


def check_setting_keys(kind: str, origin: str | None, machine_keys: Sequence[str]) -> Verdict:
    """A request may name machine-level settings only from the machine; every refused key is named."""
    if not machine_keys or kind == "machine":
        return Verdict(True, "no machine-level key from an extension")
    names = ", ".join(machine_keys)
    return _refuse(
        "power",
        f"only the artist at the machine may set {names} (from the command line or the settings file), "
        f"not extension {origin or '(unknown)'}",
    )
