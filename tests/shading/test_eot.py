"""Views the optimiser trains on: always inside the image, at any pixel and jittered scale, matching the
full view; deterministic in every process; with the site's JPEG as configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from artshade.shading.transforms import eot
from artshade.shading.transforms.jpeg import jpeg
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(16, 3000),
    width=st.integers(16, 3000),
    crop=st.sampled_from([64, 256, 512]),
    seed=st.integers(0, 2**31),
)
def test_views_stay_inside(height: int, width: int, crop: int, seed: int) -> None:
    cfg = eot.EOTConfig(
        scales=(512, 768, 1024), crop=crop, flips=True, jpeg_quality=(70, 80), scale_jitter=0.1
    )
    view = eot.sample_view(cfg, height, width, torch.Generator().manual_seed(seed))
    vy, vx = view.position
    assert view.crop_h % 8 == 0 and view.crop_w % 8 == 0
    assert 0 <= vy <= view.view_height - view.crop_h and 0 <= vx <= view.view_width - view.crop_w
    top, left, bottom, right = view.region
    assert top % 16 == 0 and left % 16 == 0, "regions start on the site's JPEG grid"
    assert 0 <= top < bottom <= height and 0 <= left < right <= width
    assert top * view.factor <= vy and (vy + view.crop_h) <= bottom * view.factor + 1
    assert 70 <= view.quality <= 80


def test_crops_meet_the_latent_grid_at_every_phase() -> None:
    """A perturbation fitted to one phase of the encoder's 8 px grid prints that grid into the image."""
    cfg = eot.EOTConfig(scales=(512,), crop=256, scale_jitter=0.1)
    gen = torch.Generator().manual_seed(0)
    views = [eot.sample_view(cfg, 600, 800, gen) for _ in range(200)]
    assert {v.position[0] % 8 for v in views} == set(range(8))
    assert {v.position[1] % 8 for v in views} == set(range(8))
    assert len({round(v.factor, 4) for v in views}) > 20, "the scraper's scale varies"


