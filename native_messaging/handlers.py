"""One function per protocol action (see PROTOCOL.md); each takes the request and returns the reply fields."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from artshade import __version__

from . import daemon_control
from .caller import Caller
from .errors import Code, HostError

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
DEFAULT_START_TIMEOUT_S = 60.0
MAX_START_TIMEOUT_S = 120.0

Handler = Callable[[dict[str, Any], Caller], dict[str, Any]]


def check_protocol(request: dict[str, Any], *, required: bool) -> None:
    if "protocol" not in request and not required:
        return
    theirs = request.get("protocol")
    if type(theirs) is not int or theirs != PROTOCOL_VERSION:
        shown = "no protocol version" if theirs is None else f"protocol {str(theirs)[:20]}"
        raise HostError(
            Code.PROTOCOL_MISMATCH,
            f"extension speaks {shown}, this host speaks {PROTOCOL_VERSION}; "
            "update artshade or the extension",
            protocol=PROTOCOL_VERSION,
        )


def hello(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
    check_protocol(request, required=True)
    log.info("hello from %s, extension %s", caller.description, str(request.get("extension_version"))[:40])
    return {"protocol": PROTOCOL_VERSION, "host_version": __version__}


def pair(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
    origin = caller.paired_origin(request.get("origin"))
    from artshade.pairing import PairingStore, Revoked

    try:
        # this extension's own token, not the daemon's; never for an origin the artist unpaired
        token = PairingStore().issue_token(origin, unless_revoked=True)
    except Revoked as err:
        log.warning("refused to pair %s: the artist unpaired it", origin)
        raise HostError(Code.PAIRING_REVOKED, str(err)) from None
    except (OSError, ValueError, RuntimeError) as err:
        log.exception("pairing %s failed", origin)
        raise HostError(Code.PAIRING_FAILED, f"could not pair {origin}: {err}") from err
    log.info("paired %s", origin)
    return {"origin": origin, "url": daemon_control.url_for(daemon_control.configured_port()), "token": token}


def _timeout(request: dict[str, Any]) -> float:
    value = request.get("timeout_s", DEFAULT_START_TIMEOUT_S)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_START_TIMEOUT_S:
        raise HostError(Code.INVALID_REQUEST, f"timeout_s must be a number from 1 to {MAX_START_TIMEOUT_S:g}")
    return float(value)


def ensure_daemon(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
    state = daemon_control.ensure_running(_timeout(request))
    return {"url": state.url, "started": state.started, "version": state.version}


def status(request: dict[str, Any], caller: Caller) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL_VERSION,
        "host_version": __version__,
        "daemon": daemon_control.probe().as_dict(),
    }


ACTIONS: dict[str, Handler] = {
    "hello": hello,
    "pair": pair,
    "ensure_daemon": ensure_daemon,
    "status": status,
}
