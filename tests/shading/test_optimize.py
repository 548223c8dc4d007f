"""The optimiser with a tiny random encoder (seconds on a CPU): it pulls, it stays inside the budget and the
SSIM goal, it repeats for a seed, and its settings are all alive."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch
from artshade.shading.encoders.base import ImageEncoder
from artshade.shading.encoders.ensemble import Ensemble, Member
from artshade.shading.optimize import (
    BUDGETS,
    NORM_SCALE,
    Budget,
    Schedule,
    TargetLatents,
    TargetTensor,
    optimise,
    upsample,
)
from artshade.shading.perceptual import JND, colour_ssim, jnd_budget, rgb_to_ycc
from artshade.shading.transforms import eot
from torch import nn


class TinyEncoder(ImageEncoder):
    """Three stride-2 convs: an x8 encoder like the real ones, random but fixed."""

    name = "tiny"

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, 2, 1),
            nn.ReLU(),
            nn.Conv2d(16, 8, 3, 2, 1),
        ).requires_grad_(False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture(scope="module")
def setup() -> tuple[torch.Tensor, list[TargetTensor], Ensemble]:
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 96, 128, generator=gen), 5, stride=1, padding=2)
    x = x * 0.6 + 0.2 + 0.1 * torch.rand(1, 3, 96, 128, generator=gen)  # texture to hide a change in
    target = torch.rand(1, 3, 96, 128, generator=gen)
    return x, [TargetTensor(target, 1.0)], Ensemble([Member(TinyEncoder())])


SCHEDULE = Schedule(steps=8, crop=64, scales=(64,), flips=False, shade_short_side=96)
EOT = eot.EOTConfig(scales=(64,), crop=64, scale_jitter=0.1, canonical_p=0.5, blur_p=0, noise_p=0)


def _loss(ensemble: Ensemble, x: torch.Tensor, target: torch.Tensor) -> float:
    enc = ensemble.members[0].encoder
    return float((enc.encode(eot.full_view(x, 64)) - enc.encode(eot.full_view(target, 64))).pow(2).mean())


def test_it_pulls_within_the_budget_and_the_ssim_goal(setup) -> None:
    x, targets, ensemble = setup
    budget = BUDGETS["default"]
    out = optimise(x, targets, ensemble, SCHEDULE, budget, EOT, seed=0)
    assert _loss(ensemble, (x + out.delta).clamp(0, 1), targets[0].image) < 0.97 * _loss(
        ensemble, x, targets[0].image
    )
    bound = jnd_budget(x, budget.jnd)
    assert bool((rgb_to_ycc(out.delta).abs() <= bound + 1e-5).all()), "never outside the box"
    assert float(colour_ssim(x, x + out.delta)) >= budget.ssim_goal - 1e-3
    assert out.steps_run == SCHEDULE.steps and len(out.losses) == SCHEDULE.steps


def test_same_seed_same_result(setup) -> None:
    x, targets, ensemble = setup
    budget = BUDGETS["default"]
    a = optimise(x, targets, ensemble, SCHEDULE, budget, EOT, seed=3)
    b = optimise(x, targets, ensemble, SCHEDULE, budget, EOT, seed=3)
    assert torch.equal(a.delta, b.delta)


class CountingEncoder(TinyEncoder):
    """The tiny encoder, keeping every picture it encodes without gradients (the target latents and the
    loss normaliser)."""

    def __init__(self) -> None:
        super().__init__()
        self.plain: list[torch.Tensor] = []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            self.plain.append(x.detach().clone())
        return super().encode(x)


class LayeredEncoder(TinyEncoder):
    """The tiny encoder, showing its first (stride 2) and second (stride 4) stage as inner feature maps."""

    def encode_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        first = self.net[1](self.net[0](x))
        second = self.net[3](self.net[2](first))
        return self.net[4](second), [first, second]


def test_the_inner_feature_maps_are_pulled_too(setup) -> None:
    x, targets, _ = setup
    enc = LayeredEncoder()
    ensemble = Ensemble([Member(enc)])

    def inner_distance(feature_weight: float) -> float:
        schedule = dataclasses.replace(SCHEDULE, feature_weight=feature_weight)
        out = optimise(x, targets, ensemble, schedule, BUDGETS["default"], EOT, seed=0)
        with torch.no_grad():
            _, ours = enc.encode_with_features(x + out.delta)
            _, original = enc.encode_with_features(x)
            _, theirs = enc.encode_with_features(targets[0].image)
        return sum(
            float((a - t).norm() / (o - t).norm()) for a, o, t in zip(ours, original, theirs, strict=True)
        )

    assert inner_distance(4.0) < inner_distance(0.0) - 0.002


def test_the_loss_normaliser_is_one_small_measurement_per_target(setup) -> None:
    x, targets, _ = setup
    enc = CountingEncoder()
    latents = TargetLatents(Ensemble([Member(enc)]), targets, x, precision=contextlib.nullcontext)
    first = latents.norm(0, 0)
    zx = enc.net(eot.full_view(x, NORM_SCALE))
    zt = enc.net(eot.full_view(targets[0].image, NORM_SCALE))
    assert first == [pytest.approx(float((zx - zt).pow(2).mean()), rel=1e-6)]
    assert latents.norm(0, 0) == first and len(enc.plain) == 2, "measured once"


def test_the_original_is_encoded_once_on_a_small_view() -> None:
    """Encoding the original at every view's scale (a bucket view is about 1 MP) only set the loss's scale,
    which hardly depends on the view's size: once, at NORM_SCALE, is enough."""
    gen = torch.Generator().manual_seed(1)
    x = 0.3 + 0.4 * torch.rand(1, 3, 384, 576, generator=gen)
    target = torch.rand(1, 3, 384, 576, generator=gen)
    enc = CountingEncoder()
    cfg = eot.EOTConfig(scales=(320,), crop=128, whole_p=0.5, bucket_p=0.5, blur_p=0, noise_p=0)
    schedule = Schedule(steps=6, crop=128, scales=(320,), flips=False, shade_short_side=192)
    optimise(
        x, [TargetTensor(target, 1.0)], Ensemble([Member(enc)]), schedule, BUDGETS["default"], cfg, seed=0
    )

    scales = (NORM_SCALE, 320, eot.bucket_scale(384, 576))

    def scale_of(img: torch.Tensor, picture: torch.Tensor) -> int | None:
        for scale in scales:
            view = eot.full_view(picture, scale)
            if view.shape == img.shape and torch.allclose(view, img):
                return scale
        return None

    originals = [scale_of(img, x) for img in enc.plain if scale_of(img, x)]
    assert originals == [NORM_SCALE]
    targets = [scale_of(img, target) for img in enc.plain if scale_of(img, target)]
    assert len(targets) + len(originals) == len(enc.plain), "nothing else is encoded"
    assert sorted(targets) == sorted(set(scales)), "the target once at each scale, the normaliser's too"


