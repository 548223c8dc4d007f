"""Expectation over transformations: random views of the image as a site and then a scraper would make.

One ``View`` is: the site's JPEG re-encode (differentiable, ``jpeg.jpeg``, with the site's chroma
subsampling) of the region that matters, the scraper's resize to a short side of 512/768/1024, a crop the
encoder sees, an optional horizontal flip (training augmentation), and optional mild blur and noise.  Only
the region of the working image that the crop needs (plus a margin, aligned to the 16 px JPEG grid) is
processed, so a step's cost depends on the crop size, not on the upload's size.  ``geometry`` applies the
same resize/crop/flip without the lossy parts, for the target.

Crops start at any pixel, not only on the encoder's 8 px latent grid: a perturbation fitted to one grid
phase prints that grid into the image (a regular imprint people see on flat areas) and fails for the
scrapers whose crops fall elsewhere.  The optimiser compares a crop's latents with the target's latents
resampled at the crop's fractional cell positions (``latent_window``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import astuple, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..perceptual import blur
from ..tensors import resize
from .jpeg import jpeg
from .platform import bucket_cover

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
    #: probability that a crop lies inside the view's centre square (0: crops spread so that every part of
    #: the view is covered about as often, as trainers that bucket by aspect ratio see all of it)
    centre_p: float = 0.0
    #: the scraper's short side varies by up to this fraction around each scale (scrapers differ, and the
    #: latent grid then meets the image at every phase)
    scale_jitter: float = 0.0
    #: probability of the canonical view: the nominal scale exactly and the centre crop (what the most
    #: common training pipeline, resize-and-centre-crop, sees)
    canonical_p: float = 0.0
    #: probability of a whole-picture view: the entire picture at the first scale (jittered), no crop, as
    #: trainers that bucket by aspect ratio see it; made smaller when it would exceed ``whole_max_pixels``
    whole_p: float = 0.0
    whole_max_pixels: int = 512 * 768
    #: probability of a view at the bucketing trainer's scale (``platform.bucket_size``: the whole picture
    #: resized to cover a ~1 MP bucket), of which a ``crop`` is encoded
    bucket_p: float = 0.0


@dataclass(frozen=True)
class View:
    #: the nominal scraper short side, and the view's actual resize factor (jittered around it)
    scale: int
    factor: float
    #: the resize factor of the nominal view (``full_view(x, scale)``), whose latents are the target's
    full_factor: float
    #: the view's size
    view_height: int
    view_width: int
    #: working-image region (top, left, bottom, right) that is processed
    region: tuple[int, int, int, int]
    #: crop position in the view, and inside the resized region; its height and width
    position: tuple[int, int]
    offset: tuple[int, int]
    crop_h: int
    crop_w: int
    flip: bool
    quality: float | None
    #: the scraper's resampling kernel: "bilinear" or "bicubic" (both antialiased)
    kernel: str
    blur_sigma: float
    noise_sigma: float
    subsampling: str = "4:2:0"

    @property
    def whole(self) -> bool:
        """The crop is the entire view."""
        return (self.crop_h, self.crop_w) == (self.view_height, self.view_width)

    def seed(self) -> int:
        """A seed that depends on the view's fields only: the same in every process (``hash`` of a view
        holding a string changes with PYTHONHASHSEED)."""
        return int.from_bytes(hashlib.blake2b(repr(astuple(self)).encode(), digest_size=8).digest(), "little")


def bucket_scale(height: int, width: int) -> int:
    """The short side a trainer that buckets by aspect ratio resizes a picture to (``platform.bucket_size``:
    the bucket of about 1 MP with the closest aspect ratio, sides in multiples of 64, covered)."""
    return round(min(height, width) * bucket_cover(width, height))


def whole_scale(height: int, width: int, scale: int, max_pixels: int) -> int:
    """``scale``, or the largest short side below it whose whole view has at most ``max_pixels``."""
    _, vh, vw = view_size(height, width, scale)
    if vh * vw <= max_pixels:
        return scale
    return max(64, int(scale * math.sqrt(max_pixels / (vh * vw))) // 8 * 8)


def _spread(lo: int, hi: int, size: int, gen: torch.Generator) -> int:
    """A crop start in [lo, hi] that covers every pixel of [lo, hi + size) about as often: a pixel is drawn
    first, then the crop's offset around it (plain uniform starts would cover the view's ends 5x less)."""
    if hi <= lo:
        return lo
    pixel = int(torch.randint(lo, hi + size, (), generator=gen))
    offset = int(torch.randint(0, size, (), generator=gen))
    return min(max(pixel - offset, lo), hi)


def sample_view(cfg: EOTConfig, height: int, width: int, gen: torch.Generator) -> View:
    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen))

    roll = float(torch.rand((), generator=gen))
    canonical = roll < cfg.canonical_p
    whole = not canonical and roll < cfg.canonical_p + cfg.whole_p
    bucket = not canonical and not whole and roll < cfg.canonical_p + cfg.whole_p + cfg.bucket_p
    scale = cfg.scales[int(torch.randint(len(cfg.scales), (), generator=gen))]
    if whole:
        scale = whole_scale(height, width, cfg.scales[0], cfg.whole_max_pixels)
    elif bucket:
        scale = bucket_scale(height, width)
    full_factor, _, _ = view_size(height, width, scale)
    jittered = scale
    if cfg.scale_jitter and not canonical and not bucket:
        jittered = round(scale * uniform(1 - cfg.scale_jitter, 1 + cfg.scale_jitter))
        if whole:  # never past the size bound: jitter downward from it when it binds
            jittered = min(jittered, whole_scale(height, width, jittered, cfg.whole_max_pixels))
    factor, vh, vw = view_size(height, width, jittered)
    if whole:
        crop_h, crop_w = vh, vw
    else:
        crop_h = crop_w = min(cfg.crop, vh, vw) // 8 * 8
    lo_y, hi_y, lo_x, hi_x = 0, vh - crop_h, 0, vw - crop_w
    if canonical:
        lo_y = hi_y = (vh - crop_h) // 2
        lo_x = hi_x = (vw - crop_w) // 2
    elif not whole and float(torch.rand((), generator=gen)) < cfg.centre_p:
        side = min(vh, vw)
        cy, cx = (vh - side) // 2, (vw - side) // 2
        lo_y, hi_y = cy, max(cy, cy + side - crop_h)
        lo_x, hi_x = cx, max(cx, cx + side - crop_w)
    # crops start at any pixel (see the module docstring)
    vy, vx = _spread(lo_y, hi_y, crop_h, gen), _spread(lo_x, hi_x, crop_w, gen)
    margin = 8
    top = max(0, math.floor(vy / factor) - margin) // _GRID * _GRID
    left = max(0, math.floor(vx / factor) - margin) // _GRID * _GRID
    bottom = min(height, math.ceil((vy + crop_h) / factor) + margin)
    right = min(width, math.ceil((vx + crop_w) / factor) + margin)
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
    region = (top, left, bottom, right)
    return View(scale, factor, full_factor, vh, vw, region, (vy, vx), (oy, ox), crop_h, crop_w, flip,
                quality, kernel, blur, noise, cfg.subsampling)  # fmt: skip


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
        sub, max(view.crop_h, round(h * view.factor)), max(view.crop_w, round(w * view.factor)), view.kernel
    )
    oy = min(view.offset[0], out.shape[-2] - view.crop_h)
    ox = min(view.offset[1], out.shape[-1] - view.crop_w)
    out = out[..., oy : oy + view.crop_h, ox : ox + view.crop_w]
    return out.flip(-1) if view.flip else out


def _region(x: Tensor, view: View) -> Tensor:
    top, left, bottom, right = view.region
    return x[..., top:bottom, left:right]


def apply(x: Tensor, view: View) -> Tensor:
    """The full lossy view of the working image ``x`` (differentiable)."""
    sub = _region(x, view)
    if view.quality is not None:
        sub = jpeg(sub, view.quality, subsampling=view.subsampling, rounding="ste")
    out = _resize_crop_flip(sub, view)
    if view.blur_sigma > 0:
        out = gaussian_blur(out, view.blur_sigma)
    if view.noise_sigma > 0:
        # deterministic given the view, in every process
        g = torch.Generator(device="cpu").manual_seed(view.seed())
        out = out + torch.randn(out.shape, generator=g).to(out) * view.noise_sigma
    return out


def latent_window(
    z_full: Tensor, view: View, trim: tuple[int, int, int, int] = (0, 0, 0, 0), stride: int = 8
) -> Tensor:
    """The nominal full view's latents (B, C, h, w) at the cells of ``view``'s crop, ``trim`` latent cells
    (8 px) left out at each side (top, bottom, left, right).  A crop may start at any pixel of a view resized
    by a jittered factor, so each cell's centre is mapped back to the nominal view and the latents are
    resampled there (bilinear).  Not mirrored: compare with the crop's latents mirrored back.  ``stride``:
    the pixels per cell of ``z_full`` when it is an encoder's feature map at a finer stride (8 divisible by
    it); the trim stays in latent cells."""
    per_cell = 8 // stride
    top, bottom, left, right = (t * per_cell for t in trim)
    cells_y, cells_x = view.crop_h // stride, view.crop_w // stride
    ratio = view.full_factor / view.factor
    dev, dt = z_full.device, z_full.dtype
    rows, cols = z_full.shape[-2:]
    centre = (stride - 1) / 2

    def cells(start: int, first: int, last: int) -> Tensor:  # cell centres in the nominal view's cells
        pixels = start + stride * torch.arange(first, last, device=dev, dtype=dt) + centre
        return (pixels * ratio - centre) / stride

    ys, xs = cells(view.position[0], top, cells_y - bottom), cells(view.position[1], left, cells_x - right)
    if ratio == 1 and view.position[0] % stride == 0 and view.position[1] % stride == 0:  # on the grid
        y0, x0 = int(ys[0]), int(xs[0])
        return z_full[..., y0 : y0 + len(ys), x0 : x0 + len(xs)]
    gy, gx = (2 * ys + 1) / rows - 1, (2 * xs + 1) / cols - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1).unsqueeze(0)
    grid = grid.expand(z_full.shape[0], -1, -1, -1)
    return F.grid_sample(z_full, grid, mode="bilinear", padding_mode="border", align_corners=False)


def geometry(x: Tensor, view: View) -> Tensor:
    """The same view without JPEG, blur or noise (what the target looks like in that view)."""
    return _resize_crop_flip(_region(x, view), view)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """A Gaussian blur of every channel (taps to 2 sigma, edges repeated), as ``perceptual.blur`` runs it:
    shifted slices, several times faster on the CPU than a depthwise convolution, with the same values."""
    radius = max(1, math.ceil(2 * sigma))
    coords = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(coords**2) / (2 * sigma**2))
    return blur(x, k / k.sum())
