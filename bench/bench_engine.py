"""Engine benchmark: the engine beside the trivial baseline and a naive attack, at equal colour SSIM.

    python3 bench/bench_engine.py --images DIR [--models DIR] [--first K] [--count N] [--curve N] [--cleanups]
                                  [--timing]

Everything runs in one process, in float32, on the benchmark's held-out pictures (``eval_split.HELD_OUT``,
never tuned on), each at its Instagram size, toward two kinds of target the engine was never tuned with:

- ``unrelated``: another picture (``eval_split.BENCH_TARGETS``, none of them used while tuning);
- ``restyle``: the picture itself redrawn by an image filter the engine does not have (OpenCV's
  ``stylization``, an edge-preserving watercolour filter), as a style-mimicry target would be.

Each target is fitted to the picture once, as the engine fits a target image (scaled to cover the picture,
centre-cropped: ``fitted``), and that one picture is what every method is handed and what every pull is
measured toward.  (Until engine 3.6 the bench measured toward the target stretched to the picture's size
while the engine aimed at its cover fit: the figures were toward a picture the engine was not aiming at.)

Methods, each handed the same target as an image:

- ``blend``: the trivial attack, the target blended into the picture (``x + a (t - x)``) at the same
  colour SSIM as the engine's result: the figure the engine must beat by far;
- ``naive``: L-inf sign-PGD at full resolution, 8/255, 20 steps, one view (short side 512, centre crop),
  then brought to the same colour SSIM;
- ``fast`` and ``default``: this engine, ``--preset fast`` and ``--preset default`` (default intensity).

Pull is ``1 - |E(p) - E(t)| / |E(x) - E(t)|`` after the Instagram profile (real Pillow resize + JPEG q75
4:2:0), on a scraper's view (short side 512, centre crop: ``pull``), averaged over other scrapers' views
(short sides 480 to 768, and the crop moved 3 px: ``spread``, ``measure.SPREAD_VIEWS``; a change fitted to
the measured view's phase pulls far less there), and on the whole picture as a trainer that
buckets by aspect ratio sees it (about 1 MP, sides in multiples of 64, no crop: ``bucket``); ``border`` is
the weaker outer sixth's latent change over the centre's on that view; ``proxy`` the pull on the transfer
proxy the engine never optimises against; ``worst`` (with ``--cleanups``) the smallest pull left after the
clean-ups an attacker would try first (``shading/purify.py``); ``gain`` is pull over blend's pull at the same
colour SSIM.  ``--curve N`` adds pull against colour SSIM for the three intensities and for ``--preset max``
on the first N pictures (unrelated targets), with the blend at each one's SSIM; ``--timing`` times the whole
``artshade protect`` command on a 1080x1350 upload (median of 3, fast and default in turn) and the warm
engine call as the daemon makes it.  Seconds depend on the machine and on what else it runs: compare ratios
from one run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_split import BENCH_TARGETS, HELD_OUT  # noqa: E402
from machine import cpu_name  # noqa: E402

COLUMNS = ("sec", "ssim", "flat_de", "peak", "pull", "spread", "bucket", "border", "proxy", "worst", "gain")


def naive_pgd(
    x: Image.Image, target: Image.Image, encoder, *, eps: float = 8 / 255, steps: int = 20
) -> Image.Image:
    """L-inf sign-PGD at full resolution toward E(view(target)); no budget map, no EOT."""
    from artshade.shading.tensors import resize, to_pil, to_tensor

    xt = to_tensor(x)
    h, w = xt.shape[-2:]
    scale = 512 / min(h, w)
    vh, vw = max(512, round(h * scale)), max(512, round(w * scale))
    top, left = (vh - 512) // 2, (vw - 512) // 2

    def view(img: torch.Tensor) -> torch.Tensor:
        return resize(img, vh, vw)[..., top : top + 512, left : left + 512]

    with torch.no_grad():
        zt = encoder.encode(view(to_tensor(target.resize(x.size))))
    delta = torch.zeros_like(xt, requires_grad=True)
    alpha = 2.5 * eps / steps
    for _ in range(steps):
        loss = (encoder.encode(view(xt + delta)) - zt).pow(2).mean()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta -= alpha * grad.sign()
            delta.clamp_(-eps, eps)
    return to_pil((xt + delta.detach()).clamp(0, 1))


def fitted(target: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``target`` at ``size`` (width, height), fitted as the engine fits a target image: scaled to cover,
    centre-cropped, so the engine's own fit leaves it as it is."""
    from artshade.shading.tensors import fit_cover, to_pil, to_tensor

    return to_pil(fit_cover(to_tensor(target.convert("RGB")), size[1], size[0]))


