"""The optimiser: pull the image's encodings toward the targets' inside what people cannot see.

The perturbation lives at the *shade size* (the working size, short side at most 1024) in budget units:
``u`` in [-1, 1] per pixel and per YCbCr component, the change being ``ycc_to_rgb(budget * u)`` where
``budget`` is ``perceptual.jnd_budget`` of the image (texture and edges get more, flat areas, skin and every
tint far less).  Each step draws a random view (``transforms.eot``: the site's JPEG, a scraper's resize at a
jittered scale and a crop at any pixel, sometimes a flip, blur or noise), encodes it with every encoder of
the ensemble and descends the squared distance of the crop's latents to the target's latents in the same
view: with ``Schedule.exact_targets`` (``default``, ``max``) the target put through the view's geometry and
encoded too; otherwise (``fast``) resampled from the target's full view, computed once per encoder, target
and scale.

Steps are sign steps on a momentum of normalised gradients (MI-FGSM; it spends the budget in few steps
and transfers better than Adam), optionally smoothed (translation-invariant gradients), with a cosine
step size.  Once the change has spent its colour-SSIM goal, each step's gradient also carries SSIM's, at
a price (``Schedule.ssim_price``): the change moves from where it costs most SSIM to where it costs least.
After every step the change is projected back into the box and onto the mean colour-SSIM goal (closed
form in the scale; SSIM's value and gradient both come from ``perceptual.SSIMReference``, which blurs the
original once), held at the shade size but aimed, by measuring both sizes a few times, where the
full-size picture meets it; early stop when the running loss stops improving.  At a third and two thirds of
the steps (``Schedule.flat_guard_at``) the finish's flat-area guard runs on the change so far and its
shrinking is folded into the budget map, so the goal is spent where the finish will keep the change.
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
from .perceptual import JND, SSIMReference, colour_ssim, jnd_budget, rgb_to_ycc_transpose, ycc_to_rgb
from .tensors import resize
from .transforms import eot
from .visibility import flat_attenuation

ProgressFn = Callable[[float, str], None]

#: the short side of the views the loss normaliser is measured on (``TargetLatents.norm``)
NORM_SCALE = 256

#: latent cells at a crop's edge left out of the loss (the encoder's receptive field reaches past the crop)
INTERIOR_MARGIN = 2


@dataclass(frozen=True)
class Schedule:
    """How hard to work: a preset."""

    steps: int
    crop: int
    scales: tuple[int, ...]
    flips: bool
    #: the short side the change is worked out at; None (every preset): the working image's own size, what
    #: the site keeps (``api.working_size``).  Until engine 3.7 it was 512 (768 for ``max``) and upsampled:
    #: the views of a larger picture (the bucketing trainer's ~1 MP, a 768 scraper) then saw a blurred copy
    #: of a change fitted at 512, and a 672x1080 upload gained 19 % more pull at its own size
    shade_short_side: int | None = None
    #: first step size, in budget units (the box is [-1, 1])
    step_size: float = 0.25
    #: final step size as a fraction of the first (cosine decay in between)
    step_floor: float = 0.2
    momentum: float = 0.9
    #: Gaussian smoothing of the gradient, in shade-size pixels (0: none)
    smooth_sigma: float = 1.0
    #: relative jitter of the scraper's scale, so crops meet the latent grid at every phase
    scale_jitter: float = 0.1
    #: share of steps on the canonical view (nominal scale, centre crop; see ``eot.EOTConfig``), on the
    #: whole picture at the first scale (which holds the canonical crop too), and on crops of the bucketing
    #: trainer's ~1 MP view; the rest are crops at a jittered scale spread over the whole view.  Whole
    #: views are most of it: a crop of two thirds of a view always holds its middle, so only whole views
    #: see a picture's outer sixths as often as its centre
    canonical_p: float = 0.05
    whole_p: float = 0.65
    bucket_p: float = 0.2
    #: weight of each inner feature map's term of the loss beside the latent's (``encode_with_features``):
    #: pulling on the x4 and x8 stages too carries the change to encoders it was never made against
    feature_weight: float = 0.25
    #: the colour-SSIM price: once the change has spent its SSIM goal (at the shade size), each step's
    #: direction weighs the loss's gradient against SSIM's (both normalised) at this price, so the change
    #: moves to where it buys most pull per SSIM spent instead of the projection scaling all of it back
    #: evenly (0: steps on the loss alone, as engines up to 3.4)
    ssim_price: float = 1.0
    #: each step's target maps are the target's own, seen through the same view (one more forward pass, no
    #: gradient); otherwise the maps of the target's whole nominal view, resampled at the view's cells.  A
    #: crop encoded alone differs from its window of the whole view's latents (the encoder sees past a
    #: crop's edges in one and not the other, and resampling between cells is not re-encoding): aiming at
    #: the window pulled toward a latent no scraper computes
    exact_targets: bool = False
    #: after these fractions of the steps, the flat-area guard the finish runs (``flat_attenuation``)
    #: is run on the change so far and its shrinking folded into the budget map: the change stops growing
    #: where the guard would take it out afterwards, and the SSIM it frees is spent on the rest (empty: the
    #: finish alone guards)
    flat_guard_at: tuple[float, ...] = ()
    min_steps_fraction: float = 0.6
    patience: int = 30


@dataclass(frozen=True)
class Budget:
    """How much change is allowed: an intensity."""

    jnd: JND
    #: mean colour SSIM to the original the result must keep
    ssim_goal: float
    #: the flat-area colour difference (CIEDE2000 p95 over the flattest tenth) the result must keep
    flat_limit: float = 1.0


SCHEDULES: dict[str, Schedule] = {
    # fast: no bucket-scale views (their whole-view target latents alone cost about as much as two of its
    # four steps); whole-picture views keep the borders covered; the target's maps resampled from its
    # whole view, not encoded again for every step (about a tenth more time in float32)
    "fast": Schedule(
        steps=4,
        crop=512,
        scales=(512,),
        flips=False,
        step_size=0.4,
        canonical_p=0.0,
        whole_p=0.8,
        bucket_p=0.0,
    ),
    # 512 px is the size training pipelines use most (jittered by 10 %); 768 and 1024 only for ``max``: a
    # larger scale's full-view target latents alone cost as much as two steps
    # the flat-area guard also runs after a third and two thirds of the steps (``flat_guard_at``): on The
    # Starry Night the finish had shrunk 250 flat tiles and left the picture at colour SSIM 0.963
    "default": Schedule(
        steps=12, crop=512, scales=(512,), flips=False, exact_targets=True, flat_guard_at=(1 / 3, 2 / 3)
    ),
    "max": Schedule(
        steps=40,
        crop=512,
        scales=(512, 768, 1024),
        flips=True,
        patience=20,
        exact_targets=True,
        flat_guard_at=(1 / 3, 2 / 3),
    ),
}

# The texture allowance is what an intensity buys: the eye misses a change inside fine texture (and in dark
# or bright areas) long before it sees one in a flat area, so ``default`` and ``high`` spend up to several
# just-noticeable differences there and the colour-SSIM goal, not the box, is what binds.  Flat areas keep
# their small allowance (``high`` a little more, with a flat-area limit of 1.5 instead of 1.0).
BUDGETS: dict[str, Budget] = {
    "low": Budget(
        JND(flat_luma=0.4, flat_chroma=0.25, texture_luma=0.6, texture_chroma=0.15, max_luma=32.0),
        ssim_goal=0.97,
    ),
    "default": Budget(
        JND(texture_luma=0.9, texture_chroma=0.2, max_luma=36.0, max_chroma=10.0), ssim_goal=0.95
    ),
    "high": Budget(
        JND(
            flat_luma=0.75,
            flat_chroma=0.45,
            texture_luma=1.8,
            texture_chroma=0.35,
            max_luma=56.0,
            max_chroma=14.0,
        ),
        ssim_goal=0.92,
        flat_limit=1.5,
    ),
}


@dataclass
class TargetTensor:
    image: Tensor  # (1, 3, H, W) at the working size
    weight: float


@dataclass
class Outcome:
    delta: Tensor  # RGB change at the shade size
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


def shade_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """The size the change is worked out at: the picture's own (``short_side`` None, or the picture no
    larger), else its short side at ``short_side``."""
    if short_side is None or min(height, width) <= short_side:
        return height, width
    scale = short_side / min(height, width)
    return round(height * scale), round(width * scale)


def upsample(delta: Tensor, height: int, width: int) -> Tensor:
    """The perturbation at another size (bilinear; identity when the size already matches)."""
    return resize(delta, height, width)


class TargetLatents:
    """Each (encoder, target, scale)'s maps of the whole view (the latent, then the encoder's inner feature
    maps, ``ImageEncoder.encode_with_features``), computed on first use, and each (encoder, target)'s loss
    normalisers."""

    def __init__(
        self, ensemble: Ensemble, targets: list[TargetTensor], x: Tensor, precision: Callable
    ) -> None:
        self.ensemble, self.targets, self.x, self.precision = ensemble, targets, x, precision
        self.latents: dict[tuple[int, int, int, bool], list[Tensor]] = {}
        self.norms: dict[tuple[int, int], list[float]] = {}

    def _encode(self, e: int, img: Tensor) -> list[Tensor]:
        with self.precision():
            z, features = self.ensemble.members[e].encoder.encode_with_features(img)
        return [m.float() for m in (z, *features)]

    @torch.no_grad()
    def get(self, e: int, k: int, scale: int, flip: bool = False) -> list[Tensor]:
        key = (e, k, scale, flip)
        if key not in self.latents:
            img = eot.full_view(self.targets[k].image, scale)
            self.latents[key] = self._encode(e, img.flip(-1) if flip else img)
        return self.latents[key]

    @torch.no_grad()
    def seen(self, e: int, k: int, view: eot.View) -> list[Tensor]:
        """The target's own maps in ``view`` (its geometry: no JPEG, blur or noise), as a scraper sees it."""
        return self._encode(e, eot.geometry(self.targets[k].image, view))

    @torch.no_grad()
    def norm(self, e: int, k: int) -> list[float]:
        """Mean squared distance original -> target of each map: the scale of each term of the loss, so
        members, targets and maps weigh as their weights say.  Per cell it hardly depends on the view's
        size (the latent's within a few per cent from a 256 px to a 1 MP view), so it is measured once, on
        small views: encoding the original at every scale (a bucket view is about 1 MP) cost a tenth of a
        ``default`` run."""
        key = (e, k)
        if key not in self.norms:
            ours = self._encode(e, eot.full_view(self.x, NORM_SCALE))
            theirs = self._encode(e, eot.full_view(self.targets[k].image, NORM_SCALE))
            self.norms[key] = [
                float((a - b).pow(2).mean().clamp_min(1e-8)) for a, b in zip(ours, theirs, strict=True)
            ]
        return self.norms[key]


