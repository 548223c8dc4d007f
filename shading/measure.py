"""How well a protection works, measured the way the issue defines it, with real Pillow processing.

    pull = 1 - |E(p) - E(t)| / |E(x) - E(t)|

x is the original, p the protected image after a site's processing (real resize + real JPEG), t the target,
and E an encoder applied to a scraper's view of each (short side resized to 512, centre crop 512).  1 means
the encoder sees the target, 0 the original.  ``baseline`` is the same number for the *unprotected*
original after the same processing, so a reader can tell shading from JPEG noise.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from PIL import Image

from .encoders.base import ImageEncoder
from .purify import PURIFIERS
from .tensors import to_tensor
from .transforms.platform import PROFILES, apply_real, scraper_view

VIEW = 512


@torch.no_grad()
def encode_view(encoder: ImageEncoder, img: Image.Image) -> torch.Tensor:
    return encoder.encode(to_tensor(scraper_view(img, VIEW, VIEW), encoder.device)).float()


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
) -> dict[str, dict[str, dict[str, float]]]:
    """{encoder: {profile: {"pull": ..., "baseline": ...}}} for each profile."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    profiles = list(dict.fromkeys(profiles))
    for enc in encoders:
        zx, zt = encode_view(enc, original), encode_view(enc, target)
        rows: dict[str, dict[str, float]] = {}
        for name in profiles:
            prof = PROFILES[name]
            zp = encode_view(enc, apply_real(protected, prof))
            zb = zx if name == "none" else encode_view(enc, apply_real(original, prof))
            rows[name] = {
                "pull": round(pull_value(zp, zx, zt), 4),
                "baseline": round(pull_value(zb, zx, zt), 4),
            }
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
