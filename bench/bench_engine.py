"""Engine benchmark: the engine beside the naive attack and the previous engine, at equal colour SSIM.

    python3 bench/bench_engine.py --images DIR [--models DIR] [--count N] [--curve N] [--no-timing]

Every method runs in a fresh process of its own (seconds of the engine call and peak memory are its own),
in float32, on the benchmark's held-out images (``eval_split.HELD_OUT``, never trained on), each at its
Instagram size, toward the same target (the one v2's ``auto`` picks, handed to the others as a target
image).  Methods:

- ``naive``: L-inf sign-PGD at full resolution, 8/255, 20 steps, one view (short side 512, centre crop),
  no budget shaping, no EOT;
- ``v1``: the previous engine (git commit ``V1_COMMIT``, extracted to a temporary folder), ``--preset
  default``;
- ``v2-fast`` and ``v2``: this engine, ``--preset fast`` and ``default``.

Each result is then brought to the same colour SSIM as v2's own result on that image (its change scaled,
the saved 8-bit file judged), so the methods are compared at equal visibility by that measure; the
flat-area colour difference and the periodic peak are reported beside it.  Pull is
``1 - |E(p) - E(t)| / |E(x) - E(t)|`` on a scraper's view (short side 512, centre crop 512) of the saved
file after the Instagram profile (real Pillow resize + JPEG q75 4:2:0), for TAEF2 (attacked) and for the
transfer proxy (``shading/encoders/proxy.py``: never attacked), and after each clean-up an attacker would
try first (``shading/purify.py``).  ``ratio`` is a method's mean Instagram pull over naive's, so machines
can be compared by ratios.  ``--curve N`` adds pull against colour SSIM and seconds for v2's presets and
intensities on the first N images; the last block times a 1080x1350 upload per preset.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_split import HELD_OUT  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: the engine before v2 (views on the latent grid, SSIM on luma only, geometric targets)
V1_COMMIT = "1fd78d113dca348901d35c5f5c402646c1113591"
METHODS = ("naive", "v1", "v2-fast", "v2")


# -- the worker: one method, one image, in its own process --------------------------------------------


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
        zt = encoder.encode(view(to_tensor(target)))
    delta = torch.zeros_like(xt, requires_grad=True)
    alpha = 2.5 * eps / steps
    for _ in range(steps):
        loss = (encoder.encode(view(xt + delta)) - zt).pow(2).mean()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta -= alpha * grad.sign()
            delta.clamp_(-eps, eps)
            delta.copy_((xt + delta).clamp(0, 1) - xt)
    return to_pil(xt + delta.detach())


def worker(args: argparse.Namespace) -> int:
    """Run one method on one image; write the protected PNG; print seconds and peak memory as JSON."""
    torch.set_num_threads(args.threads)
    from artshade.shading import Settings, models, protect

    with Image.open(args.image) as im:
        x = im.convert("RGB")
    with Image.open(args.target) as im:
        target = im.convert("RGB")
    info: dict[str, object] = {}
    if args.worker == "naive":
        encoder = models.load_encoder("taef2", folder=args.models, with_decoder=False)
        t0 = time.perf_counter()
        out = naive_pgd(x, target, encoder)
        seconds = time.perf_counter() - t0
    else:
        preset = "fast" if args.worker == "v2-fast" else "default"
        settings = Settings(
            preset=preset, intensity=args.intensity, platform="instagram", target_image=args.target
        )
        protect(x.resize((64, 64)), settings, models_dir=args.models, measure=False)  # load and warm up
        t0 = time.perf_counter()
        result = protect(x, settings, models_dir=args.models, measure=False)
        seconds = time.perf_counter() - t0
        out = result.image
        info = {"steps": result.report["optimiser"]["steps_run"]}
    out.save(args.out, "PNG")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **info}))
    return 0


# -- the orchestrator -----------------------------------------------------------------------------------


def extract_v1(folder: Path) -> Path | None:
    """The previous engine's ``artshade`` package (with ``artshade.shading``) in ``folder``, or None."""
    try:
        data = subprocess.run(["git", "-C", str(REPO), "archive", V1_COMMIT, "artshade", "shading"],
                              capture_output=True, check=True).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    src, root = folder / "v1-src", folder / "v1"
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(src, filter="data")
    root.mkdir()
    (src / "artshade").rename(root / "artshade")  # the installed layout: artshade/ with shading/ inside
    (src / "shading").rename(root / "artshade" / "shading")
    return root


