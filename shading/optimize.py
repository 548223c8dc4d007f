"""The optimiser: pull the image's encodings toward the targets' under a perceptual budget.

The perturbation ``delta`` lives at the *shade size* (short side 512 for most presets): smooth enough,
once upsampled to the size the site keeps, to survive its JPEG, and cheap to optimise.  Each step draws a
random view (``transforms.eot``: the site's JPEG, a scraper's resize and crop, mild blur/noise), encodes it
with every encoder of the ensemble and descends the squared distance of the crop's latents to the
target's latents at the same place.  Target latents are computed once per scraper scale on the whole view;
only the interior of a crop's latent grid is compared, where the crop sees everything the full view does.

``delta`` is kept inside a per-pixel box ``epsilon * budget_map`` (texture and edges get more, flat areas
and skin less); an SSIM penalty steers it away from what people notice, and a final scale-back guarantees
the intensity's SSIM goal.  Adam with a cosine step-size schedule; early stop when the running loss stops
improving.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .device import autocast_dtype
from .encoders.ensemble import Ensemble
from .perceptual import budget_map, largest_scale_for_ssim, ssim, ssim_map
from .tensors import resize
from .transforms import eot

ProgressFn = Callable[[float, str], None]

#: how far below the SSIM goal a neighbourhood may fall before the step is scaled down there
LOCAL_SSIM_SLACK = 0.15

#: latent cells at a crop's edge left out of the loss (the encoder's receptive field reaches past the crop)
INTERIOR_MARGIN = 3


@dataclass(frozen=True)
class Schedule:
    """How hard to work: a preset."""

    steps: int
    crop: int
    scales: tuple[int, ...]
    flips: bool
    shade_short_side: int = 512
    views_per_step: int = 1
    lr: float = 0.25  # in units of epsilon per step, at the start
    lr_floor: float = 0.1  # final step size as a fraction of the first
    min_steps_fraction: float = 0.6
    patience: int = 30
    #: project onto the mean-SSIM goal (at the working size) after every step
    project_ssim: bool = True


@dataclass(frozen=True)
class Budget:
    """How much change is allowed: an intensity."""

    epsilon: float  # L-inf bound where the budget map is 1
    ssim_goal: float  # mean SSIM to the original the result must keep
    floor: float = 0.3  # budget share of perfectly flat areas


SCHEDULES: dict[str, Schedule] = {
    "fast": Schedule(steps=16, crop=512, scales=(512,), flips=False, lr=0.35),
    # scales repeat to weight them: two views in three at 512, the size training pipelines use most
    "default": Schedule(steps=60, crop=512, scales=(512, 512, 768), flips=False, lr=0.3),
    "max": Schedule(
        steps=100, crop=512, scales=(512, 768, 1024), flips=True, shade_short_side=768, patience=40
    ),
}

BUDGETS: dict[str, Budget] = {
    "low": Budget(epsilon=12 / 255, ssim_goal=0.975),
    "default": Budget(epsilon=20 / 255, ssim_goal=0.955),
    "high": Budget(epsilon=24 / 255, ssim_goal=0.92),
}


@dataclass
class TargetTensor:
    image: Tensor  # (1, 3, H, W) at the working size
    weight: float


@dataclass
class Outcome:
    delta: Tensor  # at the shade size
    steps_run: int
    early_stopped: bool
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "steps_run": self.steps_run,
            "early_stopped": self.early_stopped,
            "first_loss": round(self.losses[0], 5) if self.losses else None,
            "final_loss": round(self.losses[-1], 5) if self.losses else None,
            "seconds": round(self.seconds, 3),
            "shade_size": [int(self.delta.shape[-1]), int(self.delta.shape[-2])],
        }


def shade_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    if min(height, width) <= short_side:
        return height, width
    scale = short_side / min(height, width)
    return round(height * scale), round(width * scale)


def upsample(delta: Tensor, height: int, width: int) -> Tensor:
    """The perturbation at another size (bilinear; identity when the size already matches)."""
    return resize(delta, height, width)


class _TargetLatents:
    """Each (encoder, target, scale, flip)'s latents of the whole view, computed on first use."""

    def __init__(
        self, ensemble: Ensemble, targets: list[TargetTensor], x: Tensor, precision: Callable
    ) -> None:
        self.ensemble, self.targets, self.x, self.precision = ensemble, targets, x, precision
        self.cache: dict[tuple[int, int, int, bool], Tensor] = {}
        self.norms: dict[tuple[int, int], float] = {}

    @torch.no_grad()
    def get(self, e: int, k: int, scale: int, flip: bool) -> Tensor:
        key = (e, k, scale, flip)
        if key not in self.cache:
            img = eot.full_view(self.targets[k].image, scale)
            with self.precision():
                self.cache[key] = (
                    self.ensemble.members[e].encoder.encode(img.flip(-1) if flip else img).float()
                )
        return self.cache[key]

    @torch.no_grad()
    def norm(self, e: int, k: int, scale: int) -> float:
        """Mean squared latent distance original -> target: the scale of the loss for this pair."""
        if (e, k) not in self.norms:
            with self.precision():
                zx = self.ensemble.members[e].encoder.encode(eot.full_view(self.x, scale)).float()
            self.norms[(e, k)] = float((zx - self.get(e, k, scale, False)).pow(2).mean().clamp_min(1e-8))
        return self.norms[(e, k)]


