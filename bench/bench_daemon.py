"""How much the daemon adds on top of the engine, and how fast it answers health/status under load.

    python bench/bench_daemon.py [--requests 200] [--concurrency 16] [--real]

Runs a daemon on an ephemeral loopback port in temporary folders.  The API overhead is measured with an
engine stand-in that returns a ready result at once, so the numbers exclude shading and include
everything else a request pays: reading the body, hashing, keeping the input, SQLite records, the hop
to the engine thread and back, caching the result and sending it.  ``--real`` also times one real
shading (tiny weights from ARTSHADE_MODELS) directly and through the API, after a warm-up.  Bounded
loops; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

TOKEN = "bench-" + "t" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(size: int = 64, variant: int = 0) -> bytes:
    im = Image.new("RGB", (size, size), ((variant * 7) % 256, (variant * 13) % 256, 90))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


class InstantEngine:
    """Returns a prepared result at once; ``busy`` holds a call until released (for load tests)."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.hold = threading.Event()
        self.hold.set()

    def __call__(self, data: bytes, settings: Any, *, progress: Any, **_: Any) -> Any:
        progress(0.5, "bench")
        while not self.hold.wait(0.01):
            progress(0.5, "held")
        return self.result


def config(root: Path, engine: Any, **extra: Any) -> Any:
    from artshade.daemon.config import DaemonConfig

    return DaemonConfig(port=0, token=TOKEN, config_dir=root / "config", data_dir=root / "data",
                        cache_dir=root / "cache", watch_folders=False, engine=engine, queue_size=4096,
                        **extra)  # fmt: skip


def ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


async def time_protect(url: str, n: int) -> list[float]:
    """Sequential ``?wait=1`` uploads, each a different image (no cache hits)."""
    samples = []
    async with aiohttp.ClientSession(url, headers=AUTH) as http:
        for i in range(n):
            body = png(variant=i) + i.to_bytes(4, "big")  # unique bytes; still starts as a PNG
            t0 = time.perf_counter()
            response = await http.post("/v1/protect", params={"wait": "1", "preset": "fast"}, data=body,
                                       headers={"Content-Type": "image/png"})  # fmt: skip
            await response.read()
            samples.append(time.perf_counter() - t0)
            assert response.status == 200, response.status
    return samples


async def time_async_job(url: str, n: int) -> list[float]:
    """202 + SSE until done, per upload."""
    samples = []
    async with aiohttp.ClientSession(url, headers=AUTH) as http:
        for i in range(n):
            body = png(variant=i) + (10**6 + i).to_bytes(4, "big")
            t0 = time.perf_counter()
            job = await (
                await http.post("/v1/protect", data=body, headers={"Content-Type": "image/png"})
            ).json()
            async with http.get(f"/v1/jobs/{job['id']}/events") as stream:
                await stream.read()
            result = await http.get(f"/v1/jobs/{job['id']}/result")
            await result.read()
            samples.append(time.perf_counter() - t0)
    return samples


async def throughput(url: str, path: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    samples: list[float] = []
    remaining = iter(range(total))

    async def worker(http: aiohttp.ClientSession) -> None:
        for _ in remaining:
            t0 = time.perf_counter()
            response = await http.get(path)
            await response.read()
            samples.append(time.perf_counter() - t0)
            assert response.status == 200

    async with aiohttp.ClientSession(
        url, headers=AUTH, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return total / (time.perf_counter() - t0), samples


async def main(args: argparse.Namespace) -> None:
    from artshade.daemon.http.server import running
    from artshade.daemon.jobs.cache import Result
    from artshade.shading.settings import Settings

    rows: list[tuple[str, str, str, str]] = []
    ready = Result(png(), "png", "image/png", 64, 64, {"bench": True})
    engine = InstantEngine(ready)
    with tempfile.TemporaryDirectory() as tmp:
        async with running(config(Path(tmp), engine), write_runtime_file=False) as server:
            url = server.url
            await time_protect(url, 5)  # warm up
            direct = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                engine(b"", Settings(preset="fast"), progress=lambda f, s: None)
                direct.append(time.perf_counter() - t0)
            d50, d95 = ms(direct)
            rows.append(("engine called directly (stand-in)", f"{d50:.3f}", f"{d95:.3f}", "-"))
            added, p95 = ms(await time_protect(url, args.requests))
            rows.append(("POST /v1/protect?wait=1 (added by the API)", f"{added:.2f}", f"{p95:.2f}", "-"))
            a50, a95 = ms(await time_async_job(url, max(10, args.requests // 4)))
            rows.append(("POST 202 + SSE + GET result (added)", f"{a50:.2f}", f"{a95:.2f}", "-"))
            for path in ("/v1/health", "/v1/status"):
                rate, samples = await throughput(url, path, args.requests * 5, args.concurrency)
                q50, q95 = ms(samples)
                rows.append(
                    (
                        f"GET {path}, {args.concurrency} clients, idle",
                        f"{q50:.2f}",
                        f"{q95:.2f}",
                        f"{rate:.0f}",
                    )
                )
            # now with a job occupying the engine thread
            engine.hold.clear()
            async with aiohttp.ClientSession(url, headers=AUTH) as http:
                await http.post("/v1/protect", data=png(variant=999), headers={"Content-Type": "image/png"})
            for path in ("/v1/health", "/v1/status"):
                rate, samples = await throughput(url, path, args.requests * 5, args.concurrency)
                q50, q95 = ms(samples)
                rows.append(
                    (
                        f"GET {path}, {args.concurrency} clients, engine busy",
                        f"{q50:.2f}",
                        f"{q95:.2f}",
                        f"{rate:.0f}",
                    )
                )
            engine.hold.set()

        if args.real:
            from artshade import shading

            data, settings = png(64, 1), Settings(preset="fast")
            # both in a worker thread, as the daemon runs it (torch's CPU threading differs on the main
            # thread)
            await asyncio.to_thread(
                shading.protect_bytes, data, settings.replace(seed=2)
            )  # warm up: load models
            direct_s, api_s = [], []
            for attempt in range(3):  # alternate, same image and settings; each daemon has an empty cache
                t0 = time.perf_counter()
                await asyncio.to_thread(shading.protect_bytes, data, settings)
                direct_s.append(time.perf_counter() - t0)
                async with (
                    running(config(Path(tmp) / f"real{attempt}", None), write_runtime_file=False) as server,
                    aiohttp.ClientSession(server.url, headers=AUTH) as http,
                ):
                    t0 = time.perf_counter()
                    response = await http.post("/v1/protect", params={"wait": "1", "preset": "fast"},
                                               data=data, headers={"Content-Type": "image/png"})  # fmt: skip
                    await response.read()
                    api_s.append(time.perf_counter() - t0)
            real_direct, real_api = statistics.median(direct_s), statistics.median(api_s)
            rows.append(
                ("real shading 64x64 fast, direct (median of 3)", f"{real_direct * 1000:.0f}", "-", "-")
            )
            rows.append(
                (
                    f"real shading via API (ratio {real_api / real_direct:.3f})",
                    f"{real_api * 1000:.0f}",
                    "-",
                    "-",
                )
            )

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}  {'req/s':>7}")
    for name, p50s, p95s, rates in rows:
        print(f"{name:<{width}}  {p50s:>9}  {p95s:>9}  {rates:>7}")
    print(f"\nadded latency per request, excluding shading: {added:.2f} ms median (target < 20 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--real", action="store_true", help="also time one real shading (slow on a busy CPU)")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    asyncio.run(main(parser.parse_args()))
