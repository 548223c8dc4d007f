"""``POST /v1/check``: how much protection is left in a picture saved from a site (see ``shading.check``).

The picture comes as the raw body (``Content-Type: image/...``) or as the ``image`` part of a multipart
body; ``?job=ID`` names the job that protected it.  Without one, the daemon matches the picture to a recent
protected upload of the same caller by a difference hash.  A paired extension checks only its own jobs
(another's is answered exactly as a job that does not exist); the artist at the machine may check any.
"""

from __future__ import annotations

import asyncio
import re
from functools import partial
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..jobs.checks import Kept
from ..jobs.queue import JOB_RETENTION_S
from .bodies import read_upload
from .keys import CALLER, CHECK_SLOT, CHECKS, CONFIG, QUEUE

routes = web.RouteTableDef()

#: the largest difference-hash distance (of 64 bits) at which a posted picture matches a kept upload
MATCH_DISTANCE = 12
#: how many of the caller's newest kept uploads a picture is matched against
MATCH_RECENT = 200
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@routes.post("/v1/check", name="check")
async def check(request: web.Request) -> web.Response:
    from artshade.shading.io import sniff_format

    data, settings = await read_upload(request)
    if settings:
        raise ApiError("bad_request", "a check takes the picture only (no settings part)")
    if not data:
        raise ApiError("bad_request", "the request has no image")
    if sniff_format(data) is None:
        raise ApiError("unsupported_format", "the upload is not a JPEG, PNG, WebP or TIFF image")
    job_id = request.query.get("job")
    kept = await (find_kept(request, job_id) if job_id is not None else match_kept(request, data))
    result = await run_check(request, data, kept)
    return web.json_response({"job": kept.job_id, **result})


async def find_kept(request: web.Request, job_id: str) -> Kept:
    """The kept upload of the job ``job_id``, if this caller may see the job."""
    caller = request[CALLER]
    job = request.app[QUEUE].get(job_id) if _JOB_ID.match(job_id) else None
    if job is None or not (caller.at_machine or job.owner == caller.origin):
        raise ApiError("not_found", "no such job")
    kept = await asyncio.to_thread(request.app[CHECKS].get, job_id)
    if kept is None:
        raise ApiError("not_found", "nothing is kept of this job to check against (protected uploads are "
                       f"kept for {JOB_RETENTION_S // 86400} days)")  # fmt: skip
    return kept


async def match_kept(request: web.Request, data: bytes) -> Kept:
    """The caller's recent protected upload the picture looks most like (difference hash)."""
    from artshade.shading.alignment import dhash, hash_distance
    from artshade.shading.io import load_image

    caller = request[CALLER]
    limits = request.app[CONFIG].input_limits()
    posted = await asyncio.to_thread(lambda: dhash(load_image(data, limits).rgb))
    store = request.app[CHECKS]

    def candidates() -> list[Kept]:
        found = store.kept(caller.origin, everyone=caller.at_machine)
        return [k for _, k in zip(range(MATCH_RECENT), found, strict=False)]

    best: tuple[int, Kept] | None = None
    for kept in await asyncio.to_thread(candidates):
        distance = hash_distance(posted, kept.dhash)
        if distance <= MATCH_DISTANCE and (best is None or distance < best[0]):
            best = (distance, kept)
    if best is None:
        raise ApiError("not_found", "no recent protected upload of yours looks like this picture; give the "
                       "job id (?job=ID) if it was cropped a lot")  # fmt: skip
    return best[1]


async def run_check(request: web.Request, data: bytes, kept: Kept) -> dict[str, Any]:
    from artshade.shading.check import check_bytes

    config = request.app[CONFIG]

    def work() -> dict[str, Any]:
        return check_bytes(data, kept.original(), kept.report(), protected_data=kept.protected(),
                           models_dir=config.models_dir, limits=config.input_limits())  # fmt: skip

    async with request.app[CHECK_SLOT]:  # one at a time: each loads the encoders and runs them
        return await asyncio.to_thread(partial(work))
