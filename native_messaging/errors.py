"""Numbered error codes of the native-messaging protocol (see PROTOCOL.md, "Error codes")."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    MALFORMED = 1
    PROTOCOL_MISMATCH = 2
    UNKNOWN_ACTION = 3
    ORIGIN_NOT_ALLOWED = 4
    DAEMON_START_FAILED = 5
    DAEMON_UNREACHABLE = 6
    TOO_LARGE = 7
    INVALID_REQUEST = 8
    PAIRING_FAILED = 9
    PAIRING_REVOKED = 10
    INTERNAL = 99


class HostError(Exception):
    """A request failed; becomes ``{"ok": false, "error": {"code": ..., "message": ...}}``."""

    def __init__(self, code: Code, message: str, **extra: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = " ".join(message.split())  # always one line
        self.extra = extra