@pytest.mark.parametrize("name", ["views_per_step", "project_ssim"])
def test_dead_settings_are_gone(name: str) -> None:
    assert name not in {f.name for f in dataclasses.fields(Schedule)}
    with pytest.raises(TypeError):
        Schedule(steps=1, crop=64, scales=(64,), flips=False, **{name: 1})


@pytest.mark.parametrize(
    "change",
    [{"step_size": 0.05}, {"step_floor": 1.0}, {"momentum": 0.0}, {"smooth_sigma": 0.0},
     {"scale_jitter": 0.0}, {"canonical_p": 1.0}, {"whole_p": 0.0}, {"bucket_p": 0.9},
     {"shade_short_side": 48}],
)  # fmt: skip
def test_every_setting_changes_the_result(setup, change: dict) -> None:
    x, targets, ensemble = setup

    def views(s: Schedule) -> eot.EOTConfig:  # the schedule's own view mix, as the engine passes it
        return dataclasses.replace(EOT, scale_jitter=s.scale_jitter, canonical_p=s.canonical_p,
                                   whole_p=s.whole_p, bucket_p=s.bucket_p)  # fmt: skip

    base = optimise(x, targets, ensemble, SCHEDULE, BUDGETS["default"], views(SCHEDULE), seed=1)
    schedule = dataclasses.replace(SCHEDULE, **change)
    cfg = views(schedule)
    other = optimise(x, targets, ensemble, schedule, BUDGETS["default"], cfg, seed=1)
    assert other.delta.shape != base.delta.shape or not torch.equal(other.delta, base.delta)