def run_method(method: str, image: Path, target: Path, out: Path, args: argparse.Namespace, v1: Path | None,
               intensity: str = "default") -> dict[str, float]:  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, "--image", str(image),
           "--target", str(target), "--out", str(out), "--threads", str(args.threads),
           "--intensity", intensity]  # fmt: skip
    if args.models:
        cmd += ["--models", str(args.models)]
    env = {**os.environ, "ARTSHADE_PRECISION": "fp32"}
    if method == "v1":
        env["PYTHONPATH"] = str(v1)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{method} failed on {image.name}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def equalise(original: Image.Image, protected: Image.Image, goal: float) -> Image.Image:
    """``protected`` with its change scaled (up to 3x) so the saved 8-bit image has colour SSIM ``goal``."""
    from artshade.shading.perceptual import colour_ssim
    from artshade.shading.tensors import to_pil, to_tensor

    x, p = to_tensor(original), to_tensor(protected)
    d = p - x

    def ssim_at(a: float) -> float:
        return float(colour_ssim(x, ((x + a * d).clamp(0, 1) * 255).round() / 255)[0])

    lo, hi = 0.0, 3.0
    if ssim_at(hi) >= goal:
        return to_pil(x + hi * d)
    for _ in range(14):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ssim_at(mid) >= goal else (lo, mid)
    return to_pil((x + lo * d).clamp(0, 1))


def measure(
    encoders: dict, original: Image.Image, protected: Image.Image, target: Image.Image
) -> dict[str, float]:
    from artshade.shading.measure import encode_view, pull_value
    from artshade.shading.purify import PURIFIERS
    from artshade.shading.transforms.platform import PROFILES, apply_real
    from artshade.shading.visibility import visibility_report

    seen = visibility_report(original, protected)
    row = {"ssim": seen["ssim_colour"], "flat_de": seen["flat_delta_e_p95"], "peak": seen["periodic_peak"]}
    insta = PROFILES["instagram"]
    cleaned = {name: apply_real(clean(protected), insta) for name, clean in PURIFIERS.items()}
    for key, enc in encoders.items():
        zx, zt = encode_view(enc, original), encode_view(enc, target)
        row[f"{key}_none"] = pull_value(encode_view(enc, protected), zx, zt)
        row[f"{key}_insta"] = pull_value(encode_view(enc, apply_real(protected, insta)), zx, zt)
        for name, img in cleaned.items():
            row[f"{key}_{name}"] = pull_value(encode_view(enc, img), zx, zt)
        row[f"{key}_worst"] = min(row[f"{key}_{name}"] for name in cleaned)
    return row


def means_block(rows: dict[str, list[dict[str, float]]], methods: list[str]) -> None:
    count = len(rows["v2"])
    print(f"\nmeans over {count} held-out images at equal colour SSIM (ratio: Instagram pull / naive's)")
    print(f"{'method':30} " + " ".join(f"{c:>7}" for c in COLUMNS) + "   ratio")
    base = statistics.mean(r["taef2_insta"] for r in rows["naive"])
    for method in methods:
        means = {c: statistics.mean(r[c] for r in rows[method]) for c in rows[method][0]}
        print(fmt_row(method, means, f"  {means['taef2_insta'] / base if base else float('nan'):6.2f}"))


def curve(args: argparse.Namespace, work: Path, encoders: dict, v1: Path | None) -> None:
    """Pull against colour SSIM and seconds: v2's presets x intensities on the first ``args.curve`` images."""
    print("\npull against colour SSIM and seconds (v2; TAEF2 and proxy after Instagram)")
    print("image                preset   intensity     sec   ssim flat_de taef2  proxy")
    for rel in HELD_OUT[: args.curve]:
        src, target_path = work / f"{Path(rel).stem}.png", work / f"{Path(rel).stem}.target.png"
        with Image.open(src) as im, Image.open(target_path) as tm:
            x, target = im.convert("RGB"), tm.convert("RGB")
        for method, intensity in [(m, i) for m in ("v2-fast", "v2") for i in ("low", "default", "high")]:
            out = work / f"{Path(rel).stem}.{method}.{intensity}.png"
            stats = run_method(method, src, target_path, out, args, v1, intensity)
            with Image.open(out) as im:
                row = measure(encoders, x, im.convert("RGB"), target)
            cells = [
                stats["seconds"],
                row["ssim"],
                row["flat_de"],
                row["taef2_insta"],
                row.get("proxy_insta", 0),
            ]
            print(
                f"{Path(rel).stem[:20]:20} {method:8} {intensity:9} " + " ".join(f"{c:6.3f}" for c in cells)
            )


def header(args: argparse.Namespace) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from artshade.shading.device import native_cpu_bf16

    native = native_cpu_bf16()
    return (f"# {datetime.date.today().isoformat()}  {cpu}  {os.cpu_count()} cores, {args.threads} threads  "
            f"torch {torch.__version__}  float32 for every method (bf16 on this CPU: "
            f"{'yes' if native else 'no'})")  # fmt: skip


