"""The HTTP endpoints (see ``daemon/http/openapi.yaml``).  Handlers parse and answer; the work is
done elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from artshade.shading.settings import Settings

from artshade import __version__
from artshade.errors import SettingsError
from artshade.pairing import normalise_origin

from ..config import UserSettings, save_user_settings
from ..errors import ApiError, error_response
from ..jobs.job import FINAL_STATES, Job
from ..jobs.places import QueueFull
from ..jobs.queue import ShuttingDown
from . import guards
from .bodies import RAISE_BODY, read_json, read_upload
from .keys import CALLER, CODES, CONFIG, FOLDERS, INFO, PAIRED, QUEUE, STREAMS, USER_SETTINGS
from .middlewares import local_port
from .pairing_codes import RateLimited
from .powers import Caller, machine_keys_in, machine_params_in
from .redact import for_caller

routes = web.RouteTableDef()

#: query parameters of POST /v1/protect that are not settings.
CONTROL_PARAMS = ("wait", "site")
#: the longest DNS name (and the description's ``maxLength`` for ``site``)
SITE_MAX = 253
REPORT_HEADER_MAX = 2048
SSE_KEEPALIVE_S = 15.0


# -- liveness and status ---------------------------------------------------------------------------------


@routes.get("/v1/health", name="health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "artshade", "version": __version__})


@routes.get("/v1/status", name="status")
async def status(request: web.Request) -> web.Response:
    from artshade.shading import device, models

    info = request.app[INFO]
    if info.device is None:
        info.device = await asyncio.to_thread(device.describe)
    config = request.app[CONFIG]
    rows = await asyncio.to_thread(models.status, config.models_dir)
    preset = request.app[USER_SETTINGS].value.defaults.preset
    body = {
        "device": info.device,
        "models": rows,
        "models_ready": models_ready(rows, preset),
        "queue": request.app[QUEUE].stats(),
        **(
            {
                "watch_folders": {
                    "running": request.app[FOLDERS].running(),
                    "problems": request.app[FOLDERS].problems,
                }
            }
            if request[CALLER].at_machine
            else {}
        ),
        "version": __version__,
    }
    return web.json_response(for_caller(body, request[CALLER]))


def models_ready(rows: list[dict[str, Any]], preset: str) -> bool:
    """Every model the preset always needs is installed."""
    needed = [r for r in rows if f"preset {preset}" in r.get("used_by", [])]
    return bool(needed) and all(r.get("installed") for r in needed)


# -- settings ------------------------------------------------------------------------------------------------


def settings_view(settings: UserSettings, caller: Caller) -> dict[str, Any]:
    """All of it for the artist at the machine; the preset defaults and site profiles for an extension."""
    return settings.to_dict() if caller.at_machine else settings.extension_view()


@routes.get("/v1/settings", name="get_settings")
async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(settings_view(request.app[USER_SETTINGS].value, request[CALLER]))


@routes.put("/v1/settings", name="put_settings")
async def put_settings(request: web.Request) -> web.Response:
    """Replace the settings.  An extension may name only its own keys (any machine-level key: 403
    ``machine_only``, each one named, nothing saved); the machine-level ones it cannot see are kept."""
    caller = request[CALLER]
    body = await read_json(request)
    verdict = guards.check_setting_keys(caller.kind, caller.origin, machine_keys_in(body))
    if not verdict:
        raise ApiError("machine_only", verdict.reason)
    new = UserSettings.from_mapping(body)
    if not caller.at_machine:
        new = new.keeping_machine_settings_of(request.app[USER_SETTINGS].value)
    await asyncio.to_thread(save_user_settings, new, request.app[CONFIG].settings_path)
    request.app[USER_SETTINGS].value = new
    if request.app[CONFIG].watch_folders:
        await request.app[FOLDERS].apply(new)
    return web.json_response(settings_view(new, caller))


# -- protecting ----------------------------------------------------------------------------------------------


@routes.post("/v1/protect", name="protect")
async def protect(request: web.Request) -> web.StreamResponse:
    from artshade.shading.io import sniff_format

    config = request.app[CONFIG]
    if request.content_length is not None and request.content_length > config.max_body:
        raise ApiError(
            "body_too_large", f"the image is larger than {config.max_body // 2**20} MB ({RAISE_BODY})"
        )
    data, json_settings = await read_upload(request)
    if not data:
        raise ApiError("bad_request", "the request has no image")
    if sniff_format(data) is None:
        raise ApiError("unsupported_format", "the upload is not a JPEG, PNG, WebP or TIFF image")
    settings = settings_for_request(request, json_settings)
    wait = truthy(request.query.get("wait"))
    queue = request.app[QUEUE]
    try:
        caller = request[CALLER]
        owner = None if caller.at_machine else caller.origin
        job = await queue.submit(data, settings, priority="interactive", owner=owner)
    except QueueFull as err:
        raise ApiError("queue_full", str(err), headers={"Retry-After": str(err.retry_after)}) from None
    except ShuttingDown as err:
        raise ApiError("shutting_down", str(err)) from None
    if not wait:
        return job_accepted(job, caller)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(job.done_event.wait()), config.wait_timeout)
    if not job.terminal:
        return job_accepted(job, caller)
    headers = {"X-Artshade-Job": job.id}
    if job.state != "done":
        code, detail = job.error or ("internal", "the job failed")
        return error_response(code, for_caller(detail, caller), headers=headers)
    result = await queue.result(job)
    if result is None:
        raise ApiError("result_expired", "the result was evicted from the cache; send the image again")
    headers["X-Artshade-Report"] = report_header(for_caller(job.report or {}, caller))
    return web.Response(body=result.data, content_type=result.media_type, headers=headers)


def job_accepted(job: Job, caller: Caller) -> web.Response:
    return web.json_response(
        for_caller(job.to_json(), caller), status=202, headers={"Location": f"/v1/jobs/{job.id}"}
    )


WAIT_VALUES = {"1": True, "true": True, "0": False, "false": False}


def truthy(value: str | None) -> bool:
    """``wait``: absent, 0/false or 1/true; anything else is a bad request (one clear line)."""
    if value is None:
        return False
    answer = WAIT_VALUES.get(value)
    if answer is None:
        raise ApiError("bad_request", f"wait must be 0, 1, true or false, got {value[:20]!r}")
    return answer


def settings_for_request(request: web.Request, json_settings: Mapping[str, Any]) -> Settings:
    """Defaults, the site's profile, then this upload's own settings.  Machine-level ones (``device``,
    ``target_image``) only from the artist at the machine."""
    query = {k: v for k, v in request.query.items() if k not in CONTROL_PARAMS}
    for key in set(request.query) - set(CONTROL_PARAMS):
        if len(request.query.getall(key)) > 1:
            raise SettingsError(f"setting {key!r} is given more than once")
        if not request.query[key].strip():
            raise SettingsError(f"setting {key!r} is empty; leave it out to keep the default")
    values = {**json_settings, **query}
    site = request.query.get("site") or json_settings.get("site")
    if isinstance(site, str) and len(site) > SITE_MAX:
        raise ApiError("bad_request", f"site must be a host name of at most {SITE_MAX} characters")
    values.pop("site", None)
    caller = request[CALLER]
    verdict = guards.check_setting_keys(caller.kind, caller.origin, machine_params_in(values))
    if not verdict:
        raise ApiError("machine_only", verdict.reason)
    return request.app[USER_SETTINGS].value.settings_for(
        values, site=site if isinstance(site, str) else None, machine=caller.at_machine
    )


def report_header(report: Mapping[str, Any]) -> str:
    """A compact ASCII JSON summary of the report (scalar fields, one level deep), within a header's size."""
    summary: dict[str, Any] = {}
    for key, value in report.items():
        if _scalar(value):
            summary[key] = value
        elif isinstance(value, Mapping):
            inner = {k: v for k, v in value.items() if _scalar(v)}
            if inner:
                summary[key] = inner
        elif isinstance(value, list) and all(_scalar(v) for v in value):
            summary[key] = value
    text = json.dumps(summary, ensure_ascii=True, separators=(",", ":"), default=str)
    while len(text) > REPORT_HEADER_MAX and summary:
        summary.pop(next(reversed(summary)))
        text = json.dumps(summary, ensure_ascii=True, separators=(",", ":"), default=str)
    return text


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