def interior_trim(view: eot.View, margin: int) -> tuple[int, int, int, int]:
    """Latent cells to leave out at each side (top, bottom, left, right) of a crop: ``margin`` where the
    crop's edge lies inside the view (the encoder would have seen past it), none at the view's own edges."""
    vy, vx = view.position
    return (
        margin if vy > 0 else 0,
        margin if vy + view.crop_h < view.view_height else 0,
        margin if vx > 0 else 0,
        margin if vx + view.crop_w < view.view_width else 0,
    )


def _crop_latent(z: Tensor, trim: tuple[int, int, int, int], flip: bool, per_cell: int = 1) -> Tensor:
    """``z`` less ``trim`` latent cells at each side (``per_cell`` of ``z``'s cells to a latent cell, for a
    feature map at a finer stride), mirrored back when the crop was mirrored."""
    top, bottom, left, right = (t * per_cell for t in trim)
    if flip:  # the crop was mirrored before encoding; mirror back to compare with the unflipped full view
        z = z.flip(-1)
    return z[..., top : z.shape[-2] - bottom, left : z.shape[-1] - right]


#: how close to its shade-size goal the change's colour SSIM must be for the price to apply
PRICE_SLACK = 0.002


def _ssim_gradient(reference: SSIMReference, bound: Tensor, u: Tensor) -> Tensor:
    """The gradient of colour SSIM's loss (1 - SSIM) of ``x + ycc_to_rgb(bound * u)`` with respect to
    ``u`` (closed form, ``SSIMReference.gradient``, carried back through the colour transform)."""
    return -bound * rgb_to_ycc_transpose(reference.gradient(ycc_to_rgb(bound * u.detach())))


