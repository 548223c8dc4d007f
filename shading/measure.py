"""How well a protection works, measured the way the issue defines it, with real Pillow processing.

    pull = 1 - |E(p) - E(t)| / |E(x) - E(t)|

x is the original, p the protected image after a site's processing (real resize + real JPEG), t the target,
and E an encoder applied to a scraper's view of each (short side resized to 512, centre crop 512).  1 means
the encoder sees the target, 0 the original.  ``baseline`` is the same number for the *unprotected*
original after the same processing, so a reader can tell shading from JPEG noise.

Trainers that bucket by aspect ratio (LoRA trainers' default) see the whole picture instead: ``bucket_view``
resizes it to about one megapixel with sides in multiples of 64, and ``border_balance`` says how much the
latent moved in the picture's outer sixths against its centre on that view (1: as much; a change made only
in the centre square gives ~0).

One view is one scraper's phase: a change fitted to the exact resize and crop of ``encode_view`` can pull
far more there than one pixel or one scale away.  ``spread_pull`` is the mean pull over other scrapers'
views (``SPREAD_VIEWS``: other short sides, and the crop moved a few pixels), so an engine that overfits
the measured view shows a gap between the two figures.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from PIL import Image

from .encoders.base import ImageEncoder
from .purify import PURIFIERS
from .tensors import to_tensor
from .transforms.platform import PROFILES, apply_real, bucket_cover, bucket_size, scraper_view

VIEW = 512


@torch.no_grad()
def encode_view(encoder: ImageEncoder, img: Image.Image) -> torch.Tensor:
    return encoder.encode(to_tensor(scraper_view(img, VIEW, VIEW), encoder.device)).float()


#: (short side, crop offset in px) of the other scrapers' views ``spread_pull`` averages over: the crop moved
#: 3 px (a latent cell is 8), and short sides 6 % and 12 % either side of 512 and SD-XL's 768 (centre crops)
SPREAD_VIEWS: tuple[tuple[int, int], ...] = ((512, 3), (480, 0), (544, 0), (576, 0), (768, 0))


def shifted_view(img: Image.Image, short_side: int, shift: int) -> Image.Image:
    """``platform.scraper_view`` at ``short_side`` with its 512 px crop moved ``shift`` px right and down
    (clamped to the picture)."""
    big = scraper_view(img, short_side, None)
    w, h = big.size
    crop = min(VIEW, w, h)
    left = min(max(0, (w - crop) // 2 + shift), w - crop)
    top = min(max(0, (h - crop) // 2 + shift), h - crop)
    return big.crop((left, top, left + crop, top + crop))


@torch.no_grad()
def spread_pull(
    encoder: ImageEncoder, original: Image.Image, seen: Image.Image, target: Image.Image
) -> float:
    """The mean pull of ``seen`` (the protected picture after the site) over ``SPREAD_VIEWS``; ``target``
    already fitted to the original's size (each view crops both the same way)."""
    if target.size != original.size:
        raise ValueError(f"spread_pull: target is {target.size}, fit it to the original's {original.size}")
    pulls = []
    for short_side, shift in SPREAD_VIEWS:
        z = [
            encoder.encode(to_tensor(shifted_view(img, short_side, shift), encoder.device)).float()
            for img in (seen, original, target)
        ]
        pulls.append(pull_value(*z))
    return sum(pulls) / len(pulls)


def pull_value(zp: torch.Tensor, zx: torch.Tensor, zt: torch.Tensor) -> float:
    far = float((zx - zt).norm())
    return 1.0 - float((zp - zt).norm()) / max(far, 1e-12)


