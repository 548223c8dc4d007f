"""Every error the API returns is JSON ``{"error": code, "number": n, "detail": "one clear line"}``.

``ERRORS`` is the one table from error codes (the engine's ``ShadingError.code`` and the daemon's own) to
their HTTP status and their stable number (the status followed by one digit; documented in
``daemon/http/openapi.yaml`` and the README).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

from artshade.errors import ShadingError

#: code -> (HTTP status, stable number).
ERRORS: Mapping[str, tuple[int, int]] = {
    # engine (artshade.errors)
    "not_an_image": (415, 4150),
    "unsupported_format": (415, 4151),
    "truncated_image": (422, 4221),
    "image_too_large": (422, 4222),  # too many pixels, decompression bombs
    "image_too_small": (422, 4223),
    "bad_input": (422, 4224),
    "not_same_artwork": (422, 4225),  # artshade check: the posted picture is another picture
    "target_mismatch": (422, 4226),  # artshade check: the report's target cannot be rebuilt as it was
    "bad_settings": (422, 4220),
    "model_unavailable": (503, 5030),
    "cancelled": (409, 4091),
    "bad_output": (500, 5001),
    "shading_error": (500, 5002),
    # daemon
    "bad_request": (400, 4000),
    "unauthorized": (401, 4010),
    "forbidden_origin": (403, 4030),  # a web page, an unpaired extension, or another extension's token
    "pairing_failed": (403, 4031),
    "machine_only": (403, 4032),  # only the artist at the machine may do this (daemon.http.powers)
    "not_found": (404, 4040),
    "method_not_allowed": (405, 4050),
    "request_timeout": (408, 4080),
    "not_done": (409, 4090),
    "result_expired": (410, 4100),
    "body_too_large": (413, 4130),
    "unsupported_media_type": (415, 4152),
    "bad_host": (421, 4210),
    "queue_full": (429, 4290),
    "rate_limited": (429, 4291),
    "internal": (500, 5000),
    "shutting_down": (503, 5031),
    "interrupted": (503, 5032),
}
STATUS_BY_CODE: Mapping[str, int] = {code: status for code, (status, _) in ERRORS.items()}


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


def number_for(code: str) -> int:
    return ERRORS.get(code, ERRORS["internal"])[1]


def error_body(code: str, detail: str) -> dict[str, str | int]:
    return {"error": code, "number": number_for(code), "detail": " ".join(str(detail).split())}


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
