"""Every error the API returns is JSON ``{"error": code, "detail": "one clear line"}``.

``STATUS_BY_CODE`` is the one table from error codes (the engine's ``ShadingError.code`` and the daemon's
own) to HTTP statuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web
from artshade.shading.errors import ShadingError

STATUS_BY_CODE: Mapping[str, int] = {
    # engine (shading.errors)
    "not_an_image": 415,
    "unsupported_format": 415,
    "truncated_image": 422,
    "image_too_large": 422,  # too many pixels, decompression bombs
    "image_too_small": 422,
    "bad_input": 422,
    "bad_settings": 422,
    "model_unavailable": 503,
    "cancelled": 409,
    "bad_output": 500,
    "shading_error": 500,
    # daemon
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden_origin": 403,
    "pairing_failed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "not_done": 409,
    "result_expired": 410,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "bad_host": 421,
    "queue_full": 429,
    "rate_limited": 429,
    "internal": 500,
    "shutting_down": 503,
    "interrupted": 503,
}


class ApiError(Exception):
    """Raise from a handler to answer with a JSON error."""

    def __init__(self, code: str, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = " ".join(detail.split())
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return STATUS_BY_CODE.get(self.code, 500)


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 500)


def error_body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": " ".join(str(detail).split())}


def error_response(code: str, detail: str, *, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(code, detail), status=status_for(code), headers=headers)


def from_shading(err: ShadingError) -> ApiError:
    return ApiError(err.code if err.code in STATUS_BY_CODE else "shading_error", str(err))


#: aiohttp's own HTTP exceptions (unknown route, wrong method, body too big) -> our codes.
HTTP_CODES: Mapping[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def from_http_exception(exc: web.HTTPException) -> web.Response:
    code = HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal")
    detail = exc.reason
    if exc.status == 413:
        detail = (
            "the request body is larger than this daemon accepts "
            "(the artist can raise the limit with `artshade serve --max-body-mb N`)"
        )
    elif exc.status == 404:
        detail = "no such endpoint or job"
    elif exc.status == 405:
        detail = "this endpoint does not take that method"
    headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    return web.Response(
        text=json.dumps(error_body(code, detail)),
        status=exc.status if exc.status >= 400 else 500,
        content_type="application/json",
        headers=headers,
    )
