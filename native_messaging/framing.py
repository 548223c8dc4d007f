"""Native-messaging framing: a 32-bit length in native byte order, then that many bytes of UTF-8 JSON."""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

#: the longest message the host accepts from the browser.
MAX_INCOMING = 1024 * 1024
#: browsers refuse host -> extension messages of 1 MB or more.
MAX_OUTGOING = 1024 * 1024 - 1

_HEADER = struct.Struct("=I")  # native byte order, standard size: exactly 4 bytes


class FrameTooLarge(Exception):
    def __init__(self, length: int) -> None:
        super().__init__(f"message of {length} bytes is over the {MAX_INCOMING}-byte limit")
        self.length = length


class EndOfStream(Exception):
    """The stream ended (cleanly between frames, or mid-frame: either way there is nothing to answer)."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EndOfStream
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, limit: int = MAX_INCOMING) -> bytes:
    """Read one frame's payload; raise EndOfStream at (or inside) the end, FrameTooLarge before reading it."""
    (length,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    if length > limit:
        raise FrameTooLarge(length)
    return _read_exactly(stream, length)


def encode_frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_OUTGOING:
        raise ValueError(f"reply of {len(payload)} bytes is over the browser's limit")
    return _HEADER.pack(len(payload)) + payload