@torch.no_grad()
def pull_report(
    encoders: Iterable[ImageEncoder],
    original: Image.Image,
    protected: Image.Image,
    target: Image.Image,
    profiles: Iterable[str] = ("none", "instagram", "x"),
    *,
    baselines: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """{encoder: {profile: {"pull": ..., "baseline": ...}}} for each profile; without ``baselines`` the pull
    alone (one encoder pass fewer per profile: what the command line's one line needs)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    profiles = list(dict.fromkeys(profiles))
    for enc in encoders:
        zx, zt = encode_view(enc, original), encode_view(enc, target)
        rows: dict[str, dict[str, float]] = {}
        for name in profiles:
            prof = PROFILES[name]
            zp = encode_view(enc, apply_real(protected, prof))
            rows[name] = {"pull": round(pull_value(zp, zx, zt), 4)}
            if baselines:
                zb = zx if name == "none" else encode_view(enc, apply_real(original, prof))
                rows[name]["baseline"] = round(pull_value(zb, zx, zt), 4)
        out[enc.name] = rows
    return out


@torch.no_grad()
def robustness_report(
    encoders: Iterable[ImageEncoder],
    original: Image.Image,
    protected: Image.Image,
    target: Image.Image,
    platform: str,
) -> dict[str, dict[str, float]]:
    """{encoder: {clean-up: pull}}: the pull left when an attacker cleans the protected image up (each of
    ``purify.PURIFIERS``) and the site then applies its profile (``platform``, Instagram where none)."""
    prof = PROFILES[platform if platform != "none" else "instagram"]
    kept = protected.convert("RGB")
    size = prof.kept_size(*kept.size)
    if size != kept.size:  # the clean-ups run at the size the site keeps (it would shrink first anyway)
        kept = kept.resize(size, Image.Resampling.LANCZOS)
    cleaned = {name: apply_real(clean(kept), prof) for name, clean in PURIFIERS.items()}
    out: dict[str, dict[str, float]] = {}
    for enc in encoders:
        zx, zt = encode_view(enc, original), encode_view(enc, target)
        out[enc.name] = {
            name: round(pull_value(encode_view(enc, img), zx, zt), 4) for name, img in cleaned.items()
        }
    return out


def bucket_view(img: Image.Image) -> Image.Image:
    """The whole picture as a trainer that buckets by aspect ratio sees it (``platform.bucket_size``: about
    1 MP, sides in multiples of 64, the closest aspect ratio): resized (bicubic) to cover its bucket and
    centre-cropped to it (a few pixels at most)."""
    w, h = img.size
    bw, bh = bucket_size(w, h)
    factor = bucket_cover(w, h)
    size = (max(bw, round(w * factor)), max(bh, round(h * factor)))
    big = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - bw) // 2, (size[1] - bh) // 2
    return big.crop((left, top, left + bw, top + bh))


@torch.no_grad()
def encode_bucket(encoder: ImageEncoder, img: Image.Image) -> torch.Tensor:
    return encoder.encode(to_tensor(bucket_view(img), encoder.device)).float()


def border_balance(zx: torch.Tensor, zp: torch.Tensor) -> float:
    """The latent change (per-cell norm of ``zp - zx``, whole-picture latents) in the weaker of the two
    outer sixths along the picture's long side, over the change in its middle third."""
    change = (zp - zx).norm(dim=1)[0]
    profile = change.mean(0) if change.shape[1] >= change.shape[0] else change.mean(1)
    n = profile.numel()
    sixth = max(1, n // 6)
    centre = float(profile[n // 3 : n - n // 3].mean())
    if centre <= 0:
        return float("nan")
    return min(float(profile[:sixth].mean()), float(profile[n - sixth :].mean())) / centre


@torch.no_grad()
def whole_picture(
    encoder: ImageEncoder, original: Image.Image, seen: Image.Image, target: Image.Image
) -> dict[str, float]:
    """Pull on the bucketing trainer's view of ``seen`` (the protected picture after the site) and the
    border balance of its change; the target is fitted to the original's size first."""
    zx, zp = encode_bucket(encoder, original), encode_bucket(encoder, seen.resize(original.size))
    zt = encode_bucket(encoder, target.convert("RGB").resize(original.size, Image.Resampling.BICUBIC))
    return {"pull": round(pull_value(zp, zx, zt), 4), "border_balance": round(border_balance(zx, zp), 4)}
