"""GET/PUT /v1/settings: validated, saved atomically, applied to uploads (site profiles) and watch folders."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from artshade.daemon.jobs.cache import Result
from daemon_helpers import Canonical, Daemons, GatedEngine, client, image_bytes

PNG = {"Content-Type": "image/png"}


async def test_put_then_get_and_persisted(daemons: Daemons) -> None:
    config = daemons.config()
    server = await daemons.start(config)
    wanted = {"defaults": {"preset": "fast"}, "sites": {"www.instagram.com": {"platform": "instagram"}}}
    async with client(server) as http:
        assert (await (await http.get("/v1/settings")).json())["defaults"]["preset"] == "default"
        response = await http.put("/v1/settings", json=wanted)
        assert response.status == 200
        saved = await response.json()
        assert saved["sites"] == {"instagram.com": {"platform": "instagram"}}
        assert await (await http.get("/v1/settings")).json() == saved
    assert json.loads(config.settings_path.read_text()) == saved
    await daemons.stop(server)
    again = await daemons.start(config)
    async with client(again) as http:
        assert await (await http.get("/v1/settings")).json() == saved


async def test_bad_settings_are_refused_and_nothing_changes(daemons: Daemons) -> None:
    config = daemons.config()
    server = await daemons.start(config)
    async with client(server) as http:
        good = await (await http.put("/v1/settings", json={"defaults": {"intensity": "high"}})).json()
        bads: list[object] = [
            {"defaults": {"preset": "ultra"}},
            {"sites": []},
            [1, 2],
            {"watch_folders": [{"inbox": "x"}]},
        ]
        for bad in bads:
            response = await http.put("/v1/settings", json=bad)
            assert response.status == 422, bad
            assert (await response.json())["error"] == "bad_settings"
        response = await http.put(
            "/v1/settings", data=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert await (await http.get("/v1/settings")).json() == good
    assert json.loads(config.settings_path.read_text()) == good


async def test_site_profile_and_defaults_reach_the_engine(daemons: Daemons, canonical: Canonical) -> None:
    engine = GatedEngine(Result(canonical.result, "png", "image/png", 64, 64, canonical.report))
    engine.release.set()
    server = await daemons.start(engine=engine)
    async with client(server) as http:
        await http.put(
            "/v1/settings", json={"defaults": {"preset": "fast"}, "sites": {"x.com": {"platform": "x"}}}
        )
        for site, intensity in (("mobile.x.com", "high"), ("example.org", None)):
            params = {"wait": "1", "site": site, **({"intensity": intensity} if intensity else {})}
            response = await http.post(
                "/v1/protect", params=params, data=image_bytes(variant=len(site)), headers=PNG
            )
            assert response.status == 200
    x, other = engine.settings
    assert (x.preset, x.platform, x.intensity) == ("fast", "x", "high")
    assert (other.preset, other.platform, other.intensity) == ("fast", "none", "default")


async def test_watch_folder_configured_over_http_shades_through_the_queue(
    daemons: Daemons, canonical: Canonical, tmp_path: Path
) -> None:
    config = daemons.config(cache_dir=tmp_path / "cache", watch_folders=True)
    shutil.copytree(canonical.cache_dir, config.cache_dir)  # the real result is known: no second shading
    server = await daemons.start(config)
    inbox, outbox = tmp_path / "pictures" / "inbox", tmp_path / "pictures" / "protected"
    inbox.mkdir(parents=True)
    async with client(server) as http:
        response = await http.put(
            "/v1/settings",
            json={
                "defaults": {"preset": "fast"},
                "watch_folders": [{"inbox": str(inbox), "outbox": str(outbox)}],
            },
        )
        assert response.status == 200, await response.text()
        status = await (await http.get("/v1/status")).json()
        assert status["watch_folders"]["running"] == [{"inbox": str(inbox), "outbox": str(outbox)}]
        (inbox / "art.png").write_bytes(canonical.image)
        for _ in range(600):
            if (outbox / "art.png").exists():
                break
            await asyncio.sleep(0.1)
        assert (outbox / "art.png").read_bytes() == canonical.result
        assert (inbox / "art.png").read_bytes() == canonical.image  # the original is untouched
        await http.put("/v1/settings", json={"defaults": {"preset": "fast"}})
        assert (await (await http.get("/v1/status")).json())["watch_folders"]["running"] == []
