"""Train the amortised start (``shading/amortised.py``): one perturbation, in budget units, that moves the
encoder toward each image's poster restyle across many images.

    python3 bench/train_start.py --images DIR [--models DIR] [--minutes 60] [--out shading/trained/start]

Training images: every picture under ``--images`` except the benchmark's held-out ones
(``bench/eval_split.py``), each at its Instagram size.  Each step takes one image, places the field on it as
the engine will (``amortised.fit_to`` with a fresh seed: a random window and mirror), scales it by the
image's budget map, draws a view the way the optimiser does (the site's JPEG, a scraper's resize at a
jittered scale, a crop anywhere, half the time the canonical centre view) and takes a sign step on a
momentum of the field's gradient, so the field keeps what moves every image and averages out what moves
only one.  Writes ``start.safetensors`` (fp16), ``config.json`` and ``images.txt`` to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from artshade.shading import models  # noqa: E402
from artshade.shading.amortised import TRAINED, fit_to  # noqa: E402
from artshade.shading.optimize import BUDGETS, INTERIOR_MARGIN, SCHEDULES, interior_trim, shade_size  # noqa: E402
from artshade.shading.perceptual import jnd_budget, ycc_to_rgb  # noqa: E402
from artshade.shading.targets.builtin import builtin_target  # noqa: E402
from artshade.shading.tensors import resize, to_tensor  # noqa: E402
from artshade.shading.transforms import eot  # noqa: E402
from artshade.shading.transforms.platform import PROFILES  # noqa: E402
from eval_split import HELD_OUT  # noqa: E402

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
CANVAS = 768


class Sample:
    """One training image at its Instagram size, with what every step on it needs, computed once."""

    def __init__(self, path: Path, encoder: torch.nn.Module) -> None:
        with Image.open(path) as im:
            img = im.convert("RGB")
        size = PROFILES["instagram"].kept_size(*img.size)
        img = img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img
        self.x = to_tensor(img)
        h, w = self.x.shape[-2:]
        self.shade = shade_size(h, w, SCHEDULES["default"].shade_short_side)
        self.bound = jnd_budget(resize(self.x, *self.shade), BUDGETS["default"].jnd)
        target = to_tensor(builtin_target("poster", img, 0))
        with torch.no_grad():
            self.zt = encoder.encode(eot.full_view(target, 512)).float()
            zx = encoder.encode(eot.full_view(self.x, 512)).float()
        self.norm = float((zx - self.zt).pow(2).mean())
        self.digest = hashlib.sha256(img.tobytes()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=TRAINED)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    encoder = models.load_encoder("taef2", folder=models.models_dir(args.models), with_decoder=False)
    held = set(HELD_OUT)
    paths = sorted(
        p
        for p in args.images.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.relative_to(args.images).as_posix() not in held
    )
    if len(paths) < 4:
        raise SystemExit("train_start: fewer than 4 training pictures; pass --images DIR")
    samples = [Sample(p, encoder) for p in paths]
    print(f"{len(samples)} training images", flush=True)
    field = torch.zeros(1, 3, CANVAS, CANVAS, requires_grad=True)
    momentum = torch.zeros_like(field)
    gen = torch.Generator().manual_seed(args.seed)
    cfg = eot.EOTConfig(scales=(512,), crop=512, jpeg_quality=PROFILES["instagram"].jpeg_quality,
                        scale_jitter=0.1, canonical_p=0.5)  # fmt: skip
    deadline = time.monotonic() + 60 * args.minutes
    step, running, t0 = 0, None, time.monotonic()
    while time.monotonic() < deadline:
        sample = samples[int(torch.randint(len(samples), (), generator=gen))]
        h, w = sample.x.shape[-2:]
        u = fit_to(field, *sample.shade, seed=int(torch.randint(2**31, (), generator=gen)))
        protected = (sample.x + resize(ycc_to_rgb(sample.bound * u), h, w)).clamp(0, 1)
        view = eot.sample_view(cfg, h, w, gen)
        z = encoder.encode(eot.apply(protected, view)).float()
        trim = interior_trim(view, min(INTERIOR_MARGIN, view.size // 8 // 6))
        z = z[..., trim[0] : z.shape[-2] - trim[1], trim[2] : z.shape[-1] - trim[3]]
        loss = (z - eot.latent_window(sample.zt, view, trim)).pow(2).mean() / sample.norm
        (grad,) = torch.autograd.grad(loss, field)
        with torch.no_grad():
            lr = 0.02 * (
                0.1
                + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.monotonic() - t0) / (deadline - t0))))
            )
            momentum.mul_(0.95).add_(grad / grad.abs().mean().clamp_min(1e-12))
            field.sub_(lr * momentum.sign()).clamp_(-1, 1)
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        step += 1
        if step % 50 == 0:
            print(f"step {step:5d}  {(time.monotonic() - t0) / 60:5.1f} min  loss {running:.4f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    save_file({"u": field.detach().half().contiguous()}, str(args.out / "start.safetensors"))
    config = {"canvas": CANVAS, "target": "poster", "steps": step, "minutes": args.minutes, "seed": args.seed,
              "encoder": "taef2", "budget": "default"}  # fmt: skip
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    lines = [
        f"{s.digest}  eval:{p.relative_to(args.images).as_posix()}"
        for s, p in zip(samples, paths, strict=True)
    ]
    (args.out / "images.txt").write_text("\n".join(lines) + "\n")
    print(f"done: {step} steps; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
