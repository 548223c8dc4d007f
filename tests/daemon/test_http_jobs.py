"""The job queue through HTTP: cancellation, a burst of 50 requests, restarts, priorities."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time

import pytest
from artshade.daemon.http.keys import QUEUE
from artshade.shading.settings import Settings
from daemon_helpers import CANON_QUERY, Canonical, Daemons, GatedEngine, client, image_bytes, wait_for_state

PNG = {"Content-Type": "image/png"}


@pytest.mark.usefixtures("models_dir")
async def test_cancel_a_running_real_job(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server) as http:
        response = await http.post("/v1/protect", params={"preset": "fast", "seed": "7"},
                                   data=image_bytes(variant=3), headers=PNG)  # fmt: skip
        job = await response.json()
        await wait_for_state(http, job["id"], ("running",))
        cancelled = await http.delete(f"/v1/jobs/{job['id']}")
        assert cancelled.status == 200
        job = await wait_for_state(http, job["id"], ("cancelled", "done", "error"))
        assert job["state"] == "cancelled" and job["error"]["error"] == "cancelled"
        events = await (await http.get(f"/v1/jobs/{job['id']}/events")).text()
        assert events.count("event: ") == 1 and "event: cancelled" in events
        assert (await http.get(f"/v1/jobs/{job['id']}/result")).status == 409
        assert (await http.delete(f"/v1/jobs/{job['id']}")).status == 409  # already ended
        assert (await http.get("/v1/health")).status == 200


async def test_cancel_a_queued_job_and_health_answers_while_a_job_runs(daemons: Daemons) -> None:
    engine = GatedEngine()
    server = await daemons.start(engine=engine)
    async with client(server) as http:
        first = await (await http.post("/v1/protect", data=image_bytes(variant=1), headers=PNG)).json()
        second = await (await http.post("/v1/protect", data=image_bytes(variant=2), headers=PNG)).json()
        await wait_for_state(http, first["id"], ("running",))
        assert (await http.get("/v1/health")).status == 200  # the engine is busy; the loop is not
        status = await (await http.get("/v1/status")).json()
        assert status["queue"] == {"length": 1, "running": 1}
        response = await http.delete(f"/v1/jobs/{second['id']}")
        assert (await response.json())["state"] == "cancelled"
        engine.release.set()
    assert len(engine.calls) == 1  # the cancelled job never reached the engine


async def test_fifty_concurrent_requests_each_answered_none_lost(
    daemons: Daemons, canonical: Canonical
) -> None:
    """A burst bigger than the queue: every request gets 202 or 429 (with Retry-After); every accepted job
    ends done with the protected image.  The engine is held until the burst is over, then answers with
    the real protected image from the session's shading."""
    from artshade.daemon.jobs.cache import Result

    engine = GatedEngine(Result(canonical.result, "png", "image/png", 64, 64, canonical.report))
    server = await daemons.start(engine=engine, queue_size=5)
    async with client(server) as http:

        async def post(i: int) -> tuple[int, dict[str, str], dict[str, object]]:
            response = await http.post(
                "/v1/protect", params=CANON_QUERY, data=image_bytes(variant=i % 3), headers=PNG
            )
            return response.status, dict(response.headers), await response.json()

        answers = await asyncio.gather(*(post(i) for i in range(50)))
        statuses = [status for status, _, _ in answers]
        assert set(statuses) <= {202, 429} and len(statuses) == 50
        assert 5 <= statuses.count(202) <= 6 and statuses.count(429) >= 44
        for status, headers, body in answers:
            if status == 429:
                assert body["error"] == "queue_full" and int(headers["Retry-After"]) >= 1
                assert "(5 waiting; `artshade serve --queue-length N` raises it)" in body["detail"]
        engine.release.set()
        accepted = [body["id"] for status, _, body in answers if status == 202]
        for job_id in accepted:
            job = await wait_for_state(http, str(job_id), ("done", "error", "cancelled"))
            assert job["state"] == "done", job
            assert await (await http.get(job["result_url"])).read() == canonical.result
        assert (await (await http.get("/v1/status")).json())["queue"] == {"length": 0, "running": 0}