def _priced(grad: Tensor, ssim_grad: Tensor, price: float) -> Tensor:
    """The step's direction: the loss's gradient and SSIM's, each normalised, SSIM's at ``price``."""
    own, cost = grad.abs().mean().clamp_min(1e-12), ssim_grad.abs().mean().clamp_min(1e-12)
    return grad / own + price * ssim_grad / cost


def _smooth(g: Tensor, sigma: float) -> Tensor:
    return eot.gaussian_blur(g, sigma) if sigma > 0 else g


#: the lowest colour SSIM the shade size is ever held to, whatever the calibration says
SHADE_GOAL_FLOOR = 0.6


@torch.no_grad()
def _shade_goal(x: Tensor, x_shade: Tensor, delta: Tensor, goal: float) -> float:
    """The shade-size colour-SSIM goal at which the full-size picture meets ``goal``: SSIM lost at full
    size is close to proportional to SSIM lost at the shade size for one change, so measure the ratio for
    this change (``delta`` at the shade size) and scale the allowed loss by it."""
    height, width = x.shape[-2:]
    lost_shade = 1 - float(colour_ssim(x_shade, x_shade + delta)[0])
    lost_full = 1 - float(colour_ssim(x, x + upsample(delta, height, width))[0])
    if lost_shade <= 1e-6 or lost_full <= 1e-6:
        return goal
    ratio = min(1.0, max(0.1, lost_full / lost_shade))
    return max(SHADE_GOAL_FLOOR, 1 - (1 - goal) / ratio)


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
    """Return the RGB perturbation (at the shade size) for the working image ``x`` (1, 3, H, W) in [0, 1]."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    _, _, height, width = x.shape
    sh, sw = shade_size(height, width, schedule.shade_short_side)
    x_shade = resize(x, sh, sw)
    bound = jnd_budget(x_shade, budget.jnd)
    u = torch.zeros_like(x_shade, requires_grad=True)
    momentum = torch.zeros_like(x_shade)
    dtype = autocast_dtype(x.device)

    def precision() -> contextlib.AbstractContextManager:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(x.device.type, dtype=dtype)

    def change(u: Tensor) -> Tensor:
        return ycc_to_rgb(bound * u)

    latents = TargetLatents(ensemble, targets, x, precision)
    # colour SSIM at the shade size against the same picture on every step: its side blurred once; the
    # SSIM the last projection left is the next step's test of whether the goal is spent
    reference = SSIMReference(x_shade)
    ssim_now = 1.0
    # the goal is held at the shade size, where the same change costs more SSIM than on the saved picture
    # (upsampled, it is smoother): start from the picture's own goal, then after a third and two thirds of
    # the steps and at the last two, measure both sizes for the change so far and aim the shade size where
    # the saved picture meets its goal (the ratio drifts as the change grows; the caller scales back any
    # overshoot)
    shade_goal = budget.ssim_goal
    n = schedule.steps
    calibrate_at = {max(1, n // 3), max(1, 2 * n // 3), max(1, n - 2), n - 1} - {0} if sh < height else set()
    guard_at = {max(1, round(f * n)) for f in schedule.flat_guard_at}
    losses: list[float] = []
    history: list[float] = []
    ema: float | None = None
    early = False
    steps_run = 0
    for step in range(schedule.steps):
        frac = step / max(1, schedule.steps - 1)
        size = schedule.step_size * (
            schedule.step_floor + (1 - schedule.step_floor) * 0.5 * (1 + math.cos(math.pi * frac))
        )
        protected = (x + upsample(change(u), height, width)).clamp(0, 1)
        view = eot.sample_view(eot_cfg, height, width, gen)
        seen = eot.apply(protected, view)
        # exact targets see the crop's edges as the change does: nothing to leave out
        margin = (
            0 if schedule.exact_targets else min(INTERIOR_MARGIN, min(view.crop_h, view.crop_w) // 8 // 6)
        )
        trim = interior_trim(view, margin)
        loss = torch.zeros((), device=x.device)
        for e, member in enumerate(ensemble):
            with precision():
                z, features = member.encoder.encode_with_features(seen)
            maps = [m.float() for m in (z, *features)]
            strides = [view.crop_w // m.shape[-1] for m in maps]
            crops = [_crop_latent(m, trim, view.flip, 8 // s) for m, s in zip(maps, strides, strict=True)]
            weights = [1.0] + [schedule.feature_weight] * len(features)
            for k, target in enumerate(targets):
                if schedule.exact_targets:
                    theirs = latents.seen(e, k, view)
                    aims = [
                        _crop_latent(m, trim, view.flip, 8 // s) for m, s in zip(theirs, strides, strict=True)
                    ]
                else:
                    full = latents.get(e, k, view.scale)
                    aims = [eot.latent_window(f, view, trim, s) for f, s in zip(full, strides, strict=True)]
                dist = sum(
                    w * (c - a).pow(2).mean() / n
                    for c, a, w, n in zip(crops, aims, weights, latents.norm(e, k), strict=True)
                )
                loss = loss + member.weight * target.weight * dist
        (grad,) = torch.autograd.grad(loss, u)
        with torch.no_grad():
            if schedule.ssim_price > 0 and ssim_now <= shade_goal + PRICE_SLACK:
                grad = _priced(grad, _ssim_gradient(reference, bound, u), schedule.ssim_price)
            grad = _smooth(grad, schedule.smooth_sigma)
            momentum.mul_(schedule.momentum).add_(grad / grad.abs().mean().clamp_min(1e-12))
            u.sub_(size * momentum.sign()).clamp_(-1, 1)
            if step + 1 in guard_at:
                atten, tiles = flat_attenuation(x_shade, (x_shade + change(u)).clamp(0, 1), budget.flat_limit)
                if tiles:
                    bound = bound * atten.to(bound)
            if step + 1 in calibrate_at:
                shade_goal = _shade_goal(x, x_shade, change(u), budget.ssim_goal)
            # hold the mean colour-SSIM goal at the shade size, so later steps spend the budget where it
            # is cheap instead of being scaled back uniformly at the end
            scale, ssim_now = reference.largest_scale(change(u), shade_goal)
            u.mul_(scale)
        steps_run = step + 1
        value = float(loss.detach())
        losses.append(value)
        ema = value if ema is None else 0.8 * ema + 0.2 * value
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
    # the mean colour-SSIM goal is enforced once more by the caller, on the image as it will be saved
    return Outcome(change(u.detach()), steps_run, early, losses, time.perf_counter() - start)
