"""Engine benchmark: artshade's presets side by side with a naive attack, on real images and real weights.

    python3 bench/bench_engine.py [--images N] [--presets fast,default] [--models DIR] [--shared DIR]

For each image: seconds, PSNR and SSIM to the original, and the pull toward the target
(pull = 1 - |E(p) - E(t)| / |E(x) - E(t)|, E on a scraper's view: short side 512, centre crop 512)
straight, after the Instagram profile (longest side 1080, real JPEG q75 4:2:0) and after the X profile,
for the attacked encoder (TAEF2) and for an unseen one (EfficientNet-Lite0, bench/unseen.py), after
Instagram.  The naive baseline is L-inf sign-PGD at full resolution, 8/255, no budget shaping, no EOT.
Every method pulls toward the same target (the restyle artshade's ``auto`` picks for that image).
A last block times a 1080x1350 upload per preset (the README's speed targets).  The machine is shared
and noisy: compare the rows of one run with each other (the ratio column), not with another run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from artshade.shading import Settings, models, protect  # noqa: E402
from artshade.shading.measure import encode_view, pull_value, quality_report  # noqa: E402
from artshade.shading.targets.builtin import builtin_target  # noqa: E402
from artshade.shading.tensors import to_pil, to_tensor  # noqa: E402
from artshade.shading.transforms.platform import PROFILES, apply_real  # noqa: E402
from unseen import load_unseen  # noqa: E402

DEFAULT_IMAGES = [
    "photos/dog_beagle_pexels.jpg",
    "artworks/vangogh_starry_night.jpg",
    "photos/kodim21_lighthouse.png",
    "artworks/monet_water_lilies_1919.jpg",
    "photos/portrait_face_pexels.png",
    "artworks/hokusai_great_wave.jpg",
    "photos/cow_pixabay.jpg",
    "artworks/munch_the_scream.jpg",
]


def naive_pgd(
    x: Image.Image, target: Image.Image, encoder, *, eps: float = 8 / 255, steps: int = 20
) -> Image.Image:
    """L-inf sign-PGD at full resolution toward E(view(target)); no budget map, no EOT."""
    from artshade.shading.tensors import resize

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


def pulls(
    encoder, original: Image.Image, protected: Image.Image, target: Image.Image, profiles
) -> list[float]:
    zx, zt = encode_view(encoder, original), encode_view(encoder, target)
    return [pull_value(encode_view(encoder, apply_real(protected, PROFILES[p])), zx, zt) for p in profiles]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    ap.add_argument(
        "--shared", type=Path, default=Path(os.environ.get("ARTSHADE_SHARED", repo.parent / "shared"))
    )
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--images", type=int, default=len(DEFAULT_IMAGES))
    ap.add_argument("--presets", default="fast,default")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-timing", action="store_true", help="skip the 1080x1350 timing block")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models_dir = args.models or args.shared / "models"
    encoder = models.load_encoder("taef2", folder=models_dir)
    unseen = load_unseen()
    presets = [p for p in args.presets.split(",") if p]
    methods = ["naive", *presets]
    rows: dict[str, list[list[float]]] = {m: [] for m in methods}
    header = (
        f"{'image':34} {'method':8} {'sec':>6} {'PSNR':>6} {'SSIM':>6} "
        f"{'pull':>6} {'insta':>6} {'x':>6} {'unseen':>6}"
    )
    print(header)
    for rel in DEFAULT_IMAGES[: args.images]:
        with Image.open(args.shared / "eval-images" / rel) as im:
            x = im.convert("RGB")
        # the target artshade's auto mode picks, fixed so that every method aims at the same thing
        probe = protect(x.resize((256, round(256 * x.size[1] / x.size[0]))), Settings(preset="fast"),
                        models_dir=models_dir, measure=False)  # fmt: skip
        name = probe.report["targets"][0]["name"]
        target = builtin_target(name, x, 0)
        for method in methods:
            t0 = time.perf_counter()
            if method == "naive":
                p = naive_pgd(x, target, encoder)
            else:
                p = protect(x, Settings(preset=method, platform="instagram", target=name),
                            models_dir=models_dir, measure=False).image  # fmt: skip
            secs = time.perf_counter() - t0
            q = quality_report(x, p)
            straight, insta, xprof = pulls(encoder, x, p, target, ("none", "instagram", "x"))
            (unseen_insta,) = pulls(unseen, x, p, target, ("instagram",))
            vals = [secs, q["psnr"], q["ssim"], straight, insta, xprof, unseen_insta]
            rows[method].append(vals)
            print(f"{Path(rel).stem[:34]:34} {method:8} "
                  + " ".join(f"{v:6.3f}" if i else f"{v:6.1f}" for i, v in enumerate(vals)),
                  flush=True)  # fmt: skip
    print("\nmeans over images (ratio: mean pull after Instagram / naive's)")
    print(
        f"{'method':8} {'sec':>6} {'PSNR':>6} {'SSIM':>6} {'pull':>6} "
        f"{'insta':>6} {'x':>6} {'unseen':>6} {'ratio':>6}"
    )
    base = statistics.mean(r[4] for r in rows["naive"]) if rows["naive"] else float("nan")
    for method in methods:
        means = [statistics.mean(col) for col in zip(*rows[method], strict=True)]
        ratio = means[4] / base if base else float("nan")
        print(f"{method:8} " + " ".join(f"{v:6.3f}" if i else f"{v:6.1f}" for i, v in enumerate(means))
              + f" {ratio:6.2f}")  # fmt: skip
    if not args.no_timing:
        with Image.open(args.shared / "eval-images" / DEFAULT_IMAGES[0]) as im:
            upload = im.convert("RGB").resize((1080, 1350))
        print("\n1080x1350 upload, --platform instagram (seconds; ratio to fast)")
        times = {}
        for preset in presets:
            t0 = time.perf_counter()
            protect(
                upload, Settings(preset=preset, platform="instagram"), models_dir=models_dir, measure=False
            )
            times[preset] = time.perf_counter() - t0
        for preset in presets:
            print(f"{preset:8} {times[preset]:6.1f} {times[preset] / times[presets[0]]:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
