"""What the report says about visibility: flat-area colour difference, periodic imprint, the peak guard,
and the 1:1 comparison crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from artshade.shading.perceptual import ycc_to_rgb
from artshade.shading.tensors import to_pil
from artshade.shading.visibility import (
    PEAK_LIMIT,
    compare_crops,
    flat_delta_e,
    periodic_peak,
    remove_peaks,
    visibility_report,
)


@pytest.fixture(scope="module")
def picture() -> torch.Tensor:
    """Top half a smooth sky (flat), bottom half busy texture, 256 x 256."""
    gen = torch.Generator().manual_seed(0)
    sky = torch.linspace(0.55, 0.75, 128).view(1, 1, 128, 1).expand(1, 3, 128, 256) * torch.tensor(
        [0.8, 0.9, 1.0]
    ).view(1, 3, 1, 1)
    busy = torch.rand(1, 3, 128, 256, generator=gen) * 0.6 + 0.2
    return torch.cat([sky, busy], dim=2).contiguous()


def _rounded(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def test_flat_delta_e_sees_a_tint_on_the_sky_not_noise_in_texture(picture: torch.Tensor) -> None:
    assert flat_delta_e(picture, picture) == 0.0
    tint = ycc_to_rgb(torch.tensor([0.0, 3 / 255, -3 / 255]).view(1, 3, 1, 1))
    assert flat_delta_e(picture, _rounded(picture + tint)) > 1.0, "a 3-level tint on a sky shows"
    busy_only = torch.zeros_like(picture)
    gen = torch.Generator().manual_seed(1)
    busy_only[..., 128:, :] = 20 / 255 * torch.randn(1, 3, 128, 256, generator=gen)
    assert flat_delta_e(picture, _rounded(picture + busy_only)) < 0.3, "texture is not judged here"


def test_periodic_peak_tells_a_grid_from_noise(picture: torch.Tensor) -> None:
    gen = torch.Generator().manual_seed(2)
    noise = 2 / 255 * torch.randn(picture.shape, generator=gen)
    assert periodic_peak(picture, picture + noise) < PEAK_LIMIT
    grid = torch.zeros_like(picture)
    grid[..., ::8, :] = 3 / 255
    grid[..., :, ::8] = 3 / 255
    assert periodic_peak(picture, picture + noise + grid) > 20 * PEAK_LIMIT


def test_remove_peaks_takes_a_grid_out_and_leaves_noise_alone(picture: torch.Tensor) -> None:
    gen = torch.Generator().manual_seed(3)
    noise = 2 / 255 * torch.randn(picture.shape, generator=gen)
    grid = torch.zeros_like(picture)
    grid[..., ::8, :] = 3 / 255
    cleaned, notched = remove_peaks(noise + grid)
    assert notched > 0
    assert periodic_peak(picture, picture + cleaned) <= PEAK_LIMIT
    assert float((cleaned - noise).pow(2).mean()) < 0.2 * float(grid.pow(2).mean()), "the grid went"
    kept, none = remove_peaks(noise)
    assert none == 0 and torch.equal(kept, noise.to(kept.dtype))


def test_visibility_report_has_every_figure(picture: torch.Tensor) -> None:
    report = visibility_report(to_pil(picture), to_pil(picture + 1 / 255))
    assert set(report) == {"ssim_colour", "ssim_luma", "psnr", "flat_delta_e_p95", "flat_delta_e_limit",
                           "periodic_peak", "periodic_peak_limit"}  # fmt: skip
    assert 0.9 < report["ssim_colour"] <= 1.0


def test_compare_crops_put_the_flattest_and_busiest_parts_side_by_side(picture: torch.Tensor) -> None:
    original = to_pil(picture)
    marked = picture.clone()
    marked[..., 10:20, 10:20] = 0.0  # a mark in the sky: it must show in the protected flat crop
    sheet = compare_crops(original, to_pil(marked), side=64)
    assert sheet.size == (2 * 64 + 3 * 8, 2 * (64 + 18) + 3 * 8)
    arr = np.asarray(sheet, np.int16)
    top_left = arr[8 + 18 : 8 + 18 + 64, 8 : 8 + 64]
    top_right = arr[8 + 18 : 8 + 18 + 64, 16 + 64 : 16 + 128]
    assert top_left.std(axis=(0, 1)).max() < 10, "the flattest crop comes from the sky"
    assert np.abs(top_left - top_right).max() > 100, "original beside protected, the same place"
    bottom = arr[8 + 2 * 18 + 64 + 8 :, 8 : 8 + 64]
    assert bottom.std(axis=(0, 1)).min() > 30, "the busiest crop comes from the texture"


def test_dithered_rounding_drowns_a_faint_regular_change() -> None:
    """The saved image is rounded to 8 bits with a seeded dither: a noise floor of a fraction of a level,
    under which a faint regular part of the change drowns, as it does for the eye; plain rounding keeps it
    as hard one-level steps."""
    from artshade.shading.api import quantise

    x = torch.full((1, 3, 256, 256), 128 / 255)
    gen = torch.Generator().manual_seed(4)
    faint = 0.45 / 255 + 0.2 / 255 * torch.randn(x.shape, generator=gen)
    faint[..., ::8, :] += 0.04 / 255  # a regular part far below a level
    plain = ((x + faint) * 255).round() / 255
    assert periodic_peak(x, plain) > PEAK_LIMIT, "the trap is real"
    assert periodic_peak(x, quantise(x + faint, seed=0)) <= PEAK_LIMIT
    assert torch.equal(quantise(x, seed=0), x), "unchanged pixels stay unchanged"


def test_a_change_fainter_than_a_quarter_level_leaves_the_pixel_alone() -> None:
    """On a grain-free fill the change is a tenth of a level or less; the dither turned that into one level
    on a tenth of the pixels, a speckle seen enlarged on the flat illustration (engine 3.2's first sheets).
    Such changes are dropped; a change of half a level or more is still carried by the dither."""
    from artshade.shading.api import add_change

    x = torch.full((1, 3, 128, 128), 200 / 255)
    gen = torch.Generator().manual_seed(6)
    faint = 0.2 / 255 * torch.rand(x.shape, generator=gen)
    assert torch.equal(add_change(x, faint, seed=0), x)
    half = torch.full_like(x, 0.5 / 255)
    moved = float((add_change(x, half, seed=0) != x).float().mean())
    assert 0.4 < moved < 0.6, moved


def test_flat_attenuation_shrinks_the_change_only_where_it_shows(picture: torch.Tensor) -> None:
    """A tint over the flat sky shows; noise in the busy half does not: only the sky's tiles are shrunk, and
    after one pass the sky is under the limit while the busy half keeps all of its change."""
    from artshade.shading.visibility import flat_attenuation

    gen = torch.Generator().manual_seed(3)
    change = torch.zeros_like(picture)
    change[..., :128, :] = ycc_to_rgb(torch.tensor([0.0, 3.0, -3.0]).view(1, 3, 1, 1) / 255)
    change[..., 128:, :] = torch.randn(1, 3, 128, 256, generator=gen) * 6 / 255
    shown = _rounded(picture + change)
    assert flat_delta_e(picture, shown) > 1.0
    atten, tiles = flat_attenuation(picture, shown, 1.0)
    assert tiles > 0 and atten.shape == (1, 1, 256, 256)
    # (beyond the soft edge of a few pixels)
    assert float(atten[..., 160:, :].min()) == pytest.approx(1.0), "the busy half keeps its change"
    assert float(atten[..., 20:100, 20:236].max()) < 0.9, "the sky's change is shrunk"
    assert flat_delta_e(picture, _rounded(picture + change * atten)) <= 1.0


def test_the_guard_does_not_shrink_the_change_for_a_peak_shrinking_cannot_lower(
    picture: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peak the notch does not reach (``finish`` notches the whole picture's spectrum, ``periodic_peak``
    measures a centre square: a pattern in a strip can stand out in one and not the other) keeps its ratio
    to its neighbours at any scale.  The guard used to shrink the whole change by 0.8 up to seven times for
    it (the painted picture at half the feature weight: to a fifth, the peak still over the limit); it
    now takes one step, sees the peak stay, takes the step back and says so."""
    from artshade.shading import api
    from artshade.shading.optimize import BUDGETS

    budget = BUDGETS["default"]
    gen = torch.Generator().manual_seed(5)
    change = torch.randn(picture.shape, generator=gen) * 2 / 255
    change[..., 128:, ::8] += 4 / 255  # a regular grid in the busy half: a peak far over the limit
    monkeypatch.setattr(api, "remove_peaks", lambda d: (d, 0))  # a peak the notch cannot reach
    _, factor, info = api.finish(picture, change, budget)
    assert info["scaled_down_for"], "the peak was seen"
    assert periodic_peak(picture, api.add_change(picture, factor * change, seed=0)) > PEAK_LIMIT
    assert factor == pytest.approx(info["ssim_scale"], rel=1e-3), "the change keeps its SSIM-goal size"
    assert info["periodic_peak_unresolved"] is True


def test_the_guard_still_notches_a_peak_it_can_reach(picture: torch.Tensor) -> None:
    from artshade.shading import api
    from artshade.shading.optimize import BUDGETS

    gen = torch.Generator().manual_seed(5)
    change = torch.randn(picture.shape, generator=gen) * 2 / 255
    change[..., 128:, ::8] += 4 / 255
    delta, factor, info = api.finish(picture, change, BUDGETS["default"])
    assert info["full_size_bins_notched"] > 0 and info["periodic_peak_unresolved"] is False
    assert periodic_peak(picture, api.add_change(picture, factor * delta, seed=0)) <= PEAK_LIMIT


def test_the_notch_median_is_the_median_filter_at_the_notched_bins() -> None:
    from artshade.shading.visibility import _median_at
    from scipy import ndimage

    rng = np.random.default_rng(2)
    power = rng.exponential(1.0, (64, 80))
    mask = np.zeros_like(power, dtype=bool)
    mask[[0, 1, 31, 63, 63], [0, 79, 40, 2, 79]] = True  # corners and edges: the filter wraps there
    whole = ndimage.median_filter(power, size=5, mode="wrap")
    assert np.array_equal(_median_at(power, mask, 5), whole[mask])


@pytest.mark.parametrize("shape", [(64, 80), (65, 81), (64, 81), (65, 80), (10, 12)])
def test_the_spectrum_median_is_the_whole_median_filter(shape: tuple[int, int]) -> None:
    from artshade.shading.visibility import symmetric_median
    from scipy import ndimage

    rng = np.random.default_rng(3)
    change = rng.normal(size=shape)
    change[:, ::7] += 3.0  # a periodic part: peaks, whose neighbourhoods the median must get right
    power = np.abs(np.fft.fft2(change)) ** 2
    whole = ndimage.median_filter(power, size=5, mode="wrap")
    np.testing.assert_allclose(symmetric_median(power, 5), whole, rtol=1e-12, atol=0)