COLUMNS = ("sec", "peak_mb", "ssim", "flat_de", "peak", "taef2_none", "taef2_insta", "taef2_worst",
           "proxy_insta", "proxy_worst")  # fmt: skip


def fmt_row(label: str, values: dict[str, float], extra: str = "") -> str:
    cells = []
    for c in COLUMNS:
        v = values.get(c, float("nan"))
        cells.append(f"{v:7.0f}" if c in ("peak_mb", "peak") else f"{v:7.1f}" if c == "sec" else f"{v:7.3f}")
    return f"{label:30} " + " ".join(cells) + extra


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=os.environ.get("ARTSHADE_EVAL_IMAGES"),
                    help="the eval-images folder (default: $ARTSHADE_EVAL_IMAGES)")  # fmt: skip
    ap.add_argument("--models", type=Path, default=None, help="models folder (default: the CLI's lookup)")
    ap.add_argument("--count", type=int, default=len(HELD_OUT), help="how many held-out images")
    ap.add_argument(
        "--curve", type=int, default=3, help="images for the pull / SSIM / seconds curve (0: none)"
    )
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-timing", action="store_true", help="skip the 1080x1350 timing block")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--intensity", default="default", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.images is None or not Path(args.images).is_dir():
        raise SystemExit(
            "bench_engine: pass --images DIR (the eval-images folder) or set ARTSHADE_EVAL_IMAGES"
        )
    torch.set_num_threads(args.threads)
    from artshade.shading import Settings, models, protect
    from artshade.shading.api import transfer_proxy
    from artshade.shading.targets.builtin import builtin_target
    from artshade.shading.transforms.platform import PROFILES

    folder = models.models_dir(args.models)
    encoders = {"taef2": models.load_encoder("taef2", folder=folder, with_decoder=False)}
    proxy = transfer_proxy(torch.device("cpu"))
    if proxy is not None:
        encoders["proxy"] = proxy
    print(header(args))
    work = Path(tempfile.mkdtemp(prefix="artshade-bench-"))
    v1 = extract_v1(work)
    methods = [m for m in METHODS if m != "v1" or v1 is not None]
    if v1 is None:
        print(f"# v1 row left out: commit {V1_COMMIT[:12]} is not in this clone's history")
    print(f"{'image / method':30} " + " ".join(f"{c:>7}" for c in COLUMNS))
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for rel in HELD_OUT[: args.count]:
        with Image.open(Path(args.images) / rel) as im:
            full = im.convert("RGB")
        size = PROFILES["instagram"].kept_size(*full.size)
        x = full.resize(size, Image.Resampling.LANCZOS) if size != full.size else full
        src = work / f"{Path(rel).stem}.png"
        x.save(src)
        # the target v2's auto mode picks, fixed so that every method aims at the same thing
        probe = protect(x, Settings(preset="fast", platform="instagram"), models_dir=folder, measure=False)
        name = probe.report["targets"][0]["name"]
        target = builtin_target(name, x, 0)
        target_path = work / f"{Path(rel).stem}.target.png"
        target.save(target_path)
        outputs: dict[str, tuple[Image.Image, dict[str, float]]] = {}
        for method in ["v2", *[m for m in methods if m != "v2"]]:
            out = work / f"{Path(rel).stem}.{method}.png"
            stats = run_method(method, src, target_path, out, args, v1)
            with Image.open(out) as im:
                outputs[method] = (im.convert("RGB"), stats)
        goal = measure({}, x, outputs["v2"][0], target)["ssim"]
        for method in methods:
            img, stats = outputs[method]
            equal = equalise(x, img, goal) if method != "v2" else img
            row = {
                "sec": stats["seconds"],
                "peak_mb": stats["peak_mb"],
                **measure(encoders, x, equal, target),
            }
            rows[method].append(row)
            print(fmt_row(f"{Path(rel).stem[:20]} [{name}] {method}", row), flush=True)
    if rows["v2"]:
        means_block(rows, methods)
    if args.curve:
        curve(args, work, encoders, v1)
    if not args.no_timing:
        with Image.open(Path(args.images) / HELD_OUT[3]) as im:
            upload = im.convert("RGB").resize((1080, 1350), Image.Resampling.LANCZOS)
        src = work / "upload.png"
        upload.save(src)
        target_path = work / "upload.target.png"
        builtin_target("poster", upload, 0).save(target_path)
        print("\n1080x1350 upload, --platform instagram (seconds of the engine call; ratio to naive)")
        times = {m: run_method(m, src, target_path, work / f"upload.{m}.png", args, v1) for m in methods}
        for m in methods:
            print(f"{m:8} {times[m]['seconds']:7.1f} s  peak {times[m]['peak_mb']:6.0f} MB  "
                  f"{times[m]['seconds'] / times['naive']['seconds']:5.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