# -- jobs ---------------------------------------------------------------------------------------------------


def find_job(request: web.Request) -> Job:
    """The job named in the path, if this caller may see it: an extension sees only the jobs it submitted
    (another's answer exactly as a job that does not exist), the artist at the machine sees every job."""
    job = request.app[QUEUE].get(request.match_info["job_id"])
    caller = request[CALLER]
    if job is None or not (caller.at_machine or job.owner == caller.origin):
        raise ApiError("not_found", "no such job")
    return job


@routes.get("/v1/jobs/{job_id}", name="job")
async def get_job(request: web.Request) -> web.Response:
    return web.json_response(for_caller(find_job(request).to_json(), request[CALLER]))


@routes.delete("/v1/jobs/{job_id}", name="cancel_job")
async def cancel_job(request: web.Request) -> web.Response:
    job = find_job(request)
    if job.terminal:
        raise ApiError("not_done", f"the job already ended ({job.state}); nothing to cancel")
    await request.app[QUEUE].cancel(job.id)
    return web.json_response(for_caller(job.to_json(), request[CALLER]))


@routes.get("/v1/jobs/{job_id}/result", name="job_result")
async def job_result(request: web.Request) -> web.Response:
    job = find_job(request)
    require_done(job)
    result = await request.app[QUEUE].result(job)
    if result is None:
        raise ApiError("result_expired", "the result was evicted from the cache; send the image again")
    report = for_caller(job.report or {}, request[CALLER])
    headers = {"X-Artshade-Job": job.id, "X-Artshade-Report": report_header(report)}
    return web.Response(body=result.data, content_type=result.media_type, headers=headers)


