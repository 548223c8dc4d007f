"""POST /v1/protect and the job endpoints with the real engine and weights (one real shading per session;
identical requests are answered from the shared result cache)."""

from __future__ import annotations

import io
import json

import pytest
from daemon_helpers import CANON_QUERY, Canonical, Daemons, client, image_bytes, wait_for_state
from PIL import Image

MB = 1024 * 1024


def test_the_real_engine_ran_with_progress_in_order(canonical: Canonical) -> None:
    """SSE: progress events in order (non-decreasing), then exactly one final event, ``done``."""
    names = [name for name, _ in canonical.events]
    assert names[-1] == "done" and names.count("done") == 1
    assert not {"error", "cancelled"} & set(names)
    progress = [data["progress"] for name, data in canonical.events if name == "progress"]
    assert len(progress) >= 3, canonical.events
    for name, data in canonical.events:
        if name == "progress":
            assert set(data) == {"progress", "percent", "stage", "eta_s"}
            assert data["percent"] == int(data["progress"] * 100)
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)
    final = canonical.events[-1][1]
    assert final["state"] == "done" and final["result_url"] == f"/v1/jobs/{final['id']}/result"
    shaded = Image.open(io.BytesIO(canonical.result))
    assert shaded.size == (64, 64) and canonical.media_type == "image/png"
    assert canonical.result != canonical.image
    assert canonical.report["settings"]["preset"] == "fast" and canonical.report["encoders"]


async def test_wait_returns_the_image_with_job_and_report_headers(
    daemons: Daemons, canonical: Canonical
) -> None:
    server = await daemons.start(cache_dir=canonical.cache_dir)
    async with client(server) as http:
        response = await http.post("/v1/protect", params={**CANON_QUERY, "wait": "1"}, data=canonical.image,
                                   headers={"Content-Type": "image/png"})  # fmt: skip
        assert response.status == 200, await response.text()
        assert response.content_type == "image/png"
        assert await response.read() == canonical.result
        summary = json.loads(response.headers["X-Artshade-Report"])
        assert response.headers["X-Artshade-Report"].isascii()
        assert summary["settings"]["preset"] == "fast"
        job = await (await http.get(f"/v1/jobs/{response.headers['X-Artshade-Job']}")).json()
        assert job["state"] == "done" and job["progress"] == 1


async def test_async_job_then_result_and_report(daemons: Daemons, canonical: Canonical) -> None:
    server = await daemons.start(cache_dir=canonical.cache_dir)
    async with client(server) as http:
        response = await http.post("/v1/protect", params=CANON_QUERY, data=canonical.image,
                                   headers={"Content-Type": "image/png"})  # fmt: skip
        assert response.status == 202
        job = await response.json()
        assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
        assert set(job) == {"id", "state", "progress", "percent", "stage", "eta_s", "error", "created",
                            "finished", "result_url"}  # fmt: skip
        job = await wait_for_state(http, job["id"], ("done",))
        result = await http.get(job["result_url"])
        assert await result.read() == canonical.result
        assert (await (await http.get(f"/v1/jobs/{job['id']}/report")).json()) == canonical.report
        events = await http.get(f"/v1/jobs/{job['id']}/events")
        assert "event: done" in await events.text()


async def test_multipart_upload_with_a_settings_part(daemons: Daemons, canonical: Canonical) -> None:
    import aiohttp

    server = await daemons.start(cache_dir=canonical.cache_dir)
    form = aiohttp.FormData()
    form.add_field("image", canonical.image, filename="art.png", content_type="image/png")
    form.add_field("settings", json.dumps(CANON_QUERY), content_type="application/json")
    async with client(server) as http:
        response = await http.post("/v1/protect", params={"wait": "1"}, data=form)
        assert response.status == 200, await response.text()
        assert await response.read() == canonical.result


@pytest.mark.parametrize(
    ("parts", "detail"),
    [
        (["image", "file"], "unknown multipart part 'file'"),
        (["image", "image"], "more than one 'image' part"),
        (["settings"], "no 'image' part"),
    ],
)
async def test_multipart_holds_an_image_and_settings_only(
    daemons: Daemons, parts: list[str], detail: str
) -> None:
    # As the description says (additionalProperties: false): a part the daemon would ignore is refused, so a
    # client that misnames its image learns it at once.
    import aiohttp

    server = await daemons.start()
    form = aiohttp.FormData()
    for name in parts:
        if name == "settings":
            form.add_field(name, "{}", content_type="application/json")
        else:
            form.add_field(name, image_bytes(), filename="art.png", content_type="image/png")
    async with client(server) as http:
        response = await http.post("/v1/protect", data=form)
        body = await response.json()
        assert (response.status, body["error"]) == (400, "bad_request"), body
        assert detail in body["detail"]