async def test_restart_keeps_finished_results(daemons: Daemons, canonical: Canonical) -> None:
    config = daemons.config(cache_dir=canonical.cache_dir)
    server = await daemons.start(config)
    async with client(server) as http:
        response = await http.post(
            "/v1/protect", params={**CANON_QUERY, "wait": "1"}, data=canonical.image, headers=PNG
        )
        job_id = response.headers["X-Artshade-Job"]
    await daemons.stop(server)
    again = await daemons.start(config)
    async with client(again) as http:
        job = await (await http.get(f"/v1/jobs/{job_id}")).json()
        assert job["state"] == "done"
        assert await (await http.get(f"/v1/jobs/{job_id}/result")).read() == canonical.result
        assert (await (await http.get(f"/v1/jobs/{job_id}/report")).json())["settings"]["preset"] == "fast"


async def test_restart_requeues_unfinished_jobs_whose_input_was_kept(
    daemons: Daemons, canonical: Canonical
) -> None:
    held = GatedEngine()  # never released: the first daemon is stopped mid-job
    config = daemons.config(engine=held, shutdown_timeout=5)
    server = await daemons.start(config)
    async with client(server) as http:
        running = await (
            await http.post("/v1/protect", params=CANON_QUERY, data=canonical.image, headers=PNG)
        ).json()
        waiting = await (await http.post("/v1/protect", params={**CANON_QUERY, "seed": "0"},
                                         data=canonical.image, headers=PNG)).json()  # fmt: skip
        await wait_for_state(http, running["id"], ("running",))
    await daemons.stop(server)
    # the real engine after the restart; the canonical result is in the cache, so no second shading
    shutil.copytree(canonical.cache_dir, config.cache_dir, dirs_exist_ok=True)
    again = await daemons.start(daemons.config(shutdown_timeout=5))
    async with client(again) as http:
        for job_id in (running["id"], waiting["id"]):
            job = await wait_for_state(http, job_id, ("done", "error", "cancelled"))
            assert job["state"] == "done", job
            assert await (await http.get(job["result_url"])).read() == canonical.result
    assert not list((config.data_dir / "inputs").iterdir())  # kept inputs are removed once done


async def test_restart_fails_unfinished_jobs_without_input_clearly(daemons: Daemons) -> None:
    held = GatedEngine()
    config = daemons.config(engine=held, shutdown_timeout=5)
    server = await daemons.start(config)
    async with client(server) as http:
        job = await (await http.post("/v1/protect", data=image_bytes(variant=5), headers=PNG)).json()
        await wait_for_state(http, job["id"], ("running",))
    await daemons.stop(server)
    for kept in (config.data_dir / "inputs").iterdir():
        kept.unlink()
    again = await daemons.start(daemons.config(engine=GatedEngine()))
    async with client(again) as http:
        job = await (await http.get(f"/v1/jobs/{job['id']}")).json()
        assert job["state"] == "error" and job["error"]["error"] == "interrupted"
        assert "send it again" in job["error"]["detail"]


async def test_interactive_uploads_run_before_batch_work(daemons: Daemons) -> None:
    engine = GatedEngine()
    server = await daemons.start(engine=engine)
    queue = server.app[QUEUE]
    settings = Settings(preset="fast")
    first = await queue.submit(b"batch-1", settings, priority="batch")
    await asyncio.sleep(0)  # the worker takes it
    batch_two = await queue.submit(b"batch-2", settings, priority="batch")
    interactive = await queue.submit(b"interactive", settings, priority="interactive")
    while not engine.started.is_set():
        await asyncio.sleep(0.01)
    engine.release.set()
    for job in (first, batch_two, interactive):
        await job.done_event.wait()
    assert engine.calls == [b"batch-1", b"interactive", b"batch-2"]


