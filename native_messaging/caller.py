"""Who is calling: the browser names the calling extension on the host's command line.

Chrome family: ``argv[1] = "chrome-extension://<id>/"`` (Windows adds ``--parent-window=<n>``).
Firefox: ``argv[1]`` = the host manifest's path, ``argv[2]`` = the extension's gecko id.
Only that is trusted; a message can claim an origin, which is checked against it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from artshade import ids

from .errors import Code, HostError

#: the browsers' origins (``artshade.ids``), as the browser or a message may spell them: one trailing slash
_CHROME_ORIGIN = re.compile(ids.CHROME_ORIGIN + "/?")
_MOZ_ORIGIN = re.compile(ids.FIREFOX_ORIGIN + "/?")


@dataclass(frozen=True)
class Caller:
    browser: str  # "chrome" (any Chromium-family browser), "firefox" or "unknown"
    allowed: bool
    description: str  # what the browser said, for messages and logs
    origin: str | None = None  # Chrome: the origin without trailing slash; Firefox: unknown until pair

    def require_allowed(self) -> None:
        if not self.allowed:
            raise HostError(
                Code.ORIGIN_NOT_ALLOWED, f"caller {self.description} is not an allowed artshade extension"
            )

    def paired_origin(self, claimed: object) -> str:
        """The origin to register for this caller, given the ``origin`` field of a ``pair`` request."""
        self.require_allowed()
        if self.browser == "chrome":
            assert self.origin is not None
            if claimed is None:
                return self.origin
            if not isinstance(claimed, str):
                raise HostError(Code.INVALID_REQUEST, "pair: origin must be a string")
            match = _CHROME_ORIGIN.fullmatch(claimed)
            if not match or f"chrome-extension://{match.group(1)}" != self.origin:
                raise HostError(
                    Code.ORIGIN_NOT_ALLOWED, f"pair: origin {claimed[:80]!r} is not the calling extension"
                )
            return self.origin
        # Firefox: the moz-extension UUID is random per install; the browser vouched for the gecko id.
        if not isinstance(claimed, str):
            raise HostError(
                Code.INVALID_REQUEST, "pair: Firefox must send its origin (moz-extension://<uuid>)"
            )
        match = _MOZ_ORIGIN.fullmatch(claimed)
        if not match:
            raise HostError(
                Code.INVALID_REQUEST, f"pair: {claimed[:80]!r} is not a moz-extension://<uuid> origin"
            )
        return f"moz-extension://{match.group(1)}"


def identify(argv: Sequence[str]) -> Caller:
    """Classify the caller from the host's arguments (``argv`` without the program name)."""
    args = [a for a in argv if not a.startswith("--parent-window=")]
    if args:
        match = _CHROME_ORIGIN.fullmatch(args[0])
        if match:
            origin = f"chrome-extension://{match.group(1)}"
            return Caller("chrome", match.group(1) == ids.CHROME_EXTENSION_ID, args[0], origin)
    if len(args) >= 2 and not args[0].startswith("chrome-extension:"):
        return Caller("firefox", args[1] == ids.GECKO_EXTENSION_ID, args[1])
    shown = " ".join(args)[:120] or "(no caller named)"
    return Caller("unknown", False, shown)