def restyle(x: Image.Image) -> Image.Image:
    """The picture redrawn by OpenCV's stylization (an edge-preserving watercolour filter)."""
    import cv2

    bgr = np.asarray(x.convert("RGB"))[..., ::-1].copy()
    out = cv2.stylization(bgr, sigma_s=60, sigma_r=0.45)
    return Image.fromarray(out[..., ::-1].copy())


def at_ssim(original: Image.Image, changed: Image.Image, goal: float) -> Image.Image:
    """``original`` plus the change toward ``changed``, scaled (up to 3x) so the saved 8-bit picture has
    colour SSIM ``goal``: the blend baseline when ``changed`` is the target, and how the naive attack is
    brought to the engine's visibility."""
    from artshade.shading.perceptual import colour_ssim
    from artshade.shading.tensors import to_pil, to_tensor

    x = to_tensor(original)
    d = to_tensor(changed.convert("RGB").resize(original.size, Image.Resampling.BICUBIC)) - x

    def saved(a: float) -> torch.Tensor:
        return ((x + a * d).clamp(0, 1) * 255).round() / 255

    lo, hi = 0.0, 3.0
    if float(colour_ssim(x, saved(hi))[0]) >= goal:
        return to_pil(saved(hi))
    for _ in range(16):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(colour_ssim(x, saved(mid))[0]) >= goal else (lo, mid)
    return to_pil(saved(lo))


def measure(
    encoders: dict, original: Image.Image, protected: Image.Image, target: Image.Image, cleanups: bool
) -> dict[str, float]:
    from artshade.shading.measure import encode_view, pull_value, spread_pull, whole_picture
    from artshade.shading.purify import PURIFIERS
    from artshade.shading.transforms.platform import PROFILES, apply_real
    from artshade.shading.visibility import visibility_report

    seen = visibility_report(original, protected)
    row = {"ssim": seen["ssim_colour"], "flat_de": seen["flat_delta_e_p95"], "peak": seen["periodic_peak"]}
    insta = PROFILES["instagram"]
    posted = apply_real(protected, insta)
    taef2 = encoders["taef2"]
    zx, zt = encode_view(taef2, original), encode_view(taef2, target.resize(original.size))
    row["pull"] = pull_value(encode_view(taef2, posted), zx, zt)
    row["spread"] = spread_pull(taef2, original, posted, target)
    whole = whole_picture(taef2, original, posted, target)
    row["bucket"], row["border"] = whole["pull"], whole["border_balance"]
    if "proxy" in encoders:
        px, pt = (
            encode_view(encoders["proxy"], original),
            encode_view(encoders["proxy"], target.resize(original.size)),
        )
        row["proxy"] = pull_value(encode_view(encoders["proxy"], posted), px, pt)
    if cleanups:
        kept = protected.resize(insta.kept_size(*protected.size), Image.Resampling.LANCZOS)
        row["worst"] = min(
            pull_value(encode_view(taef2, apply_real(clean(kept), insta)), zx, zt)
            for clean in PURIFIERS.values()
        )
    return row


def fmt_row(label: str, values: dict[str, float]) -> str:
    cells = []
    for c in COLUMNS:
        v = values.get(c, float("nan"))
        cells.append(f"{v:7.0f}" if c == "peak" else f"{v:7.1f}" if c in ("sec", "gain") else f"{v:7.3f}")
    return f"{label:34} " + " ".join(cells)


def header(threads: int) -> str:
    cpu = cpu_name()
    from artshade.shading.device import native_cpu_bf16
    from artshade.shading.settings import ENGINE_VERSION

    return (f"# {datetime.date.today().isoformat()}  engine {ENGINE_VERSION}  {cpu}  {os.cpu_count()} cores, "
            f"{threads} threads  torch {torch.__version__}  float32 for every method (bf16 on this CPU: "
            f"{'yes' if native_cpu_bf16() else 'no'})  load average at start "
            f"{os.getloadavg()[0]:.1f}")  # fmt: skip


