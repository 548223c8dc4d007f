"""What people notice: a differentiable SSIM and a per-pixel budget map.

Both need no downloaded weights.  The budget map lets the shading live where texture and edges hide it
and keeps flat areas (sky, gradients, skin) nearly untouched:

    budget = floor + (1 - floor) * texture / (texture + knee)

where ``texture`` is the local standard deviation of luminance over a small window, dilated a little so
edges get budget on both sides.  Skin-coloured smooth regions get a further reduction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_LUMA = (0.299, 0.587, 0.114)


def luminance(x: Tensor) -> Tensor:
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, window: Tensor) -> Tensor:
    c = x.shape[1]
    k = window.numel()
    pad = k // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    x = F.conv2d(x, window.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, window.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def ssim_map(x: Tensor, y: Tensor, *, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-pixel SSIM (Wang et al. 2004, Gaussian window, data range 1) on luminance, shape (B, 1, H, W)."""
    x, y = luminance(x), luminance(y)
    win = _gaussian_window(window, sigma, x.device, x.dtype)
    c1, c2 = 0.01**2, 0.03**2
    mx, my = _blur(x, win), _blur(y, win)
    sxx = _blur(x * x, win) - mx * mx
    syy = _blur(y * y, win) - my * my
    sxy = _blur(x * y, win) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(x: Tensor, y: Tensor) -> Tensor:
    """Mean SSIM per image, shape (B,)."""
    return ssim_map(x, y).mean(dim=(1, 2, 3))


def largest_scale_for_ssim(x: Tensor, delta: Tensor, goal: float, *, iters: int = 12) -> float:
    """The largest a in [0, 1] with mean SSIM(x, x + a * delta) >= goal (no clamping or rounding).

    SSIM's local statistics of y = x + a*d are polynomials in a (mean_y = mean_x + a*mean_d, ...), so the
    five blurred maps are computed once and the bisection costs almost nothing: cheap enough to run
    inside the optimiser's loop.
    """
    lx, ld = luminance(x), luminance(delta)
    win = _gaussian_window(11, 1.5, x.device, x.dtype)
    mx, md = _blur(lx, win), _blur(ld, win)
    vx = _blur(lx * lx, win) - mx * mx
    vd = _blur(ld * ld, win) - md * md
    cxd = _blur(lx * ld, win) - mx * md
    c1, c2 = 0.01**2, 0.03**2

    def mean_ssim(a: float) -> float:
        my = mx + a * md
        vy = vx + 2 * a * cxd + a * a * vd
        sxy = vx + a * cxd
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        return float(s.mean())

    if mean_ssim(1.0) >= goal:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_ssim(mid) >= goal else (lo, mid)
    return lo


def psnr(x: Tensor, y: Tensor) -> Tensor:
    mse = (x - y).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
    return 10 * torch.log10(1 / mse)


def budget_map(x: Tensor, *, floor: float = 0.2, knee: float = 0.04, window: int = 7) -> Tensor:
    """Per-pixel share of the perturbation budget in [floor, 1], shape (B, 1, H, W)."""
    lum = luminance(x)
    win = _gaussian_window(window, window / 3, x.device, x.dtype)
    mean = _blur(lum, win)
    std = (_blur(lum * lum, win) - mean * mean).clamp_min(0).sqrt()
    texture = F.max_pool2d(std, 5, stride=1, padding=2)  # let edges give budget to both sides
    share = floor + (1 - floor) * texture / (texture + knee)
    return share * (1 - 0.5 * _smooth_skin(x, std))


def _smooth_skin(x: Tensor, std: Tensor) -> Tensor:
    """Soft mask of smooth, skin-coloured pixels (YCbCr box of Chai & Ngan), where changes show most."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    cb = 128 / 255 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 / 255 + 0.5 * r - 0.418688 * g - 0.081312 * b
    skin = ((cb > 77 / 255) & (cb < 127 / 255) & (cr > 133 / 255) & (cr < 173 / 255)).to(x.dtype)
    smooth = (std < 0.03).to(x.dtype)
    return F.avg_pool2d(skin * smooth, 5, stride=1, padding=2)
