"""Train the transfer proxy (``shading/encoders/proxy.py``): an autoencoder artshade never optimises against.

    python3 bench/train_proxy.py --images DIR [--minutes 60] [--out shading/trained/proxy]

Trains on every picture under ``--images`` (the eval images: photos and public-domain paintings) plus the
public-domain sample pictures that ship inside the scikit-image wheel, on random 128 px crops at random
scales, for a fixed wall-clock time on the CPU.  Reconstruction loss (L1 plus a small SSIM term) with a
tiny KL weight, as latent-diffusion VAEs are trained (without their GAN and LPIPS terms, whose weights are
not available here).  Writes ``config.json`` + ``model.safetensors`` and ``images.txt`` (each image's
sha256) to ``--out``, and prints the reconstruction PSNR on held-out crops.  Deterministic in its data
order for a seed; the result depends on how many steps the time allows.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from artshade.shading.encoders.proxy import TRAINED, ProxyAutoencoder, ProxyConfig
from artshade.shading.perceptual import colour_ssim
from PIL import Image

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
#: colour sample pictures bundled in the scikit-image wheel (public domain or CC0, see its README)
SKIMAGE = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket")


def gather(folder: Path | None) -> list[tuple[str, Image.Image]]:
    out: list[tuple[str, Image.Image]] = []
    if folder is not None:
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
            with Image.open(path) as im:
                out.append((f"eval:{path.relative_to(folder).as_posix()}", im.convert("RGB")))
    try:
        from skimage import data
    except ImportError:  # pragma: no cover - optional source
        data = None
    if data is not None:
        for name in SKIMAGE:
            arr = getattr(data, name)()
            out.append((f"skimage:{name}", Image.fromarray(np.asarray(arr)).convert("RGB")))
    return out


def digest(img: Image.Image) -> str:
    return hashlib.sha256(img.tobytes()).hexdigest()[:16]


def crops(images: list[Image.Image], n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    batch = []
    for _ in range(n):
        img = images[int(torch.randint(len(images), (), generator=gen))]
        w, h = img.size
        scale = math.exp(float(torch.empty(()).uniform_(math.log(0.15), 0.0, generator=gen)))
        scale = max(scale, size / min(w, h))
        cw, ch = min(w, round(size / scale)), min(h, round(size / scale))
        left = int(torch.randint(0, w - cw + 1, (), generator=gen))
        top = int(torch.randint(0, h - ch + 1, (), generator=gen))
        piece = img.crop((left, top, left + cw, top + ch)).resize((size, size), Image.Resampling.BICUBIC)
        t = torch.from_numpy(np.asarray(piece, dtype=np.float32) / 255).permute(2, 0, 1)
        if bool(torch.rand((), generator=gen) < 0.5):
            t = t.flip(-1)
        batch.append(t)
    return torch.stack(batch)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=None, help="folder of training pictures (the eval images)")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=TRAINED)
    ap.add_argument("--seed", type=int, default=ProxyConfig().seed)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    named = gather(args.images)
    if len(named) < 4:
        raise SystemExit("train_proxy: fewer than 4 training pictures found; pass --images DIR")
    images = [img for _, img in named]
    model = ProxyAutoencoder(ProxyConfig(seed=args.seed))
    opt = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(args.seed)
    held = crops(images, 24, args.size, torch.Generator().manual_seed(args.seed + 1))
    deadline = time.monotonic() + 60 * args.minutes
    step, t0 = 0, time.monotonic()
    while time.monotonic() < deadline:
        x = crops(images, args.batch, args.size, gen)
        mean, logvar = model.moments(x)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        y = (model.decoder(z) + 1) / 2
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = F.l1_loss(y, x) + 0.2 * (1 - colour_ssim(x, y.clamp(0, 1)).mean()) + 1e-6 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            with torch.no_grad():
                rec = model.decode(model.encode(held))
                mse = float((rec - held).pow(2).mean())
            elapsed = time.monotonic() - t0
            print(f"step {step:6d}  {elapsed / 60:5.1f} min  loss {float(loss.detach()):.4f}  "
                  f"held-out PSNR {10 * math.log10(1 / mse):5.2f} dB", flush=True)  # fmt: skip
    model.eval()
    model.save_pretrained(args.out)
    lines = [f"{digest(img)}  {name}" for name, img in named]
    (args.out / "images.txt").write_text("\n".join(lines) + "\n")
    with torch.no_grad():
        rec = model.decode(model.encode(held))
    psnr = 10 * math.log10(1 / float((rec - held).pow(2).mean()))
    print(f"done: {step} steps in {args.minutes:.0f} min; held-out PSNR {psnr:.2f} dB; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
