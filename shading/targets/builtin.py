"""Targets the engine makes itself, with no downloaded data, or the user's own ``--target-image``.

Two families:
- *restyles* of the artwork itself (the model-free cousin of Glaze's style target): the same layout drawn
  in another style — flat poster colours, a coarse mosaic, a pencil sketch.  A model trained on images
  pulled toward these learns the wrong style; because the layout matches, the pull is reachable within an
  imperceptible budget.
- procedural high-contrast *patterns* (stripes, checker, rings, blobs), drawn from a seeded generator:
  an aggressive target that destroys what the encoder sees, at a lower pull for the same budget.

With ``target="auto"`` the restyle whose encoding is farthest from the artwork's (summed over the attacked
encoders, judged on a small copy) is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from PIL import Image

from .. import io
from ..errors import SettingsError
from ..tensors import fit_cover, to_tensor
from .base import Target, TargetRequest

PatternFn = Callable[[int, int, np.random.Generator], np.ndarray]


def _stripes(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    period = max(w, h) / rng.uniform(10, 18)
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) / period
    band = (np.sin(2 * math.pi * phase) > 0).astype(np.float32)
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return band[..., None] * a + (1 - band[..., None]) * b


def _checker(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    cell = max(8, int(max(w, h) / rng.uniform(12, 20)))
    yy, xx = np.mgrid[0:h, 0:w]
    band = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return band[..., None] * a + (1 - band[..., None]) * b


def _blobs(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth coloured noise: a few octaves of bilinearly upsampled random grids."""
    out = np.zeros((h, w, 3), np.float32)
    for octave, amp in ((4, 1.0), (8, 0.5), (16, 0.25)):
        grid = rng.uniform(-1, 1, (octave, octave, 3)).astype(np.float32)
        img = Image.fromarray(((grid + 1) * 127.5).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        out += amp * (np.asarray(img, np.float32) / 127.5 - 1)
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    return out


def _rings(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    period = max(w, h) / rng.uniform(8, 14)
    r = np.hypot(xx - cx, yy - cy) / period
    band = (np.sin(2 * math.pi * r) > 0).astype(np.float32)
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    return band[..., None] * a + (1 - band[..., None]) * b


PATTERNS: dict[str, PatternFn] = {"stripes": _stripes, "checker": _checker, "blobs": _blobs, "rings": _rings}


def _poster(img: Image.Image) -> Image.Image:
    """Flat poster colours: smoothed, then 2 bits per channel."""
    from PIL import ImageFilter, ImageOps

    radius = max(1, round(min(img.size) / 256))
    return ImageOps.posterize(img.filter(ImageFilter.MedianFilter(2 * radius + 1)), 2)


def _mosaic(img: Image.Image) -> Image.Image:
    """A coarse mosaic: about 24 tiles across the short side."""
    w, h = img.size
    cell = max(2, round(min(w, h) / 24))
    small = img.resize((max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.NEAREST)


def _sketch(img: Image.Image) -> Image.Image:
    """A pencil sketch: dark edges on paper white."""
    from PIL import ImageFilter, ImageOps

    grey = ImageOps.grayscale(img)
    edges = ImageOps.invert(grey.filter(ImageFilter.FIND_EDGES))
    edges = ImageOps.autocontrast(edges.filter(ImageFilter.SMOOTH), cutoff=2)
    return edges.convert("RGB")


RESTYLES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "poster": _poster,
    "mosaic": _mosaic,
    "sketch": _sketch,
}

#: every name ``--target`` accepts besides ``auto``
BUILTIN_TARGETS = (*RESTYLES, *PATTERNS)


def builtin_target(name: str, artwork: Image.Image, seed: int) -> Image.Image:
    """The built-in target ``name`` for ``artwork`` (restyles use the artwork, patterns only its size)."""
    if name in RESTYLES:
        return RESTYLES[name](artwork.convert("RGB"))
    return pattern(name, artwork.size[0], artwork.size[1], seed)


def pattern(name: str, width: int, height: int, seed: int) -> Image.Image:
    if name not in PATTERNS:
        raise SettingsError(
            f"unknown built-in target {name!r}; choose auto or one of {', '.join(BUILTIN_TARGETS)}"
        )
    rng = np.random.default_rng([seed, sorted(PATTERNS).index(name)])
    arr = PATTERNS[name](width, height, rng)
    return Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8), "RGB")


def make_guard_targets(request: TargetRequest) -> list[Target]:
    s = request.settings
    w, h = request.image.size
    if s.target_image is not None:
        loaded = io.load_image(s.target_image)
        return [Target(loaded.rgb, "image", {"path": str(s.target_image), "size": list(loaded.rgb.size)})]
    if s.target != "auto":
        kind = "restyle" if s.target in RESTYLES else "pattern"
        return [
            Target(builtin_target(s.target, request.image, s.seed), kind, {"name": s.target, "seed": s.seed})
        ]
    return [_farthest(request, RESTYLES)]


@torch.no_grad()
def _farthest(request: TargetRequest, family: Mapping[str, object]) -> Target:
    """Pick the member of ``family`` whose encoding differs most from the artwork's, on a small copy."""
    w, h = request.image.size
    s = request.settings
    scale = min(1.0, 256 / max(w, h))
    sw, sh = max(8, round(w * scale / 8) * 8), max(8, round(h * scale / 8) * 8)
    art = to_tensor(request.image.resize((sw, sh), Image.Resampling.BILINEAR), request.device)
    candidates = {name: builtin_target(name, request.image, s.seed) for name in family}
    scores: dict[str, float] = {}
    for name, img in candidates.items():
        t = fit_cover(to_tensor(img, request.device), sh, sw)
        total = 0.0
        for enc in request.encoders:
            za, zt = enc.encode(art), enc.encode(t)
            total += float((za - zt).pow(2).mean() / za.pow(2).mean().clamp_min(1e-8))
        scores[name] = total
    best = max(scores, key=scores.__getitem__) if request.encoders else next(iter(family))
    kind = "restyle" if best in RESTYLES else "pattern"
    return Target(
        candidates[best],
        kind,
        {
            "name": best,
            "seed": s.seed,
            "chosen_by": "farthest encoding",
            "scores": {k: round(v, 4) for k, v in scores.items()},
        },
    )