@routes.get("/v1/jobs/{job_id}/report", name="job_report")
async def job_report(request: web.Request) -> web.Response:
    job = find_job(request)
    require_done(job)
    return web.json_response(for_caller(job.report or {}, request[CALLER]))


def require_done(job: Job) -> None:
    if job.state == "done":
        return
    if job.error is not None:
        raise ApiError(
            "not_done", f"the job ended with {job.state}: {job.error[1]}"
        )  # redacted on the way out
    raise ApiError("not_done", f"the job is {job.state}; wait for it to be done")


@routes.get("/v1/jobs/{job_id}/events", name="job_events")
async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: ``progress`` events in order, then one ``done``, ``error`` or ``cancelled``."""
    job = find_job(request)
    queue = request.app[QUEUE]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    events = queue.subscribe(job)
    streams = request.app[STREAMS]
    streams.add(events)
    try:
        while True:
            try:
                event, data = await asyncio.wait_for(events.get(), SSE_KEEPALIVE_S)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event == "close":  # the daemon is shutting down
                break
            shown = json.dumps(for_caller(data, request[CALLER]))
            await response.write(f"event: {event}\ndata: {shown}\n\n".encode())
            if event in FINAL_STATES:
                break
    finally:
        streams.discard(events)
        queue.unsubscribe(job, events)
    await response.write_eof()
    return response


# -- pairing -------------------------------------------------------------------------------------------------


@routes.post("/v1/pair", name="pair")
async def pair(request: web.Request) -> web.Response:
    """An extension's options page trades a one-time code (from ``artshade pair``) for a token of its own,
    which opens what a paired extension may do (``daemon.http.powers``)."""
    origin = normalise_origin(request.headers.get("Origin", ""))
    if origin is None:
        raise ApiError("forbidden_origin", "pairing is only for a browser extension's own page")
    body = await read_json(request)
    code = body.get("code") if isinstance(body, dict) and set(body) == {"code"} else None
    if not isinstance(code, str) or not code.strip():
        raise ApiError("bad_request", 'send {"code": "..."} with the code `artshade pair` printed')
    try:
        ok = request.app[CODES].redeem(code, origin)
    except RateLimited as err:
        raise ApiError(
            "rate_limited", str(err), headers={"Retry-After": str(max(1, round(err.retry_after)))}
        ) from None
    if not ok:
        raise ApiError(
            "pairing_failed", "that pairing code is wrong, used or expired; run `artshade pair` again"
        )
    token = await asyncio.to_thread(request.app[PAIRED].issue_token, origin)  # its own, not the daemon's
    return web.json_response({"token": token, "url": f"http://127.0.0.1:{local_port(request)}"})


@routes.post("/v1/pair/code", name="pair_code")
async def pair_code(request: web.Request) -> web.Response:
    """A new one-time pairing code (for ``artshade pair``; machine power only, see ``daemon.http.powers``)."""
    issued = request.app[CODES].issue(local_port(request))
    return web.json_response(
        {
            "code": issued.code,
            "expires_in": round(issued.expires - time.time()),
            "url": f"http://127.0.0.1:{local_port(request)}",
        }
    )