def shade(
    x: Image.Image, target_path: Path, preset: str, intensity: str, folder: Path
) -> tuple[Image.Image, float]:
    from artshade.shading import Settings, protect

    settings = Settings(preset=preset, intensity=intensity, platform="instagram", target_image=target_path)
    t0 = time.perf_counter()
    result = protect(x, settings, models_dir=folder, measure=False)
    return result.image.convert("RGB"), time.perf_counter() - t0


def compare(args: argparse.Namespace, work: Path, folder: Path, encoders: dict) -> None:
    print(f"{'picture [target] method':34} " + " ".join(f"{c:>7}" for c in COLUMNS))
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    for i, rel in enumerate(HELD_OUT[: args.first + args.count]):
        if i < args.first:
            continue
        x = instagram_size(Path(args.images) / rel)
        with Image.open(Path(args.images) / BENCH_TARGETS[i % len(BENCH_TARGETS)]) as im:
            unrelated = fitted(im, x.size)
        for kind, target in (("unrelated", unrelated), ("restyle", restyle(x))):
            target_path = work / f"{Path(rel).stem}.{kind}.png"
            target.save(target_path)
            out: dict[str, tuple[Image.Image, float]] = {
                "default": shade(x, target_path, "default", "default", folder),
                "fast": shade(x, target_path, "fast", "default", folder),
            }
            goal = measure({"taef2": encoders["taef2"]}, x, out["default"][0], target, False)["ssim"]
            t0 = time.perf_counter()
            naive = naive_pgd(x, target, encoders["taef2"])
            out["naive"] = (at_ssim(x, naive, goal), time.perf_counter() - t0)
            out["blend"] = (at_ssim(x, target, goal), 0.0)
            measured = {m: measure(encoders, x, img, target, args.cleanups) for m, (img, _) in out.items()}
            for method in ("blend", "naive", "fast", "default"):
                row = {"sec": out[method][1], **measured[method]}
                # gain at the method's own SSIM: fast's blend is recomputed where its SSIM differs
                if method == "fast" and abs(row["ssim"] - measured["blend"]["ssim"]) > 0.002:
                    blend = measure(encoders, x, at_ssim(x, target, row["ssim"]), target, False)["pull"]
                else:
                    blend = measured["blend"]["pull"]
                row["gain"] = row["pull"] / blend if blend > 1e-3 else float("nan")
                rows.setdefault((kind, method), []).append(row)
                print(fmt_row(f"{Path(rel).stem[:18]} [{kind}] {method}", row), flush=True)
    start = f" from number {args.first + 1}" if args.first else ""
    print(f"\nmeans over {args.count} held-out pictures{start}, Instagram profile, equal colour SSIM")
    print(f"{'target / method':34} " + " ".join(f"{c:>7}" for c in COLUMNS))
    for (kind, method), got in rows.items():
        means = {c: statistics.mean(r[c] for r in got if c in r) for c in COLUMNS if any(c in r for r in got)}
        print(fmt_row(f"{kind} / {method}", means))


def curve(args: argparse.Namespace, work: Path, folder: Path, encoders: dict) -> None:
    print(
        "\npull against colour SSIM: the intensities (default preset) and max (unrelated target, Instagram)"
    )
    names = ("sec", "ssim", "flat_de", "peak", "pull", "spread", "bucket", "blend", "gain")
    print(f"{'picture':20} {'setting':16} " + " ".join(f"{c:>7}" for c in names))
    for rel in HELD_OUT[args.first : args.first + args.curve]:
        x = instagram_size(Path(args.images) / rel)
        target_path = work / f"{Path(rel).stem}.unrelated.png"
        with Image.open(target_path) as im:
            target = im.convert("RGB")
        for preset, intensity in (
            ("default", "low"),
            ("default", "default"),
            ("default", "high"),
            ("max", "default"),
        ):
            img, sec = shade(x, target_path, preset, intensity, folder)
            row = measure({"taef2": encoders["taef2"]}, x, img, target, False)
            blend = measure({"taef2": encoders["taef2"]}, x, at_ssim(x, target, row["ssim"]), target, False)[
                "pull"
            ]
            cells = [sec, row["ssim"], row["flat_de"], row["peak"], row["pull"], row["spread"], row["bucket"],
                     blend, row["pull"] / blend if blend > 1e-3 else float("nan")]  # fmt: skip
            label = f"{preset}/{intensity}"
            print(f"{Path(rel).stem[:20]:20} {label:16} " + " ".join(f"{c:7.3f}" for c in cells), flush=True)