def test_each_intensity_reaches_its_own_ssim_goal(setup) -> None:
    """A knob must move its figure: on a textured picture the box is wide enough that each intensity's
    colour-SSIM goal is what binds (the engine before 3.0 ended every intensity at 0.97-0.98)."""
    x, targets, ensemble = setup
    got = {}
    for name in ("low", "default", "high"):
        out = optimise(x, targets, ensemble, SCHEDULE, BUDGETS[name], EOT, seed=0)
        got[name] = float(colour_ssim(x, x + out.delta))
        assert got[name] == pytest.approx(BUDGETS[name].ssim_goal, abs=0.01), (name, got)
    assert got["low"] > got["default"] > got["high"]
    assert [BUDGETS[n].ssim_goal for n in ("low", "default", "high")] == [0.97, 0.95, 0.92]


def test_the_goal_is_met_on_the_full_size_picture_when_the_shade_size_is_smaller() -> None:
    """The change is optimised at a smaller shade size and upsampled (smoother, so it costs less SSIM on
    the saved picture than where it was made); held at the shade size to the picture's own goal, every
    intensity ended 0.01-0.03 above it on the saved picture (engine 3.0: `high` at 0.950 on The Great
    Wave).  The optimiser aims the shade size so the full-size picture meets its goal."""
    gen = torch.Generator().manual_seed(4)
    # texture at the shade size's scale too (a resize to it keeps it), so the box is wide enough there
    coarse = torch.nn.functional.interpolate(torch.rand(1, 3, 96, 128, generator=gen), scale_factor=2)
    x = coarse * 0.6 + 0.2 + 0.1 * torch.rand(1, 3, 192, 256, generator=gen)
    targets = [TargetTensor(torch.rand(1, 3, 192, 256, generator=gen), 1.0)]
    ensemble = Ensemble([Member(TinyEncoder())])
    schedule = dataclasses.replace(SCHEDULE, steps=9, shade_short_side=96)
    cfg = dataclasses.replace(EOT, scales=(128,), crop=96)
    wide = JND(flat_luma=3.0, texture_luma=4.0, texture_chroma=1.0, max_luma=64.0, max_chroma=24.0)
    got = {}
    for goal in (0.97, 0.95, 0.92):  # the box wide enough that the goal binds, as on a textured picture
        out = optimise(x, targets, ensemble, schedule, Budget(wide, ssim_goal=goal), cfg, seed=0)
        assert tuple(out.delta.shape[-2:]) == (96, 128)
        got[goal] = float(colour_ssim(x, x + upsample(out.delta, 192, 256)))
    for goal, ssim in got.items():
        assert ssim == pytest.approx(goal, abs=0.01), got


def test_the_ssim_price_moves_the_change_to_where_ssim_is_cheap() -> None:
    """Once the change has spent its colour-SSIM goal, the price weighs each step against SSIM's gradient:
    with the same box everywhere, the change leaves the smooth half (where a change costs SSIM most) for the
    textured one, at the same SSIM.  Without the price the projection scales all of it back evenly."""
    gen = torch.Generator().manual_seed(5)
    x = torch.full((1, 3, 96, 128), 0.5)
    x[..., 64:] += 0.2 * (torch.rand(1, 3, 96, 64, generator=gen) - 0.5)  # texture on the right half only
    x[..., :64] += 0.02 * (torch.rand(1, 3, 96, 64, generator=gen) - 0.5)
    targets = [TargetTensor(torch.rand(1, 3, 96, 128, generator=gen), 1.0)]
    ensemble = Ensemble([Member(TinyEncoder())])
    # the same box on both halves: the price, not the budget map, is what tells them apart
    even = JND(flat_luma=12.0, flat_chroma=4.0, texture_luma=0.0, texture_chroma=0.0, grain_min=1.0,
               max_luma=64.0, max_chroma=24.0)  # fmt: skip
    smooth_share, ssim = {}, {}
    for price in (0.0, 1.0):
        schedule = dataclasses.replace(SCHEDULE, ssim_price=price)
        delta = optimise(x, targets, ensemble, schedule, Budget(even, ssim_goal=0.95), EOT, seed=0).delta
        smooth_share[price] = float(delta[..., :64].abs().mean() / delta[..., 64:].abs().mean())
        ssim[price] = float(colour_ssim(x, x + delta))
    assert ssim[1.0] == pytest.approx(ssim[0.0], abs=0.002)
    assert smooth_share[1.0] < 0.75 * smooth_share[0.0], smooth_share


