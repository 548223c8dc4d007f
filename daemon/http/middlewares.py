"""One middleware per concern, outermost first: errors as JSON, Host, methods no route has, Origin (and CORS
preflight), token (which says who the caller is), power (what that caller may do).

The checks themselves live in :mod:`daemon.http.guards` and the powers in :mod:`daemon.http.powers`; CORS
response headers are added in ``on_response_prepare`` so streamed responses (SSE) get them too.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from artshade.errors import ShadingError
from artshade.pairing import PairingStore, normalise_origin

from ..errors import ApiError, error_response, from_http_exception, from_shading
from . import guards
from .keys import CALLER, CORS_ORIGIN, PAIRED, TOKEN
from .powers import EXTENSION, MACHINE, PUBLIC, Caller, route_access
from .redact import for_caller

log = logging.getLogger(__name__)

#: what an unpaired (but well-formed) extension origin may call; by path, since a preflight (OPTIONS)
#: matches no route.
PAIRING_PATHS = frozenset({"/v1/pair"})

ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Location, Retry-After, X-Artshade-Job, X-Artshade-Report"


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    return getattr(route, "name", None)


def local_port(request: web.Request) -> int:
    """The port this connection arrived on (right with ``--port 0`` too)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else -1


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse web origins; answer CORS preflights for paired extensions only."""
    origin = request.headers.get("Origin")
    pairing_route = request.path in PAIRING_PATHS
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight(request, origin, pairing_route)
    if origin is not None and pairing_route and normalise_origin(origin) is not None:
        verdict = guards.Verdict(True, "extension origin pairing")
    else:
        paired: PairingStore = request.app[PAIRED]
        verdict = guards.check_origin(origin, paired)
    if not verdict:
        return error_response("forbidden_origin", verdict.reason)
    normal = normalise_origin(origin) if origin is not None else None
    if normal is not None:
        request[CORS_ORIGIN] = normal
    return await handler(request)


def _preflight(request: web.Request, origin: str | None, pairing_route: bool) -> web.StreamResponse:
    if origin is None:
        return error_response("forbidden_origin", "a CORS preflight needs an Origin")
    normal = normalise_origin(origin)
    if not (pairing_route and normal is not None):
        paired: PairingStore = request.app[PAIRED]
        verdict = guards.check_origin(origin, paired)
        if not verdict:
            return error_response("forbidden_origin", verdict.reason)
    headers = {
        "Access-Control-Allow-Origin": str(normal),
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Allow-Headers": ALLOW_HEADERS,
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }
    # Chrome's Private Network Access preflight, and its successor Local Network Access.
    if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    if request.headers.get("Access-Control-Request-Local-Network", "").lower() == "true":
        headers["Access-Control-Allow-Local-Network"] = "true"
    return web.Response(status=204, headers=headers)


async def add_response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: CORS for an accepted extension origin, and no caching or sniffing."""
    origin = request.get(CORS_ORIGIN)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        response.headers["Vary"] = "Origin"
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes ``{"error": code, "detail": line}`` with the right status."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.code, for_caller(err.detail, request.get(CALLER)), headers=err.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc)
    except ShadingError as err:
        api = from_shading(err)
        return error_response(api.code, for_caller(api.detail, request.get(CALLER)))
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response("internal", "the daemon hit an unexpected error; see its log")


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only ``127.0.0.1:PORT``, ``[::1]:PORT`` or ``localhost:PORT`` (DNS rebinding)."""
    verdict = guards.check_host(request.headers.get("Host"), local_port(request))
    if not verdict:
        raise ApiError("bad_host", verdict.reason)
    return await handler(request)


@web.middleware
async def method_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A method no route has (``TRACE``, ``PATCH``...) is 405 with ``Allow``, whoever asks: it reveals only
    what the published API description already says.  Preflights (``OPTIONS``) go on to the Origin check."""
    exc = request.match_info.http_exception
    if isinstance(exc, web.HTTPMethodNotAllowed) and request.method != "OPTIONS":
        raise exc
    return await handler(request)


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``Authorization: Bearer <token>`` on everything but the public routes; sets ``request[CALLER]``.

    The daemon's own token without an Origin is the artist at the machine; with an extension's Origin it is
    that extension.  An extension's token (from pairing) is always that extension, with or without an
    Origin, and an Origin it sends must be its own."""
    origin = request.headers.get("Origin")
    normal = normalise_origin(origin) if origin is not None else None
    kind = MACHINE if origin is None else EXTENSION
    if route_access(_route_name(request)) == PUBLIC:
        request[CALLER] = Caller(kind, normal)
        return await handler(request)
    authorization = request.headers.get("Authorization")
    verdict = guards.check_token(authorization, request.app[TOKEN])
    if verdict:
        request[CALLER] = Caller(kind, normal)
        return await handler(request)
    scoped = guards.check_extension_token(authorization, request.app[PAIRED].token_origin)
    if not scoped:
        raise ApiError(
            "unauthorized",
            f"{verdict.reason}; send Authorization: Bearer <token> (`artshade token` prints it)",
            headers={"WWW-Authenticate": 'Bearer realm="artshade"'},
        )
    assert scoped.subject is not None
    matches = guards.check_token_origin(scoped.subject, origin)
    if not matches:
        raise ApiError("forbidden_origin", matches.reason)
    request[CALLER] = Caller(EXTENSION, scoped.subject)
    return await handler(request)


@web.middleware
async def power_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who may call each route: ``daemon.http.powers.ROUTE_ACCESS`` (a route it does not list: the artist
    only).  A path no route matches goes on to its 404 or 405."""
    if request.match_info.http_exception is not None:
        return await handler(request)
    needed = route_access(_route_name(request))
    needed = MACHINE if needed == MACHINE else EXTENSION  # PUBLIC routes: what any caller may do
    caller: Caller = request.get(CALLER, Caller(EXTENSION))
    verdict = guards.check_power(caller.kind, caller.origin, needed, f"call {request.method} {request.path}")
    if not verdict:
        raise ApiError("machine_only", verdict.reason)
    return await handler(request)


MIDDLEWARES = (
    error_middleware,
    host_middleware,
    method_middleware,
    origin_middleware,
    token_middleware,
    power_middleware,
)