def test_canonical_views_are_the_measured_view() -> None:
    cfg = eot.EOTConfig(scales=(512,), crop=512, scale_jitter=0.1, canonical_p=1.0)
    view = eot.sample_view(cfg, 700, 1000, torch.Generator().manual_seed(0))
    factor, vh, vw = eot.view_size(700, 1000, 512)
    assert view.factor == factor and (view.view_height, view.view_width) == (vh, vw)
    assert view.position == ((vh - 512) // 2, (vw - 512) // 2)


@pytest.mark.parametrize("stride", [8, 4, 2])
def test_latent_window_matches_the_encoding_of_an_off_grid_crop(stride: int) -> None:
    """The target's latents (or an inner feature map at a finer stride) resampled at a crop's cells are what
    encoding that crop would give (for a smooth stand-in encoder: an average pool)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 700, 1000, generator=gen), 31, stride=1, padding=15)

    def encode(img: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(img, stride)

    cfg = eot.EOTConfig(scales=(512,), crop=256, scale_jitter=0.1, stray_jpeg_p=0, blur_p=0, noise_p=0)
    z_full = encode(eot.full_view(x, 512))
    trim = 8 // stride  # one latent cell
    for _ in range(5):
        view = eot.sample_view(cfg, 700, 1000, gen)
        crop = eot.geometry(x, view)
        got = eot.latent_window(z_full, view, (1, 1, 1, 1), stride)
        want = encode(crop.flip(-1) if view.flip else crop)[..., trim:-trim, trim:-trim]
        assert got.shape == want.shape
        assert float((got - want).abs().mean()) < 0.01


def test_noise_is_the_same_in_every_process() -> None:
    """Seeded from a digest of the view, not ``hash``: a view holds a string, whose hash changes with
    PYTHONHASHSEED."""
    code = (
        "import torch\n"
        "from artshade.shading.transforms import eot\n"
        "cfg = eot.EOTConfig(scales=(64,), crop=64, noise_p=1.0, blur_p=0, stray_jpeg_p=0)\n"
        "v = eot.sample_view(cfg, 64, 64, torch.Generator().manual_seed(0))\n"
        "print(float(eot.apply(torch.full((1, 3, 64, 64), 0.5), v).sum()))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout  # fmt: skip
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1, runs


def test_the_sites_chroma_subsampling_reaches_the_jpeg() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(1, 3, 64, 64, generator=gen)
    views = {}
    for sub in ("4:2:0", "4:4:4"):
        cfg = eot.EOTConfig(
            scales=(64,), crop=64, jpeg_quality=(75, 75), subsampling=sub, blur_p=0, noise_p=0
        )
        views[sub] = eot.sample_view(cfg, 64, 64, torch.Generator().manual_seed(0))
        expected = eot.geometry(jpeg(x, 75, subsampling=sub), views[sub])
        assert torch.allclose(eot.apply(x, views[sub]), expected, atol=1e-6), sub
    assert not torch.allclose(eot.apply(x, views["4:2:0"]), eot.apply(x, views["4:4:4"]))


def test_lossless_view_matches_the_full_view_crop() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 720, 1080, generator=gen)
    x = torch.nn.functional.avg_pool2d(x, 9, stride=1, padding=4)  # image-like smoothness
    cfg = eot.EOTConfig(scales=(512, 768), crop=256, stray_jpeg_p=0, blur_p=0, noise_p=0)
    for _ in range(6):
        view = eot.sample_view(cfg, 720, 1080, gen)
        full = eot.full_view(x, view.scale)
        assert view.factor == view.full_factor, "no jitter asked for"
        vy, vx = view.position
        expected = full[..., vy : vy + view.crop_h, vx : vx + view.crop_w]
        got = eot.geometry(x, view)
        if view.flip:
            got = got.flip(-1)
        assert got.shape == expected.shape
        assert float((got - expected).abs().mean()) < 0.01


def test_small_images_are_not_enlarged() -> None:
    factor, vh, vw = eot.view_size(100, 150, 512)
    assert factor <= 1.0 and (vh, vw) == (96, 144)


def _coverage(cfg: eot.EOTConfig, height: int, width: int, views: int = 400) -> torch.Tensor:
    """How often each column of the picture (in the picture's own pixels) is inside a view's crop."""
    gen = torch.Generator().manual_seed(0)
    seen = torch.zeros(width)
    for _ in range(views):
        v = eot.sample_view(cfg, height, width, gen)
        left = v.position[1] / v.factor
        seen[int(left) : int(min(width, (v.position[1] + v.crop_w) / v.factor))] += 1
    return seen


def test_the_engines_views_cover_the_whole_picture_as_evenly_as_its_centre() -> None:
    """Trainers that bucket by aspect ratio see all of a 3:2 picture: its outer sixths must be seen about as
    often as its middle (the engine before 3.0 drew 75 % of its crops inside the centre square and its
    outer sixths were seen a fifth as often)."""
    from artshade.shading.optimize import SCHEDULES

    s = SCHEDULES["default"]
    cfg = eot.EOTConfig(scales=s.scales, crop=s.crop, scale_jitter=s.scale_jitter, canonical_p=s.canonical_p,
                        whole_p=s.whole_p, bucket_p=s.bucket_p)  # fmt: skip
    seen = _coverage(cfg, 720, 1080)
    sixth = 1080 // 6
    centre = float(seen[1080 // 3 : 2 * 1080 // 3].mean())
    assert float(seen[:sixth].mean()) >= 0.8 * centre and float(seen[-sixth:].mean()) >= 0.8 * centre
    old = eot.EOTConfig(scales=(512,), crop=512, scale_jitter=0.1, canonical_p=0.35, centre_p=0.75)
    seen = _coverage(old, 720, 1080)
    assert float(seen[:sixth].mean()) < 0.5 * float(seen[1080 // 3 : 2 * 1080 // 3].mean()), "the old views"


def test_whole_views_are_the_whole_picture_within_the_size_bound() -> None:
    cfg = eot.EOTConfig(scales=(512,), crop=512, whole_p=1.0, scale_jitter=0.1, whole_max_pixels=512 * 768)
    gen = torch.Generator().manual_seed(2)
    for height, width in ((720, 1080), (1350, 1080), (400, 2400), (300, 300)):
        for _ in range(10):
            v = eot.sample_view(cfg, height, width, gen)
            assert v.whole and v.position == (0, 0) and v.region[:2] == (0, 0)
            # all of the picture but what the view's flooring to 8 px leaves off
            assert v.region[2] >= min(height, v.crop_h / v.factor) and v.region[3] >= min(
                width, v.crop_w / v.factor
            )
            assert v.crop_h * v.crop_w <= 512 * 768 and v.crop_h % 8 == 0 and v.crop_w % 8 == 0
        x = torch.rand(1, 3, height, width, generator=gen)
        assert eot.apply(x, v).shape[-2:] == (v.crop_h, v.crop_w)


def test_bucket_views_use_the_trainers_megapixel_scale() -> None:
    assert eot.bucket_scale(720, 1080) == 832  # covers 1216 x 832, the 3:2 bucket
    assert eot.bucket_scale(1350, 1080) == 922  # covers 896 x 1152, the 4:5 portrait's
    assert eot.bucket_scale(1024, 1024) == 1024
    cfg = eot.EOTConfig(scales=(512,), crop=512, bucket_p=1.0)
    v = eot.sample_view(cfg, 1440, 2160, torch.Generator().manual_seed(0))
    assert v.scale == 832 and min(v.view_height, v.view_width) == 832 and (v.crop_h, v.crop_w) == (512, 512)


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.5])
def test_gaussian_blur_is_the_separable_filter_with_edges_repeated(sigma: float) -> None:
    x = torch.rand(1, 3, 23, 31, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    radius = max(1, int(torch.ceil(torch.tensor(2 * sigma))))
    k = torch.exp(-(torch.arange(-radius, radius + 1, dtype=x.dtype) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    padded = torch.nn.functional.pad(x, (radius,) * 4, mode="replicate")
    reference = torch.nn.functional.conv2d(padded, (k[:, None] * k[None, :]).expand(3, 1, -1, -1), groups=3)
    assert torch.allclose(eot.gaussian_blur(x, sigma), reference, atol=1e-12)