def _trim(view: eot.View, full_shape: tuple[int, int], margin: int) -> tuple[int, int, int, int]:
    """Latent cells to leave out at each side (top, bottom, left, right) of a crop: ``margin`` where the
    crop's edge lies inside the view (the encoder would have seen past it), none at the view's own edges."""
    cells = view.size // 8
    vy, vx = view.position[0] // 8, view.position[1] // 8
    rows, cols = full_shape
    return (
        margin if vy > 0 else 0,
        margin if vy + cells < rows else 0,
        margin if vx > 0 else 0,
        margin if vx + cells < cols else 0,
    )


def _window(z_full: Tensor, view: eot.View, trim: tuple[int, int, int, int]) -> Tensor:
    """The latents of the full view under a crop, trimmed (flipped views: mirrored)."""
    cells = view.size // 8
    vy, vx = view.position[0] // 8, view.position[1] // 8
    top, bottom, left, right = trim
    window = z_full[..., vy + top : vy + cells - bottom, vx + left : vx + cells - right]
    return window


def _crop_latent(z: Tensor, trim: tuple[int, int, int, int], flip: bool) -> Tensor:
    top, bottom, left, right = trim
    if flip:  # the crop was mirrored before encoding; mirror back to compare with the unflipped full view
        z = z.flip(-1)
    return z[..., top : z.shape[-2] - bottom, left : z.shape[-1] - right]


