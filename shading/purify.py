"""Cheap clean-ups an attacker would try on a protected image before training on it.

Each takes and returns an RGB PIL image; the report measures the pull that is left after each one and
then a site's profile.  They are deterministic (seeded) so reports repeat.

- ``jpeg75``: re-save as JPEG quality 75 (4:2:0);
- ``noise``: Gaussian noise, sigma 0.05 of the range (about 13 levels), clipped and rounded;
- ``bilateral``: 64 passes of a bilateral filter with a 5 px window and sigma 8 in colour and in space,
  as AdverseCleaner does with OpenCV (``cv2.bilateralFilter(img, 5, 8, 8)``: circular window of radius 2,
  colour distance the sum of the channels' absolute differences, reflected borders);
- ``down_up``: halve the size (Lanczos) and scale back up (bicubic).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .tensors import to_pil, to_tensor

NOISE_SIGMA = 0.05
BILATERAL_PASSES = 64


def jpeg75(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=75, subsampling=2)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def noise(img: Image.Image, sigma: float = NOISE_SIGMA, seed: int = 0) -> Image.Image:
    arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255
    arr = arr + np.random.default_rng(seed).normal(0, sigma, arr.shape)
    return Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8), "RGB")


@torch.no_grad()
def bilateral_pass(x: torch.Tensor, diameter: int = 5, sigma_colour: float = 8.0, sigma_space: float = 8.0):
    """One bilateral filter pass over (1, 3, H, W) in 0..255, with OpenCV's conventions (module docstring)."""
    radius = diameter // 2
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    h, w = x.shape[-2:]
    num = torch.zeros_like(x)
    den = torch.zeros_like(x[:, :1])
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius:
                continue
            shifted = padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            colour = (shifted - x).abs().sum(1, keepdim=True)
            weight = math.exp(-(dx * dx + dy * dy) / (2 * sigma_space**2)) * torch.exp(
                -(colour**2) / (2 * sigma_colour**2)
            )
            num += weight * shifted
            den += weight
    return num / den


def bilateral(img: Image.Image, passes: int = BILATERAL_PASSES) -> Image.Image:
    x = to_tensor(img).double() * 255
    for _ in range(passes):
        x = bilateral_pass(x).round().clamp(0, 255)  # OpenCV works on 8-bit images between passes
    return to_pil(x / 255)


def down_up(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    w, h = img.size
    small = img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS)
    return small.resize((w, h), Image.Resampling.BICUBIC)


PURIFIERS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg75": jpeg75,
    "noise": noise,
    "bilateral": bilateral,
    "down_up": down_up,
}