async def test_submit_bytes_from_another_thread(daemons: Daemons, canonical: Canonical) -> None:
    server = await daemons.start(cache_dir=canonical.cache_dir)
    queue = server.app[QUEUE]
    future = await asyncio.to_thread(queue.submit_bytes, canonical.image, Settings(preset="fast"), "batch")
    result = await asyncio.to_thread(future.result, 60)
    assert result.data == canonical.result and result.media_type == "image/png"
    bad = await asyncio.to_thread(queue.submit_bytes, b"\x89PNG\r\n\x1a\nbroken", Settings(preset="fast"))
    from artshade.shading.errors import InputError

    try:
        await asyncio.to_thread(bad.result, 60)
    except InputError as err:
        assert "\n" not in str(err)
    else:
        raise AssertionError("a broken picture must raise the engine's InputError")


async def test_progress_numbers_in_the_job_its_events_and_the_log(daemons: Daemons, caplog) -> None:
    """GET /v1/jobs/{id}, its progress events and the daemon log give percent, stage and time left."""
    from artshade.daemon.jobs.cache import Result

    halfway, release = threading.Event(), threading.Event()

    def engine(data: bytes, settings: Settings, *, progress, **_: object) -> Result:
        progress(0.1, "target")
        time.sleep(0.2)
        progress(0.5, "optimising")
        halfway.set()
        release.wait(60)
        progress(1.0, "done")
        return Result(data, "png", "image/png", 64, 64, {})

    caplog.set_level(logging.INFO, logger="artshade.daemon.jobs.queue")
    server = await daemons.start(engine=engine)
    async with client(server) as http:
        job = await (await http.post("/v1/protect", data=image_bytes(variant=5), headers=PNG)).json()
        assert (job["percent"], job["eta_s"]) == (0, None)
        assert await asyncio.to_thread(halfway.wait, 60)
        for _ in range(200):  # the engine thread's report reaches the event loop soon after
            running = await (await http.get(f"/v1/jobs/{job['id']}")).json()
            if running["percent"] == 50:
                break
            await asyncio.sleep(0.02)
        assert (running["state"], running["percent"], running["stage"]) == ("running", 50, "optimising")
        assert running["progress"] == 0.5 and running["eta_s"] is not None and running["eta_s"] >= 0
        release.set()
        done = await wait_for_state(http, job["id"], ("done",))
        assert (done["percent"], done["eta_s"]) == (100, None)
    lines = [r.getMessage() for r in caplog.records if job["id"] in r.getMessage()]
    assert any("50% optimising" in line and "left" in line for line in lines), lines
    assert any(line.startswith(f"job {job['id']}: done after") for line in lines), lines


async def test_one_extension_cannot_fill_the_queue_for_the_others(daemons: Daemons) -> None:
    """Each paired extension may hold half of the queue's places; another extension, and the artist, still
    get in.  A running job of its own can be cancelled by it."""
    from daemon_helpers import CHROME_ORIGIN, FIREFOX_ORIGIN

    from artshade.pairing import PairingStore

    engine = GatedEngine()
    config = daemons.config(engine=engine, queue_size=4)
    store = PairingStore(config.pairing_path)
    greedy, other = store.issue_token(CHROME_ORIGIN), store.issue_token(FIREFOX_ORIGIN)
    server = await daemons.start(config)
    async with client(server, token=greedy, Origin=CHROME_ORIGIN) as first:
        running = await (await first.post("/v1/protect", data=image_bytes(variant=30), headers=PNG)).json()
        await wait_for_state(first, running["id"], ("running",))
        statuses = [
            (await first.post("/v1/protect", data=image_bytes(variant=31 + i), headers=PNG)).status
            for i in range(4)
        ]
        assert statuses == [202, 202, 429, 429]  # its share: 2 of the 4 places
        refused = await first.post("/v1/protect", data=image_bytes(variant=40), headers=PNG)
        assert "share" in (await refused.json())["detail"] and refused.headers["Retry-After"]
        async with client(server, token=other, Origin=FIREFOX_ORIGIN) as second:
            assert (await second.post("/v1/protect", data=image_bytes(variant=41), headers=PNG)).status == 202
        async with client(server) as artist:
            assert (await artist.post("/v1/protect", data=image_bytes(variant=42), headers=PNG)).status == 202
        cancelled = await first.delete(f"/v1/jobs/{running['id']}")
        assert cancelled.status == 200
        job = await wait_for_state(first, running["id"], ("cancelled", "done", "error"))
        assert job["state"] == "cancelled"
        engine.release.set()
