"""Targets the engine makes itself, with no downloaded data, or the user's own ``--target-image``.

Every built-in target is the artwork itself redrawn in another look, or a smooth field with no geometry:
a target's shapes can print themselves faintly into the protected image (a grid target printed a grid),
so nothing here has tiles, stripes, checkers or any other regular structure.

- *restyles* of the artwork (the model-free cousin of Glaze's style target): the same layout in another
  style: ``poster`` (smoothed, flat colours), ``texture`` (the artwork's colours and shapes with its fine
  brushwork replaced by a foreign, non-periodic texture), ``sketch`` (dark edges on paper white).  Because
  the layout matches, the pull is reachable within an imperceptible budget.
- ``blobs``: smooth coloured noise drawn from a seeded generator (no geometry at all).

With ``target="auto"`` the candidate that the encoders are predicted to move toward most for the
change people cannot see is chosen (``choose``: one gradient per candidate on a small copy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from .. import io
from ..device import autocast_dtype
from ..errors import SettingsError
from ..perceptual import jnd_budget, ycc_to_rgb
from ..tensors import fit_cover, to_tensor
from .base import Target, TargetRequest

PatternFn = Callable[[int, int, np.random.Generator], np.ndarray]


def _blobs(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth coloured noise: a few octaves of bilinearly upsampled random grids."""
    out = np.zeros((h, w, 3), np.float32)
    for octave, amp in ((4, 1.0), (8, 0.5), (16, 0.25)):
        grid = rng.uniform(-1, 1, (octave, octave, 3)).astype(np.float32)
        img = Image.fromarray(((grid + 1) * 127.5).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        out += amp * (np.asarray(img, np.float32) / 127.5 - 1)
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    return out


PATTERNS: dict[str, PatternFn] = {"blobs": _blobs}


def _poster(img: Image.Image) -> Image.Image:
    """Flat poster colours: smoothed (a median over a square of about a 128th of the short side; OpenCV's,
    the same pixels as Pillow's ``MedianFilter`` twenty times faster), then 2 bits per channel."""
    import cv2
    from PIL import ImageOps

    radius = max(1, round(min(img.size) / 256))
    smooth = cv2.medianBlur(np.ascontiguousarray(np.asarray(img.convert("RGB"))), 2 * radius + 1)
    return ImageOps.posterize(Image.fromarray(smooth, "RGB"), 2)


def _fractal(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance fractal noise (octaves of bicubically enlarged random grids): a texture
    with no period and no direction."""
    out = np.zeros((height, width), np.float32)
    for cells, amp in ((64, 1.0), (32, 0.7), (16, 0.5), (8, 0.35), (4, 0.25)):
        grid = rng.normal(0, 1, (max(2, round(height / cells)), max(2, round(width / cells)))).astype(
            np.float32
        )
        layer = Image.fromarray(grid, "F").resize((width, height), Image.Resampling.BICUBIC)
        out += amp * np.asarray(layer, np.float32)
    return (out - out.mean()) / max(1e-6, float(out.std()))


def _texture(img: Image.Image, seed: int = 0) -> Image.Image:
    """The artwork's colours and shapes (a 2 px blur keeps them) with a foreign fine texture instead of its
    own brushwork: fractal noise of 40 levels in luma."""
    from PIL import ImageFilter

    base = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), np.float32)
    grain = _fractal(img.size[0], img.size[1], np.random.default_rng([seed, 7])) * 40
    return Image.fromarray(np.clip(base + grain[..., None], 0, 255).astype(np.uint8), "RGB")


def _sketch(img: Image.Image) -> Image.Image:
    """A pencil sketch: dark edges on paper white."""
    from PIL import ImageFilter, ImageOps

    pad = 4  # the edge filters see replicated borders, so the image's own border draws no frame
    grey = np.pad(np.asarray(ImageOps.grayscale(img)), pad, mode="edge")
    edges = ImageOps.invert(Image.fromarray(grey).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.SMOOTH))
    edges = edges.crop((pad, pad, pad + img.size[0], pad + img.size[1]))
    return ImageOps.autocontrast(edges, cutoff=2).convert("RGB")


RESTYLES: dict[str, Callable[[Image.Image, int], Image.Image]] = {
    "poster": lambda img, seed: _poster(img),
    "texture": _texture,
    "sketch": lambda img, seed: _sketch(img),
}

#: every name ``--target`` accepts besides ``auto``
BUILTIN_TARGETS = (*RESTYLES, *PATTERNS)
#: what ``auto`` chooses from
AUTO_CANDIDATES = ("poster", "texture", "sketch")


def builtin_target(name: str, artwork: Image.Image, seed: int) -> Image.Image:
    """The built-in target ``name`` for ``artwork`` (restyles use the artwork, patterns only its size)."""
    if name in RESTYLES:
        return RESTYLES[name](artwork.convert("RGB"), seed)
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
    if s.target_image is not None:
        loaded = io.load_image(s.target_image)
        return [Target(loaded.rgb, "image", {"path": str(s.target_image), "size": list(loaded.rgb.size)})]
    if s.target != "auto":
        kind = "restyle" if s.target in RESTYLES else "pattern"
        return [
            Target(builtin_target(s.target, request.image, s.seed), kind, {"name": s.target, "seed": s.seed})
        ]
    return [choose(request, AUTO_CANDIDATES)]


#: the short side of the small copy ``choose`` judges candidates on
CHOICE_SIDE = 192


def choose(request: TargetRequest, names: Sequence[str]) -> Target:
    """The candidate the encoders are predicted to move toward most for a change people cannot see.

    For each candidate, one gradient on a small copy: the loss is the encoders' squared latent distance to
    the candidate over the distance of the unprotected artwork, the change is ``ycc_to_rgb(budget * u)``
    with ``u`` in [-1, 1] (``perceptual.jnd_budget``), and the first-order gain of the best change in that
    box is the sum of the gradient's magnitudes.  That is the relative progress a step can make, so
    near and far candidates compare fairly.  Candidates are judged as drawn from the small copy (drawing
    four restyles of the full picture cost more than the choice itself); only the winner is drawn at full
    size."""
    s = request.settings
    w, h = request.image.size
    scale = min(1.0, CHOICE_SIDE / min(w, h))
    sw, sh = max(8, round(w * scale / 8) * 8), max(8, round(h * scale / 8) * 8)
    small = request.image.resize((sw, sh), Image.Resampling.BILINEAR)
    art = to_tensor(small, request.device)
    bound = jnd_budget(art)
    candidates = {name: builtin_target(name, small, s.seed) for name in names}
    # the encoder passes in the optimiser's precision: bf16 where the hardware has it (a third of the
    # time there), float32 elsewhere
    dtype = autocast_dtype(art.device)

    def encode(enc: Callable[[torch.Tensor], torch.Tensor], img: torch.Tensor) -> torch.Tensor:
        with torch.autocast(art.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            return enc(img).float()

    with torch.no_grad():
        plain = [encode(enc.encode, art) for enc in request.encoders]
    scores: dict[str, float] = {}
    for name, img in candidates.items():
        t = fit_cover(to_tensor(img, request.device), sh, sw)
        u = torch.zeros_like(art, requires_grad=True)
        loss = torch.zeros((), device=art.device)
        for enc, z_art in zip(request.encoders, plain, strict=True):
            with torch.no_grad():
                zt = encode(enc.encode, t)
                norm = (z_art - zt).pow(2).sum().clamp_min(1e-8)
            loss = loss + (encode(enc.encode, art + ycc_to_rgb(bound * u)) - zt).pow(2).sum() / norm
        scores[name] = float(torch.autograd.grad(loss, u)[0].abs().sum()) if loss.requires_grad else 0.0
    best = max(scores, key=scores.__getitem__) if request.encoders else names[0]
    kind = "restyle" if best in RESTYLES else "pattern"
    info = {
        "name": best,
        "seed": s.seed,
        "chosen_by": "largest first-order pull for the budget",
        "scores": {k: round(v, 4) for k, v in scores.items()},
    }
    return Target(builtin_target(best, request.image, s.seed), kind, info)