def test_exact_targets_aim_at_the_target_as_the_view_shows_it(setup) -> None:
    """With ``exact_targets`` each view's aim is the target itself seen through that view: a picture shaded
    toward itself is already there (loss 0 on every view, crops at any phase and scale), where the whole
    view's latents resampled at a crop's cells miss what encoding the crop gives."""
    x, _, ensemble = setup
    lossless = dataclasses.replace(EOT, stray_jpeg_p=0.0, canonical_p=0.0, whole_p=0.0)
    first = {}
    for exact in (False, True):
        schedule = dataclasses.replace(SCHEDULE, exact_targets=exact, steps=3)
        out = optimise(
            x, [TargetTensor(x.clone(), 1.0)], ensemble, schedule, BUDGETS["default"], lossless, seed=1
        )
        first[exact] = out.losses[0]
    assert first[True] == 0.0
    assert first[False] > 1e-3, first


def test_exact_aims_pull_too(setup) -> None:
    x, targets, ensemble = setup
    schedule = dataclasses.replace(SCHEDULE, exact_targets=True)
    out = optimise(x, targets, ensemble, schedule, BUDGETS["default"], EOT, seed=0)
    assert _loss(ensemble, (x + out.delta).clamp(0, 1), targets[0].image) < 0.97 * _loss(
        ensemble, x, targets[0].image
    )


def test_the_flat_guard_in_the_loop_spends_elsewhere_what_the_finish_would_take_out() -> None:
    """A flat area given more allowance than the flat-area limit bears: without the guard in the loop, the
    finish shrinks the change there afterwards and the SSIM it frees is lost (the picture ends far inside
    its goal); with it, the change stops growing there mid-run and the rest of the goal is spent on the
    textured half."""
    from artshade.shading.visibility import flat_attenuation, flat_delta_e

    gen = torch.Generator().manual_seed(7)
    x = torch.full((1, 3, 96, 128), 0.45)
    x[..., 64:] += 0.25 * (torch.rand(1, 3, 96, 64, generator=gen) - 0.5)  # texture on the right half only
    targets = [TargetTensor(torch.rand(1, 3, 96, 128, generator=gen), 1.0)]
    ensemble = Ensemble([Member(TinyEncoder())])
    even = JND(flat_luma=12.0, flat_chroma=4.0, texture_luma=0.0, texture_chroma=0.0, grain_min=0.0,
               max_luma=64.0, max_chroma=24.0)  # fmt: skip
    budget = Budget(even, ssim_goal=0.95)
    spent, flat = {}, {}
    for at in ((), (0.5,)):
        schedule = dataclasses.replace(SCHEDULE, flat_guard_at=at, steps=12)
        delta = optimise(x, targets, ensemble, schedule, budget, EOT, seed=0).delta
        flat[at] = flat_delta_e(x, (x + delta).clamp(0, 1))
        atten, _ = flat_attenuation(x, (x + delta).clamp(0, 1), budget.flat_limit)  # as the finish does
        spent[at] = 1 - float(colour_ssim(x, (x + delta * atten).clamp(0, 1)))
    assert flat[()] > 1.5 * budget.flat_limit, "the scene: the flat half is given a visible change"
    assert flat[(0.5,)] < 0.5 * budget.flat_limit
    assert spent[(0.5,)] > 1.5 * spent[()], spent
