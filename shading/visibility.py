"""Is the change visible?  Measured on the saved image against the original, the way a reviewer looks.

- ``colour_ssim``: the headline figure (per RGB channel, 11x11 Gaussian window, sigma 1.5, averaged), with
  the luminance-only SSIM beside it (it misses tints; never report it alone).
- ``flat_delta_e``: the flattest tenth of the image (16 px tiles ranked by the original's luma standard
  deviation), both images averaged over 4x4 boxes (what the eye integrates at 1:1), CIEDE2000 per box,
  95th percentile.  A just-noticeable difference is 1; for scale, Gaussian noise of 2 levels gives about
  0.8 and re-saving as JPEG q90 about 0.9.
- ``periodic_peak``: the largest peak of the luma change's 2-D power spectrum over its local median
  (5x5 bins).  Gaussian noise and JPEG re-saves stay in the 20s to 30s, a faint regular grid reaches
  tens of thousands: anything periodic shows here long before anyone notices it.  ``remove_peaks`` is the
  guard that notches such peaks out of a perturbation.
- ``compare_crops``: 1:1 crops of the flattest and the busiest part, original beside protected, so
  anyone can look.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy import ndimage
from torch import Tensor

from .perceptual import blur, ciede2000, colour_ssim, gaussian_window, luma_ssim, luminance, psnr, srgb_to_lab
from .tensors import to_tensor

TILE = 16
FLAT_FRACTION = 0.1
BOX = 4
PERCENTILE = 95
#: a tile whose luma standard deviation is under this many levels is flat to the eye wherever it is
FLAT_STD = 2.0
#: spectral peaks above this (noise and JPEG re-saves: 20s-30s) count as a periodic imprint
PEAK_LIMIT = 60.0
_PEAK_WINDOW = 5
_PEAK_SIDE = 1024  # the spectrum is taken on a centre crop at most this large (a pattern shows anywhere)
_DC_RADIUS = 3


def tile_flatness(x: Tensor, tile: int = TILE) -> Tensor:
    """Luma standard deviation (8-bit levels) of each ``tile`` x ``tile`` tile, shape (rows, cols)."""
    lum = luminance(x)[0, 0] * 255
    rows, cols = lum.shape[0] // tile, lum.shape[1] // tile
    tiles = lum[: rows * tile, : cols * tile].reshape(rows, tile, cols, tile)
    return tiles.std(dim=(1, 3))


def _flattest_tiles(x: Tensor, fraction: float, tile: int) -> Tensor:
    std = tile_flatness(x, tile)
    count = max(1, round(std.numel() * fraction))
    return std.flatten().argsort()[:count]


@torch.no_grad()
def flat_delta_e(original: Tensor, protected: Tensor, *, fraction: float = FLAT_FRACTION) -> float:
    """95th percentile CIEDE2000 over the flattest ``fraction`` of 16 px tiles, after 4x4 box averages."""
    original, protected = original.double(), protected.double()
    if min(original.shape[-2:]) < TILE:
        return 0.0
    a, b = F.avg_pool2d(original, BOX), F.avg_pool2d(protected, BOX)
    de = ciede2000(srgb_to_lab(a), srgb_to_lab(b))[0, 0]
    per = TILE // BOX
    rows, cols = original.shape[-2] // TILE, original.shape[-1] // TILE
    de = (
        de[: rows * per, : cols * per]
        .reshape(rows, per, cols, per)
        .permute(0, 2, 1, 3)
        .reshape(-1, per * per)
    )
    chosen = de[_flattest_tiles(original, fraction, TILE)].flatten()
    return float(torch.quantile(chosen, PERCENTILE / 100))


@torch.no_grad()
def flat_attenuation(
    original: Tensor, protected: Tensor, limit: float, *, fraction: float = FLAT_FRACTION, sigma: float = 6.0
) -> tuple[Tensor, int]:
    """Where the change shows, and only there: a factor map (1, 1, H, W) in (0, 1] that brings each flat
    tile (the flattest ``fraction``, and any tile under ``FLAT_STD`` levels of luma deviation) whose own
    95th-percentile difference (the ``flat_delta_e`` measure) is over 0.85 ``limit`` down to it, smoothed
    so no seam shows; 1 everywhere else.  A global scale would
    take the change out of the whole picture for one flat corner.  Returns the map and the tiles it
    touched."""
    h, w = original.shape[-2:]
    ones = torch.ones(1, 1, h, w, dtype=original.dtype, device=original.device)
    if min(h, w) < TILE:
        return ones, 0
    a, b = F.avg_pool2d(original.double(), BOX), F.avg_pool2d(protected.double(), BOX)
    de = ciede2000(srgb_to_lab(a), srgb_to_lab(b))[0, 0]
    per = TILE // BOX
    rows, cols = h // TILE, w // TILE
    tiles = (
        de[: rows * per, : cols * per]
        .reshape(rows, per, cols, per)
        .permute(0, 2, 1, 3)
        .reshape(-1, per * per)
    )
    # the tiles the flat-area figure judges, and any other tile as flat as a clear sky (its own luma
    # standard deviation under FLAT_STD levels): a tint shows there just as much
    std = tile_flatness(original, TILE).flatten()
    flat = torch.unique(
        torch.cat([_flattest_tiles(original, fraction, TILE), torch.nonzero(std < FLAT_STD)[:, 0]])
    )
    p95 = torch.quantile(tiles[flat], PERCENTILE / 100, dim=1)
    goal = 0.85 * limit
    over = p95 > goal
    scale = torch.ones(rows * cols, dtype=torch.float64, device=original.device)
    scale[flat[over]] = (goal / p95[over]).clamp(0.05, 1.0)
    grid = scale.view(1, 1, rows, cols).to(original.dtype)
    full = F.interpolate(grid, scale_factor=TILE, mode="nearest")
    full = F.pad(full, (0, w - full.shape[-1], 0, h - full.shape[-2]), value=1.0)
    # a soft edge around each shrunk tile (a minimum first, so the tile itself keeps its factor)
    radius = int(2 * sigma)
    full = -F.max_pool2d(-full, 2 * radius + 1, stride=1, padding=radius)
    window = gaussian_window(2 * radius + 1, sigma, full.device, full.dtype)
    full = blur(full, window).clamp(0.05, 1.0)
    return full, int(over.sum())


def symmetric_median(power: np.ndarray, size: int) -> np.ndarray:
    """``ndimage.median_filter(power, size, mode="wrap")`` for the power spectrum of a real signal (not
    fftshifted), in half the time: such a spectrum is the same at ``k`` and ``-k``, and so is its wrapped
    median, so only the first half of the rows is filtered (with ``size // 2`` wrapped rows either side)
    and the rest is that half mirrored.  Equal to the whole filter up to float rounding (the FFT's two
    halves differ in the last bits)."""
    h, w = power.shape
    r, half = size // 2, h // 2 + 1
    rows = np.arange(-r, half + r) % h
    top = ndimage.median_filter(power[rows], size=size, mode="wrap")[r : r + half]
    mirrored = (h - np.arange(half, h)) % h
    return np.concatenate([top, top[mirrored][:, (-np.arange(w)) % w]])


def _centre(t: np.ndarray, side: int) -> np.ndarray:
    h, w = t.shape
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return t[top : top + side, left : left + side]


def peak_ratio_map(change: np.ndarray) -> np.ndarray:
    """Power spectrum of a 2-D change over its local median (DC neighbourhood zeroed), fftshifted."""
    change = change - change.mean()
    power = np.abs(np.fft.fft2(change)) ** 2
    median = symmetric_median(power, _PEAK_WINDOW)
    ratio = np.fft.fftshift(power / np.maximum(median, 1e-20 + 1e-12 * power.mean()))
    cy, cx = power.shape[0] // 2, power.shape[1] // 2
    ratio[cy - _DC_RADIUS : cy + _DC_RADIUS + 1, cx - _DC_RADIUS : cx + _DC_RADIUS + 1] = 0
    return ratio


@torch.no_grad()
def periodic_peak(original: Tensor, protected: Tensor) -> float:
    """Largest spectral peak of the luma change over its local median (see module docstring)."""
    change = ((luminance(protected) - luminance(original))[0, 0] * 255).double().cpu().numpy()
    change = _centre(change, _PEAK_SIDE)
    if min(change.shape) < 2 * _PEAK_WINDOW or not np.any(change):
        return 0.0
    return float(peak_ratio_map(change).max())


@torch.no_grad()
def remove_peaks(delta: Tensor, limit: float = PEAK_LIMIT, *, rounds: int = 3) -> tuple[Tensor, int]:
    """Notch periodic peaks out of a perturbation (B, 3, H, W): every spectral bin of each channel whose
    power stands more than ``0.75 * limit`` over its local median is brought down to that median.

    Returns the cleaned perturbation and how many bins were notched.  Applied to the luma-weighted
    spectrum's peaks, on all three channels, so colour and luma imprints both go."""
    out = delta.double().cpu().numpy()[0]
    notched = 0
    for _ in range(rounds):
        luma = np.tensordot(np.array([0.299, 0.587, 0.114]), out, axes=1) * 255
        if min(luma.shape) < 2 * _PEAK_WINDOW:
            break
        ratio = np.fft.ifftshift(peak_ratio_map(luma))
        mask = ratio > 0.75 * limit
        if not mask.any():
            break
        notched += int(mask.sum())
        for c in range(out.shape[0]):
            spec = np.fft.fft2(out[c])
            power = np.abs(spec) ** 2
            keep = np.sqrt(_median_at(power, mask, _PEAK_WINDOW) / np.maximum(power[mask], 1e-30))
            spec[mask] *= np.minimum(1.0, keep)
            out[c] = np.fft.ifft2(spec).real
    return torch.from_numpy(out[None]).to(delta), notched


def _median_at(power: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """``ndimage.median_filter(power, size, mode="wrap")`` at the bins ``mask`` sets only, in their
    ``np.nonzero`` order: the few bins a notch touches, where filtering the whole spectrum of each channel
    cost a fifth of a second."""
    h, w = power.shape
    offsets = np.arange(size) - size // 2
    ys, xs = np.nonzero(mask)
    rows = (ys[:, None, None] + offsets[None, :, None]) % h
    cols = (xs[:, None, None] + offsets[None, None, :]) % w
    return np.median(power[rows, cols].reshape(len(ys), -1), axis=1)


def visibility_report(
    original: Image.Image, protected: Image.Image, *, flat_limit: float = 1.0
) -> dict[str, Any]:
    """Every visibility figure for a saved image: colour SSIM (headline), luma SSIM, PSNR, flat-area
    CIEDE2000, periodic peak (with the limits they are judged against: ``flat_limit`` is the intensity's)."""
    a, b = to_tensor(original), to_tensor(protected)
    peak = periodic_peak(a, b)
    return {
        "ssim_colour": round(float(colour_ssim(a, b)[0]), 5),
        "ssim_luma": round(float(luma_ssim(a, b)[0]), 5),
        "psnr": round(float(psnr(a, b)[0]), 3),
        "flat_delta_e_p95": round(flat_delta_e(a, b), 3),
        "flat_delta_e_limit": flat_limit,
        "periodic_peak": round(peak, 1),
        "periodic_peak_limit": PEAK_LIMIT,
    }


def _crop_box(x: Tensor, side: int, busiest: bool) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the ``side`` px square that is flattest (or busiest) on average."""
    std = tile_flatness(x, TILE)
    per = max(1, side // TILE)
    if std.shape[0] < per or std.shape[1] < per:
        return 0, 0, min(side, x.shape[-1]), min(side, x.shape[-2])
    score = F.avg_pool2d(std[None, None], per, stride=1)[0, 0]
    flat_index = int(score.argmax() if busiest else score.argmin())
    r, c = divmod(flat_index, score.shape[1])
    return c * TILE, r * TILE, c * TILE + side, r * TILE + side


def compare_crops(original: Image.Image, protected: Image.Image, *, side: int = 256) -> Image.Image:
    """A sheet of 1:1 crops: the flattest and the busiest ``side`` px square, original beside protected."""
    original, protected = original.convert("RGB"), protected.convert("RGB")
    side = min(side, *original.size)
    x = to_tensor(original)
    pad, label_h = 8, 18
    sheet = Image.new("RGB", (2 * side + 3 * pad, 2 * (side + label_h) + 3 * pad), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for row, (name, busiest) in enumerate((("flattest", False), ("busiest", True))):
        box = _crop_box(x, side, busiest)
        top = pad + row * (side + label_h + pad)
        for col, (what, img) in enumerate((("original", original), ("protected", protected))):
            left = pad + col * (side + pad)
            draw.text(
                (left, top + 2), f"{what}, {name} part at 1:1 ({box[0]},{box[1]})", fill=(230, 230, 230)
            )
            sheet.paste(img.crop(box), (left, top + label_h))
    return sheet
