"""POST /v1/check: a picture saved from a site, checked against the upload the daemon protected, with the
access rule that a paired extension checks only its own jobs."""

from __future__ import annotations

import io
import json
import stat
import time
from pathlib import Path

import pytest
from artshade.daemon.jobs.checks import CheckStore
from daemon_helpers import CHROME_ORIGIN, FIREFOX_ORIGIN, Daemons, client, wait_for_state
from PIL import Image

from artshade.pairing import PairingStore


def jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def artwork(eval_images: Path, name: str, side: int = 448) -> Image.Image:
    img = Image.open(eval_images / "artworks" / name).convert("RGB")
    img.thumbnail((side, side))
    return img


@pytest.mark.slow
async def test_check_a_posted_picture_own_jobs_only(
    daemons: Daemons, models_dir: Path, eval_images: Path, tmp_path: Path
) -> None:
    config = daemons.config(models_dir=models_dir, data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    server = await daemons.start(config)
    paired = PairingStore(config.pairing_path)
    mine, theirs = paired.issue_token(CHROME_ORIGIN), paired.issue_token(FIREFOX_ORIGIN)
    buf = io.BytesIO()
    artwork(eval_images, "vangogh_starry_night.jpg").save(buf, "PNG")
    upload = buf.getvalue()

    async with client(server, token=mine, Origin=CHROME_ORIGIN) as ext:
        query = {"preset": "fast", "platform": "instagram"}
        answer = await ext.post("/v1/protect", params=query, data=upload,
                                headers={"Content-Type": "image/png"})  # fmt: skip
        assert answer.status == 202, await answer.text()
        job = (await answer.json())["id"]
        assert (await wait_for_state(ext, job, ("done", "error")))["state"] == "done"
        protected = Image.open(io.BytesIO(await (await ext.get(f"/v1/jobs/{job}/result")).read()))
        posted = jpeg(protected, 75)  # what Instagram serves for a picture this small

        # matched to the extension's own upload by its look, and by its job id
        for params in ({}, {"job": job}):
            answer = await ext.post(
                "/v1/check", params=params, data=posted, headers={"Content-Type": "image/jpeg"}
            )
            text = await answer.text()
            assert answer.status == 200, text
            result = json.loads(text)
            assert result["job"] == job and result["protection_found"], result
            assert result["kept"] >= 0.5 and result["site"]["profile"] == "instagram", result
            assert result["site"]["jpeg_quality"] == 75
            assert str(tmp_path) not in text and "/" not in result["summary"]  # no paths to an extension

        # the unshaded original posted: found as that job's picture, with no protection in it
        original = Image.open(io.BytesIO(upload))
        answer = await ext.post("/v1/check", data=jpeg(original, 75), headers={"Content-Type": "image/jpeg"})
        assert answer.status == 200 and not (await answer.json())["protection_found"]

        # another picture named as this job's: not the same artwork
        other = jpeg(artwork(eval_images, "munch_the_scream.jpg"), 75)
        answer = await ext.post(
            "/v1/check", params={"job": job}, data=other, headers={"Content-Type": "image/jpeg"}
        )
        assert answer.status == 422 and (await answer.json())["error"] == "not_same_artwork"
        # ... and with no job id, nothing of this extension's looks like it
        answer = await ext.post("/v1/check", data=other, headers={"Content-Type": "image/jpeg"})
        assert answer.status == 404

        # the same upload again is answered from the cache, and kept for a check as well
        again = await ext.post("/v1/protect", params={"preset": "fast", "platform": "instagram", "wait": "1"},
                               data=upload, headers={"Content-Type": "image/png"})  # fmt: skip
        assert again.status == 200
        second = again.headers["X-Artshade-Job"]
        answer = await ext.post("/v1/check", params={"job": second}, data=posted,
                                headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert answer.status == 200 and (await answer.json())["job"] == second

    # another extension sees neither the job nor a match among its own (none)
    async with client(server, token=theirs, Origin=FIREFOX_ORIGIN) as stranger:
        for params in ({"job": job}, {}):
            answer = await stranger.post("/v1/check", params=params, data=posted,
                                         headers={"Content-Type": "image/jpeg"})  # fmt: skip
            assert answer.status == 404, await answer.text()

    # the artist at the machine may check any job's picture
    async with client(server) as cli:
        answer = await cli.post("/v1/check", data=posted, headers={"Content-Type": "image/jpeg"})
        assert answer.status == 200 and (await answer.json())["job"] in (job, second)

    kept = tmp_path / "data" / "checks" / job
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700
    assert {p.name for p in kept.iterdir()} == {"original", "protected", "report.json", "meta.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept.iterdir())


async def test_check_refuses_bad_bodies(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server) as cli:
        answer = await cli.post("/v1/check", data=b"hello", headers={"Content-Type": "image/png"})
        assert answer.status == 415 and (await answer.json())["error"] == "unsupported_format"
        answer = await cli.post("/v1/check", data=b"", headers={"Content-Type": "image/png"})
        assert answer.status == 400
        png = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 100, 50)).save(png, "PNG")
        answer = await cli.post("/v1/check", params={"job": "0" * 32}, data=png.getvalue(),
                                headers={"Content-Type": "image/png"})  # fmt: skip
        assert answer.status == 404 and (await answer.json())["detail"] == "no such job"
        answer = await cli.post("/v1/check", data=png.getvalue(), headers={"Content-Type": "image/png"})
        assert answer.status == 404 and "no recent protected upload" in (await answer.json())["detail"]


def test_kept_uploads_are_pruned_with_the_job_records(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "checks")
    for job in ("a" * 32, "b" * 32):
        store.keep(job, original=b"o", protected=b"p", report={"targets": []}, owner=None, dhash=5)
    meta = tmp_path / "checks" / ("a" * 32) / "meta.json"
    old = json.loads(meta.read_text())
    old["created"] = time.time() - 31 * 86400
    meta.write_text(json.dumps(old))
    (tmp_path / "checks" / ("c" * 32)).mkdir()  # half written long ago: no meta.json
    import os

    os.utime(tmp_path / "checks" / ("c" * 32), (time.time() - 40 * 86400,) * 2)
    assert store.prune(30 * 86400) == 2
    assert [k.job_id for k in store.kept(everyone=True)] == ["b" * 32]
    assert store.get("../" + "b" * 29) is None