def timing(args: argparse.Namespace, work: Path, folder: Path) -> None:
    from artshade.shading import Settings, protect

    with Image.open(Path(args.images) / HELD_OUT[3]) as im:
        upload = im.convert("RGB").resize((1080, 1350), Image.Resampling.LANCZOS)
    src = work / "upload.jpg"
    upload.save(src, quality=95)
    print("\n1080x1350 upload, --platform instagram: the whole `artshade protect` command (median of 3);")
    print("plain: as an artist runs it (it prints SSIM and the pull, so it measures them); --quiet: nothing")
    env = {**os.environ, "ARTSHADE_PRECISION": "fp32"}
    times: dict[tuple[str, bool], list[float]] = {
        (p, q): [] for p in ("fast", "default") for q in (False, True)
    }
    for run in range(3):
        for preset, quiet in times:
            out = work / f"upload.{preset}.{run}.{quiet}.jpg"
            cmd = ["artshade", "protect", str(src), "-o", str(out), "--preset", preset, "--platform",
                   "instagram", "--models", str(folder), *(["--quiet"] if quiet else [])]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stderr=subprocess.DEVNULL)
            times[preset, quiet].append(time.perf_counter() - t0)
    for (preset, quiet), got in times.items():
        kind = "--quiet" if quiet else "plain"
        print(
            f"{preset:8} {kind:8} median {statistics.median(got):6.1f} s  "
            f"(runs: {', '.join(f'{t:.1f}' for t in got)})"
        )
    print("warm engine call, as the daemon makes it (after one warm-up call; median of 3)")
    for preset in ("fast", "default"):
        settings = Settings(preset=preset, platform="instagram")
        protect(upload, settings, models_dir=folder, measure=False)
        got = []
        for _ in range(3):
            t0 = time.perf_counter()
            protect(upload, settings, models_dir=folder, measure=False)
            got.append(time.perf_counter() - t0)
        print(
            f"{preset:8} median {statistics.median(got):6.1f} s  (runs: {', '.join(f'{t:.1f}' for t in got)})"
        )


def instagram_size(path: Path) -> Image.Image:
    from artshade.shading.transforms.platform import PROFILES

    with Image.open(path) as im:
        x = im.convert("RGB")
    size = PROFILES["instagram"].kept_size(*x.size)
    return x.resize(size, Image.Resampling.LANCZOS) if size != x.size else x


def main() -> int:
    from artshade.allocator import keep_freed_memory

    keep_freed_memory()  # as `artshade` (and so the daemon) runs the engine: its seconds are theirs
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=os.environ.get("ARTSHADE_EVAL_IMAGES"),
                    help="the eval-images folder (default: $ARTSHADE_EVAL_IMAGES)")  # fmt: skip
    ap.add_argument("--models", type=Path, default=None, help="models folder (default: the CLI's lookup)")
    ap.add_argument("--count", type=int, default=4, help="how many held-out pictures")
    ap.add_argument(
        "--first", type=int, default=0, help="skip this many held-out pictures (their targets too)"
    )
    ap.add_argument("--curve", type=int, default=2, help="pictures for the intensity curve (0: none)")
    ap.add_argument("--cleanups", action="store_true", help="also the worst pull after the clean-ups")
    ap.add_argument("--timing", action="store_true", help="time the whole command on a 1080x1350 upload")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    if args.images is None or not Path(args.images).is_dir():
        raise SystemExit(
            "bench_engine: pass --images DIR (the eval-images folder) or set ARTSHADE_EVAL_IMAGES"
        )
    os.environ["ARTSHADE_PRECISION"] = "fp32"
    torch.set_num_threads(args.threads)
    from artshade.shading import models
    from artshade.shading.api import transfer_proxy

    folder = models.models_dir(args.models)
    encoders = {"taef2": models.load_encoder("taef2", folder=folder, with_decoder=False)}
    proxy = transfer_proxy(torch.device("cpu"))
    if proxy is not None:
        encoders["proxy"] = proxy
    print(header(args.threads))
    work = Path(tempfile.mkdtemp(prefix="artshade-bench-"))
    compare(args, work, folder, encoders)
    if args.curve:
        curve(args, work, folder, encoders)
    if args.timing:
        timing(args, work, folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
