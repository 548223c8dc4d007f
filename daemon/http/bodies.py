"""Request bodies, read within the daemon's limits: an upload (a raw image, or a multipart body with one
``image`` part and perhaps one ``settings`` part) and a JSON body.  Every malformed, oversized or slow body
becomes an ``ApiError`` with one clear line; the views in ``handlers`` get bytes and plain values."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from artshade.errors import SettingsError

from ..errors import ApiError
from .keys import CONFIG

JSON_LIMIT = 1024 * 1024
RAISE_BODY = "the artist can raise the limit with `artshade serve --max-body-mb N`"


async def read_upload(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    """The image bytes and any JSON settings part, from a raw image body or multipart/form-data."""
    config = request.app[CONFIG]
    ctype = request.content_type.lower()
    if ctype.startswith("multipart/"):
        reading = read_multipart(request, config.max_body)
    elif ctype.startswith("image/") or ctype == "application/octet-stream":
        reading = read_raw(request)
    else:
        raise ApiError(
            "unsupported_media_type",
            "send the image as the raw body with Content-Type image/..., or as multipart/form-data",
        )
    try:
        return await asyncio.wait_for(reading, config.read_timeout)
    except asyncio.TimeoutError:
        raise ApiError("request_timeout", "the request body did not arrive in time") from None


async def read_raw(request: web.Request) -> tuple[bytes, dict[str, Any]]:
    return await request.read(), {}  # aiohttp enforces client_max_size (413)


async def read_multipart(request: web.Request, max_body: int) -> tuple[bytes, dict[str, Any]]:
    try:
        reader = await request.multipart()
    except ValueError as err:  # no boundary, a malformed header...
        raise ApiError("bad_request", f"malformed multipart body: {err}") from None
    try:
        return await read_parts(reader, max_body)
    except (ValueError, HttpProcessingError) as err:  # a malformed part header or body
        raise ApiError(
            "bad_request", f"malformed multipart body: {' '.join(str(err).split())[:200]}"
        ) from None


async def read_parts(reader: MultipartReader, max_body: int) -> tuple[bytes, dict[str, Any]]:
    """At most one ``image`` part and one ``settings`` part, which together count against the body limit
    (``max_body``): a body sent in many parts, or without a Content-Length, is held to it all the same."""
    image: bytes | None = None
    settings: dict[str, Any] | None = None
    used = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError("bad_request", "nested multipart bodies are not accepted")
        if part.name not in ("image", "settings"):
            raise ApiError("bad_request", f"unknown multipart part {str(part.name)[:40]!r}; send 'image' "
                           "and, if you like, 'settings'")  # fmt: skip
        if part.name == "image":
            if image is not None:
                raise ApiError("bad_request", "the multipart body has more than one 'image' part")
            image = await read_part(part, max_body - used, max_body)
            used += len(image)
        else:
            if settings is not None:
                raise ApiError("bad_request", "the multipart body has more than one 'settings' part")
            raw = await read_part(part, min(JSON_LIMIT, max_body - used), max_body)
            used += len(raw)
            try:
                value = json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                raise SettingsError("the settings part is not valid JSON (or nested too deeply)") from None
            if not isinstance(value, dict):
                raise SettingsError("the settings part must be a JSON object")
            settings = value
    if image is None:
        raise ApiError("bad_request", "the multipart body has no 'image' part")
    return image, settings or {}


async def read_part(part: BodyPartReader, limit: int, max_body: int) -> bytes:
    """The part's bytes; 413 once more than ``limit`` arrive (what is left of ``max_body``)."""
    chunks = bytearray()
    while chunk := await part.read_chunk(256 * 1024):
        chunks += chunk
        if len(chunks) > limit:
            raise ApiError(
                "body_too_large", f"the upload is larger than {max_body // 2**20 or 1} MB ({RAISE_BODY})"
            )
    return bytes(chunks)


async def read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > JSON_LIMIT:
        raise ApiError("body_too_large", "the JSON body is too large")
    try:
        raw = await asyncio.wait_for(read_limited(request, JSON_LIMIT + 1), request.app[CONFIG].read_timeout)
    except asyncio.TimeoutError:
        raise ApiError("request_timeout", "the request body did not arrive in time") from None
    if len(raw) > JSON_LIMIT:
        raise ApiError("body_too_large", "the JSON body is too large")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError("bad_request", "the body is not valid JSON") from None
    except RecursionError:  # e.g. 100 000 nested arrays: a bad request, not a traceback
        raise ApiError("bad_request", "the JSON body is nested too deeply") from None


async def read_limited(request: web.Request, limit: int) -> bytes:
    """At most ``limit`` bytes of the body (stops reading there)."""
    data = bytearray()
    while len(data) < limit and (chunk := await request.content.read(limit - len(data))):
        data += chunk
    return bytes(data)
