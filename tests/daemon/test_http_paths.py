"""Paths stay at the machine: an extension sees names, never the artist's files and folders (errors,
reports, the report header, events, /v1/status); the artist at the machine sees everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from artshade.daemon.http.redact import redact_text
from artshade.daemon.jobs.cache import Result
from daemon_helpers import CHROME_ORIGIN, Daemons, client, image_bytes, read_sse, wait_for_state

from artshade.errors import ModelError
from artshade.pairing import PairingStore

SECRET = "/home/ann/Private/looks"


class ReportingEngine:
    """Finishes at once with a report naming the artist's files, as the engine's report does."""

    def __call__(self, data: bytes, settings: Any, **_: Any) -> Result:
        report = {
            "settings": {"preset": "fast", "target_image": f"{SECRET}/ink.png"},
            "targets": [{"kind": "image", "path": f"{SECRET}/ink.png", "size": [64, 64]}],
            "output": {"format": "png"},
        }
        return Result(image_bytes(variant=4), "png", "image/png", 64, 64, report)


class MissingModel:
    def __call__(self, data: bytes, settings: Any, **_: Any) -> Result:
        raise ModelError(f"model taesd is not installed in {SECRET}/cache/models; run "
                                    "`artshade models download taesd`")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"not installed in {SECRET}/cache/models; run it", "not installed in models; run it"),
        ("C:\\Users\\ann\\look.png.", "look.png."),
        ("~/Pictures/x.png", "x.png"),
        ("follow GET /v1/jobs/abc at http://127.0.0.1:47815/v1/jobs/abc", None),
        ("a pen/ink style", None),
    ],
)
def test_redaction_keeps_names_and_drops_folders(text: str, shown: str | None) -> None:
    assert redact_text(text) == (text if shown is None else shown)


async def extension_and_artist(daemons: Daemons, engine: Any):
    config = daemons.config(engine=engine)
    token = PairingStore(config.pairing_path).issue_token(CHROME_ORIGIN)
    return await daemons.start(config), token


async def test_an_extension_never_sees_the_paths_in_a_report(daemons: Daemons) -> None:
    server, token = await extension_and_artist(daemons, ReportingEngine())
    async with client(server, token=token, Origin=CHROME_ORIGIN) as extension:
        waited = await extension.post("/v1/protect?wait=1", data=image_bytes(variant=11),
                                      headers={"Content-Type": "image/png"})  # fmt: skip
        assert waited.status == 200
        assert "Private" not in waited.headers["X-Artshade-Report"]
        job_id = waited.headers["X-Artshade-Job"]
        report = await (await extension.get(f"/v1/jobs/{job_id}/report")).json()
        assert report["settings"]["target_image"] == "ink.png"
        assert report["targets"][0]["path"] == "ink.png"
        result = await extension.get(f"/v1/jobs/{job_id}/result")
        assert "Private" not in result.headers["X-Artshade-Report"]
    async with client(server) as artist:
        report = await (await artist.get(f"/v1/jobs/{job_id}/report")).json()
        assert report["settings"]["target_image"] == f"{SECRET}/ink.png"  # the artist's own machine


async def test_an_extension_never_sees_the_model_folder_in_an_error(daemons: Daemons) -> None:
    server, token = await extension_and_artist(daemons, MissingModel())
    async with client(server, token=token, Origin=CHROME_ORIGIN) as extension:
        waited = await extension.post("/v1/protect?wait=1", data=image_bytes(variant=12),
                                      headers={"Content-Type": "image/png"})  # fmt: skip
        body = await waited.json()
        assert body["error"] == "model_unavailable"
        assert "Private" not in body["detail"] and "models" in body["detail"]
        posted = await extension.post("/v1/protect", data=image_bytes(variant=13),
                                      headers={"Content-Type": "image/png"})  # fmt: skip
        job_id = (await posted.json())["id"]
        job = await wait_for_state(extension, job_id, ("error",), timeout=30)
        assert "Private" not in json.dumps(job)
        async with extension.get(f"/v1/jobs/{job_id}/events") as stream:
            events = await read_sse(stream)
        assert events and "Private" not in json.dumps(events)
        report = await extension.get(f"/v1/jobs/{job_id}/report")
        assert "Private" not in await report.text()
    async with client(server) as artist:
        job = await (await artist.get(f"/v1/jobs/{job_id}")).json()
        assert SECRET in job["error"]["detail"]


async def test_status_names_models_without_their_location(
    daemons: Daemons, monkeypatch: pytest.MonkeyPatch
) -> None:
    from artshade.shading import models

    rows = [{"name": "taesd", "installed": True, "used_by": ["preset fast"],
             "location": str(Path(SECRET) / "cache" / "taesd.safetensors")}]  # fmt: skip
    monkeypatch.setattr(models, "status", lambda folder=None: [dict(r) for r in rows])
    server, token = await extension_and_artist(daemons, ReportingEngine())
    async with client(server, token=token, Origin=CHROME_ORIGIN) as extension:
        status = await (await extension.get("/v1/status")).json()
        assert status["models"][0]["location"] == "taesd.safetensors"
        assert "Private" not in json.dumps(status)
    async with client(server) as artist:
        status = await (await artist.get("/v1/status")).json()
        assert status["models"][0]["location"] == rows[0]["location"]
