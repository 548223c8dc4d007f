"""Expectation over transformations: random views of the image as a site and then a scraper would make.

One ``View`` is: the site's JPEG re-encode (differentiable, ``jpeg.jpeg``) of the region that matters,
the scraper's resize to a short side of 512/768/1024, a crop the encoder sees, an optional horizontal flip
(training augmentation), and optional mild blur and noise.  Only the region of the working image that the
crop needs (plus a margin, aligned to the 16 px JPEG grid) is processed, so a step's cost depends on the
crop size, not on the upload's size.  ``geometry`` applies the same resize/crop/flip without the lossy
parts, for the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..tensors import resize
from .jpeg import jpeg

_GRID = 16  # JPEG MCU size for 4:2:0; crops start on it so block boundaries match the site's


@dataclass(frozen=True)
class EOTConfig:
    #: scraper short sides to sample from
    scales: tuple[int, ...] = (512,)
    #: encoder crop size in view pixels (multiple of 8)
    crop: int = 256
    flips: bool = False
    #: the site's JPEG quality range; None: the site keeps the file, but a CDN may still recompress
    jpeg_quality: tuple[int, int] | None = None
    subsampling: str = "4:2:0"
    #: probability of a JPEG pass when the site itself does not re-encode
    stray_jpeg_p: float = 0.5
    blur_p: float = 0.25
    noise_p: float = 0.25
    #: probability that a crop lies inside the view's centre square
    centre_p: float = 0.75


@dataclass(frozen=True)
class View:
    scale: int
    factor: float
    #: working-image region (top, left, bottom, right) that is processed
    region: tuple[int, int, int, int]
    #: crop position in the full view, and inside the resized region; its size
    position: tuple[int, int]
    offset: tuple[int, int]
    size: int
    flip: bool
    quality: float | None
    #: the scraper's resampling kernel: "bilinear" or "bicubic" (both antialiased)
    kernel: str
    blur_sigma: float
    noise_sigma: float


def sample_view(cfg: EOTConfig, height: int, width: int, gen: torch.Generator) -> View:
    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen))

    scale = cfg.scales[int(torch.randint(len(cfg.scales), (), generator=gen))]
    factor, vh, vw = view_size(height, width, scale)
    size = min(cfg.crop, vh, vw)
    # crops start on the encoder's 8 px latent grid, so a crop's latents line up with the full view's;
    # most fall inside the view's centre square, which resize-and-centre-crop training pipelines keep
    lo_y, hi_y, lo_x, hi_x = 0, vh - size, 0, vw - size
    if float(torch.rand((), generator=gen)) < cfg.centre_p:
        side = min(vh, vw)
        cy, cx = (vh - side) // 2, (vw - side) // 2
        lo_y, hi_y = cy, max(cy, cy + side - size)
        lo_x, hi_x = cx, max(cx, cx + side - size)

    def on_grid(lo: int, hi: int) -> int:
        first, last = -(-lo // 8), hi // 8
        first = min(first, last)
        return 8 * int(torch.randint(first, last + 1, (), generator=gen))

    vy, vx = on_grid(lo_y, hi_y), on_grid(lo_x, hi_x)
    margin = 8
    top = max(0, math.floor(vy / factor) - margin) // _GRID * _GRID
    left = max(0, math.floor(vx / factor) - margin) // _GRID * _GRID
    bottom = min(height, math.ceil((vy + size) / factor) + margin)
    right = min(width, math.ceil((vx + size) / factor) + margin)
    oy, ox = round(vy - top * factor), round(vx - left * factor)

    quality: float | None = None
    if cfg.jpeg_quality is not None:
        quality = uniform(*cfg.jpeg_quality)
    elif float(torch.rand((), generator=gen)) < cfg.stray_jpeg_p:
        quality = uniform(85, 95)
    flip = cfg.flips and bool(torch.rand((), generator=gen) < 0.5)
    kernel = "bicubic" if float(torch.rand((), generator=gen)) < 0.5 else "bilinear"
    blur = uniform(0.3, 1.0) if float(torch.rand((), generator=gen)) < cfg.blur_p else 0.0
    noise = uniform(0.5, 2.0) / 255 if float(torch.rand((), generator=gen)) < cfg.noise_p else 0.0
    return View(
        scale,
        factor,
        (top, left, bottom, right),
        (vy, vx),
        (oy, ox),
        size,
        flip,
        quality,
        kernel,
        blur,
        noise,
    )


def effective_scale(height: int, width: int, scale: int) -> int:
    """Scrapers do not enlarge: an image whose short side is below ``scale`` is seen at its own size."""
    return max(8, min(scale, min(height, width) // 8 * 8))


def view_size(height: int, width: int, scale: int) -> tuple[float, int, int]:
    """(factor, view height, view width) for a scraper short side ``scale``; sizes floored to 8 px."""
    scale = effective_scale(height, width, scale)
    factor = scale / min(height, width)
    vh, vw = round(height * factor), round(width * factor)
    return factor, max(8, vh // 8 * 8), max(8, vw // 8 * 8)


def full_view(x: Tensor, scale: int) -> Tensor:
    """The whole scraper view at short side ``scale`` (no crop, no lossy steps), sized to multiples of 8."""
    height, width = x.shape[-2:]
    factor, vh, vw = view_size(height, width, scale)
    out = resize(x, round(height * factor), round(width * factor))
    return out[..., :vh, :vw]


def _resize_crop_flip(sub: Tensor, view: View) -> Tensor:
    h, w = sub.shape[-2:]
    out = resize(
        sub, max(view.size, round(h * view.factor)), max(view.size, round(w * view.factor)), view.kernel
    )
    oy = min(view.offset[0], out.shape[-2] - view.size)
    ox = min(view.offset[1], out.shape[-1] - view.size)
    out = out[..., oy : oy + view.size, ox : ox + view.size]
    return out.flip(-1) if view.flip else out


def _region(x: Tensor, view: View) -> Tensor:
    top, left, bottom, right = view.region
    return x[..., top:bottom, left:right]


def apply(x: Tensor, view: View) -> Tensor:
    """The full lossy view of the working image ``x`` (differentiable)."""
    sub = _region(x, view)
    if view.quality is not None:
        sub = jpeg(sub, view.quality, rounding="ste")
    out = _resize_crop_flip(sub, view)
    if view.blur_sigma > 0:
        out = gaussian_blur(out, view.blur_sigma)
    if view.noise_sigma > 0:
        # deterministic given the view: seeded from its geometry
        g = torch.Generator(device="cpu").manual_seed(hash(view) & 0xFFFFFFFF)
        out = out + torch.randn(out.shape, generator=g).to(out) * view.noise_sigma
    return out


def geometry(x: Tensor, view: View) -> Tensor:
    """The same view without JPEG, blur or noise (what the target looks like in that view)."""
    return _resize_crop_flip(_region(x, view), view)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    radius = max(1, math.ceil(2 * sigma))
    coords = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(coords**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
