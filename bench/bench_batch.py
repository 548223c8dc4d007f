"""Throughput of ``artshade batch``: the same pictures with 1 and with 2 single-thread Ray workers.

    pip install -e '.[batch]' && python3 bench/bench_batch.py [--count 6] [--size 1080x1350] [--preset fast]

One embedded Ray (2 CPUs by default) for both runs; each run shades the same ``--count`` pictures (made by
code, like an upload of ``--size``) into its own empty folder, so nothing is skipped.  Printed: a header
naming the machine, then per run the wall time of the whole ``run_batch`` call (workers starting and loading
the weights included), pictures a minute, seconds per picture per core (wall x cores / pictures), the mean
seconds and CPU seconds a worker spent on a picture (the manifest's ``seconds`` and ``cpu_seconds``), and the
one-minute load average at the end (on a shared machine, other people's work shows there); then the 2-vs-1
ratio.  Compare figures from one run of this script only: the machine and its load are part of
each figure.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_name  # noqa: E402


def picture(width: int, height: int, seed: int) -> Image.Image:
    """A painted-looking upload: a graded sky, hills with grain, a few hundred strokes of nearby colours."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    t = (y / y.max())[..., None]
    top, bottom = rng.random(3) * 0.6 + 0.2, rng.random(3) * 0.6 + 0.3
    pixels = top * (1 - t) + bottom * t
    ground = y / y.max() > 0.55 + 0.08 * np.sin(x * 9 + seed)
    grain = 0.3 + 0.3 * rng.random((*x.shape, 3))
    pixels[ground] = grain[ground]
    im = Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(400):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        angle, length = rng.random() * np.pi, int(rng.integers(8, 40))
        here = np.array(im.getpixel((cx, cy)))
        colour = tuple(int(c) for c in np.clip(here + rng.integers(-40, 40, 3), 0, 255))
        draw.line((cx, cy, cx + length * np.cos(angle), cy + length * np.sin(angle)), fill=colour, width=4)
    return im.filter(ImageFilter.SMOOTH)


def header(args: argparse.Namespace) -> str:
    cpu = cpu_name()
    import ray
    import torch

    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"# {datetime.date.today().isoformat()}  {cpu}  {os.cpu_count()} cores  "
        f"load average {load} at start\n"
        f"# torch {torch.__version__}  ray {ray.__version__}  python {platform.python_version()}  "
        f"Ray CPUs {args.cpus}\n"
        f"# {args.count} pictures of {args.size}, --preset {args.preset} --target {args.target} "
        f"--platform {args.platform}, single-thread workers"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=6, help="pictures per run (default 6)")
    p.add_argument("--size", default="1080x1350", help="WxH of each picture (default 1080x1350)")
    p.add_argument("--preset", default="fast")
    p.add_argument("--target", default="auto")
    p.add_argument("--platform", default="instagram")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray (default 2)")
    p.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    p.add_argument("--models", type=Path, help="models folder (default: as the CLI finds it)")
    args = p.parse_args(argv)

    import ray
    from artshade.shading.settings import Settings

    from artshade.batch.run import Options, run_batch

    width, height = (int(v) for v in args.size.lower().split("x"))
    settings = Settings(preset=args.preset, target=args.target, platform=args.platform)
    print(header(args), flush=True)
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="artshade-bench-batch-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for i in range(args.count):
            picture(width, height, i).save(src / f"upload-{i:03d}.jpg", quality=92)
        ray.init(
            num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20
        )
        try:
            print(f"{'workers':>7} {'wall s':>7} {'pictures/min':>12} {'s/picture/core':>14} "
                  f"{'engine s':>8} {'CPU s':>6} {'load':>5}")  # fmt: skip
            for workers in (int(w) for w in args.workers.split(",")):
                out = Path(tmp) / f"out-{workers}"
                opts = Options(src=str(src), out=out, settings=settings, models_dir=args.models,
                               workers=workers, threads=1, quiet=True)  # fmt: skip
                t0 = time.perf_counter()
                outcome = run_batch(opts)
                wall = time.perf_counter() - t0
                if outcome.counts.get("shaded") != args.count:
                    print(
                        f"run with {workers} worker(s) did not shade everything: {outcome.counts}",
                        file=sys.stderr,
                    )
                    return 1
                import pyarrow.parquet as pq

                table = pq.read_table(outcome.manifest, columns=["seconds", "cpu_seconds"])
                engine, cpu = (sum(table.column(c).to_pylist()) / args.count for c in table.column_names)
                results[workers] = wall
                cores = workers * outcome.threads
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                print(
                    f"{workers:7d} {wall:7.1f} {args.count * 60 / wall:12.2f} "
                    f"{wall * cores / args.count:14.1f} {engine:8.1f} {cpu:6.1f} {load:5.1f}",
                    flush=True,
                )
        finally:
            ray.shutdown()
    if 1 in results and 2 in results:
        print(f"2 workers vs 1: {results[1] / results[2]:.2f}x the throughput (goal >= 1.7x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