def bomb() -> bytes:
    """A small PNG that claims 64 megapixels (over the 50 MP limit)."""
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, "PNG")
    return buf.getvalue()


BAD_UPLOADS = [
    pytest.param(lambda: bomb(), "image/png", 422, "image_too_large", id="decompression-bomb"),
    pytest.param(lambda: image_bytes()[:100], "image/png", 422, "truncated_image", id="truncated-png"),
    pytest.param(
        lambda: image_bytes(fmt="JPEG")[:200], "image/jpeg", 422, "truncated_image", id="truncated-jpeg"
    ),
    pytest.param(
        lambda: b"hello, I am not a picture", "image/png", 415, "unsupported_format", id="non-image"
    ),
    pytest.param(lambda: b"GIF89a" + b"\0" * 100, "image/gif", 415, "unsupported_format", id="gif"),
    pytest.param(lambda: b"", "image/png", 400, "bad_request", id="empty"),
    pytest.param(lambda: image_bytes(), "text/plain", 415, "unsupported_media_type", id="wrong-content-type"),
    pytest.param(lambda: image_bytes(size=8), "image/png", 422, "image_too_small", id="too-small"),
]


@pytest.mark.parametrize(("make", "ctype", "status", "code"), BAD_UPLOADS)
async def test_bad_uploads_get_a_clear_4xx_and_the_daemon_still_answers(
    daemons: Daemons, make: object, ctype: str, status: int, code: str
) -> None:
    server = await daemons.start()
    async with client(server) as http:
        response = await http.post("/v1/protect", params={**CANON_QUERY, "wait": "1"}, data=make(),  # type: ignore[operator]
                                   headers={"Content-Type": ctype})  # fmt: skip
        body = await response.json()
        assert (response.status, body["error"]) == (status, code), body
        assert body["detail"] and "\n" not in body["detail"]
        assert (await http.get("/v1/health")).status == 200
        assert (await http.get("/v1/status")).status == 200


async def test_too_many_pixels_names_the_serve_flag_that_raises_the_limit(daemons: Daemons) -> None:
    server = await daemons.start(max_pixels=1000)  # what `artshade serve --max-megapixels` sets
    async with client(server) as http:
        response = await http.post("/v1/protect", params={"wait": "1"}, data=image_bytes(size=64),
                                   headers={"Content-Type": "image/png"})  # fmt: skip
        body = await response.json()
        assert (response.status, body["error"]) == (422, "image_too_large"), body
        assert "64x64 is 0.0041 megapixels" in body["detail"]
        assert "`artshade serve --max-megapixels N`" in body["detail"]


async def test_oversize_body_is_413_and_the_daemon_still_answers(daemons: Daemons) -> None:
    server = await daemons.start(max_body=1 * MB)
    big = image_bytes() + b"\0" * (2 * MB)
    async with client(server) as http:
        response = await http.post("/v1/protect", data=big, headers={"Content-Type": "image/png"})
        body = await response.json()
        assert response.status == 413 and body["error"] == "body_too_large"
        assert "`artshade serve --max-body-mb N`" in body["detail"]
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("image", big, filename="big.png", content_type="image/png")
        response = await http.post("/v1/protect", data=form)
        body = await response.json()
        assert response.status == 413 and body["error"] == "body_too_large"
        assert "`artshade serve --max-body-mb N`" in body["detail"]
    async with client(server) as http:
        assert (await http.get("/v1/health")).status == 200


@pytest.mark.parametrize(
    "query",
    [
        {"preset": "ultra"},
        {"colour": "red"},
        {"target_image": "relative.png"},  # machine-level, open to the command line: but a bad value
        {"device": "quantum"},
        {"seed": "-1"},
        {"seed": "1.5"},
        {"intensity": ""},  # a name given must have a value (the extension leaves empty ones out)
        {"target": "mosaic"},
        {"target": "0" * 65},
    ],
)
async def test_bad_settings_are_422(daemons: Daemons, query: dict[str, str]) -> None:
    server = await daemons.start()
    async with client(server) as http:
        response = await http.post(
            "/v1/protect", params=query, data=image_bytes(), headers={"Content-Type": "image/png"}
        )
        body = await response.json()
        assert (response.status, body["error"]) == (422, "bad_settings"), body


async def test_unknown_job_is_404_and_unfinished_result_409(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server) as http:
        for path in ("", "/result", "/report", "/events"):
            response = await http.get(f"/v1/jobs/{'f' * 32}{path}")
            assert response.status == 404 and (await response.json())["error"] == "not_found"
