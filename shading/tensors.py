"""Small conversions between PIL images and tensors, shared by the engine's modules."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor


def to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    """RGB PIL image -> float tensor (1, 3, H, W) in [0, 1]."""
    arr = np.array(img.convert("RGB"), dtype=np.float32, copy=True) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).to(device)


def to_pil(x: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB PIL image (rounded to 8 bits)."""
    if x.dim() == 4:
        x = x[0]
    arr = (x.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def resize(x: Tensor, height: int, width: int, kernel: str = "bilinear") -> Tensor:
    """Differentiable, antialiased resize (what a site or scraper does when it shrinks an image)."""
    if (x.shape[-2], x.shape[-1]) == (height, width):
        return x
    down = height < x.shape[-2] or width < x.shape[-1]
    out = F.interpolate(x, size=(height, width), mode=kernel, align_corners=False, antialias=down)
    return out if kernel == "bilinear" else out.clamp(0, 1)


def fit_cover(x: Tensor, height: int, width: int) -> Tensor:
    """Scale to cover (height, width), then centre-crop: how a target is fitted to the artwork."""
    h, w = x.shape[-2:]
    scale = max(height / h, width / w)
    nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
    x = resize(x, nh, nw)
    top, left = (nh - height) // 2, (nw - width) // 2
    return x[..., top : top + height, left : left + width]