def optimise(
    x: Tensor,
    targets: list[TargetTensor],
    ensemble: Ensemble,
    schedule: Schedule,
    budget: Budget,
    eot_cfg: eot.EOTConfig,
    *,
    seed: int,
    progress: ProgressFn | None = None,
) -> Outcome:
    """Return the perturbation (at the shade size) for the working image ``x`` (1, 3, H, W) in [0, 1]."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    _, _, height, width = x.shape
    sh, sw = shade_size(height, width, schedule.shade_short_side)
    x_shade = resize(x, sh, sw)
    bound = budget.epsilon * budget_map(x_shade, floor=budget.floor)
    delta = torch.zeros_like(x_shade, requires_grad=True)
    base_lr = schedule.lr * budget.epsilon
    opt = torch.optim.Adam([delta], lr=base_lr, betas=(0.9, 0.99))
    dtype = autocast_dtype(x.device)

    def precision() -> contextlib.AbstractContextManager:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(x.device.type, dtype=dtype)

    latents = _TargetLatents(ensemble, targets, x, precision)
    margin = INTERIOR_MARGIN
    losses: list[float] = []
    history: list[float] = []
    ema: float | None = None
    early = False
    steps_run = 0
    for step in range(schedule.steps):
        frac = step / max(1, schedule.steps - 1)
        cos = 0.5 * (1 + math.cos(math.pi * frac))
        for group in opt.param_groups:
            group["lr"] = base_lr * (schedule.lr_floor + (1 - schedule.lr_floor) * cos)
        opt.zero_grad(set_to_none=True)
        protected = x + upsample(delta, height, width)
        pull_loss = torch.zeros((), device=x.device)
        for _ in range(schedule.views_per_step):
            view = eot.sample_view(eot_cfg, height, width, gen)
            seen = eot.apply(protected, view)
            m = min(margin, view.size // 8 // 6)
            for e, member in enumerate(ensemble):
                with precision():
                    z = member.encoder.encode(seen).float()
                for k, target in enumerate(targets):
                    z_full = latents.get(e, k, view.scale, view.flip)
                    if view.flip:
                        z_full = z_full.flip(-1)  # latents of the mirrored view, in unmirrored positions
                    trim = _trim(view, (z_full.shape[-2], z_full.shape[-1]), m)
                    zt = _window(z_full, view, trim)
                    z_crop = _crop_latent(z, trim, view.flip)
                    dist = (z_crop - zt).pow(2).mean() / latents.norm(e, k, eot_cfg.scales[0])
                    pull_loss = pull_loss + member.weight * target.weight * dist
        (pull_loss / schedule.views_per_step).backward()
        opt.step()
        with torch.no_grad():
            delta.copy_(torch.maximum(torch.minimum(delta, bound), -bound))
            delta.mul_(_local_ssim_shrink(x_shade, delta, budget.ssim_goal))
            delta.copy_((x_shade + delta).clamp(0, 1) - x_shade)
            if schedule.project_ssim:
                # hold the mean SSIM goal at the working size as the run goes, so later steps spend the
                # budget where it is cheap instead of being scaled back uniformly at the end
                delta.mul_(largest_scale_for_ssim(x, upsample(delta, height, width), budget.ssim_goal))
        steps_run = step + 1
        value = float(pull_loss.detach()) / schedule.views_per_step
        losses.append(value)
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        history.append(ema)
        if progress is not None:
            progress(steps_run / schedule.steps, "optimising")
        if (
            steps_run >= schedule.min_steps_fraction * schedule.steps
            and len(history) > schedule.patience
            and history[-1] > history[-1 - schedule.patience] * 0.995
        ):
            early = True
            break
    # the mean SSIM goal is enforced by the caller, on the image as it will be saved (see api.protect)
    return Outcome(delta.detach(), steps_run, early, losses, time.perf_counter() - start)


def _local_ssim_shrink(x: Tensor, delta: Tensor, goal: float, *, slack: float = LOCAL_SSIM_SLACK) -> Tensor:
    """A per-pixel factor <= 1 that scales the change down where it shows locally.

    A projection rather than a penalty: the optimiser's direction stays the encoder's, and only places
    whose local SSIM falls below ``goal - slack`` (a visible spot) are scaled down, in proportion to the
    shortfall.  The mean SSIM goal itself is met by the final scale-back: holding every pixel to the goal
    would keep the mean far above it and waste most of the budget.
    """
    local = ssim_map(x, x + delta)
    shortfall = (goal - slack - local).clamp_min(0)
    return (1 - 4 * shortfall).clamp(0.5, 1.0)


@torch.no_grad()
def scale_to_ssim(x: Tensor, delta: Tensor, goal: float, *, iters: int = 8, quantise: bool = True) -> float:
    """The largest factor in (0, 1] that keeps mean SSIM(x, x + factor * delta) >= goal (bisection).

    ``quantise`` rounds to 8-bit samples first, as the saved file will be."""

    def quality(factor: float) -> float:
        out = (x + factor * delta).clamp(0, 1)
        if quantise:
            out = (out * 255).round() / 255
        return float(ssim(x, out).mean())

    if quality(1.0) >= goal:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        if quality(mid) >= goal:
            lo = mid
        else:
            hi = mid
    return lo
