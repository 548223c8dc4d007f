"""Views the optimiser trains on: always inside the image, on the latent grid, matching the full view."""

from __future__ import annotations

import torch
from artshade.shading.transforms import eot
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(16, 3000),
    width=st.integers(16, 3000),
    crop=st.sampled_from([64, 256, 512]),
    seed=st.integers(0, 2**31),
)
def test_views_stay_inside_and_on_the_latent_grid(height: int, width: int, crop: int, seed: int) -> None:
    cfg = eot.EOTConfig(scales=(512, 768, 1024), crop=crop, flips=True, jpeg_quality=(70, 80))
    view = eot.sample_view(cfg, height, width, torch.Generator().manual_seed(seed))
    _, vh, vw = eot.view_size(height, width, view.scale)
    vy, vx = view.position
    assert vy % 8 == 0 and vx % 8 == 0 and view.size % 8 == 0
    assert 0 <= vy <= vh - view.size and 0 <= vx <= vw - view.size
    top, left, bottom, right = view.region
    assert top % 16 == 0 and left % 16 == 0, "regions start on the site's JPEG grid"
    assert 0 <= top < bottom <= height and 0 <= left < right <= width
    assert top * view.factor <= vy and (vy + view.size) <= bottom * view.factor + 1
    assert 70 <= view.quality <= 80


def test_lossless_view_matches_the_full_view_crop() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 720, 1080, generator=gen)
    x = torch.nn.functional.avg_pool2d(x, 9, stride=1, padding=4)  # image-like smoothness
    cfg = eot.EOTConfig(scales=(512, 768), crop=256, stray_jpeg_p=0, blur_p=0, noise_p=0)
    for _ in range(6):
        view = eot.sample_view(cfg, 720, 1080, gen)
        full = eot.full_view(x, view.scale)
        vy, vx = view.position
        expected = full[..., vy : vy + view.size, vx : vx + view.size]
        got = eot.geometry(x, view)
        if view.flip:
            got = got.flip(-1)
        assert got.shape == expected.shape
        assert float((got - expected).abs().mean()) < 0.01


def test_small_images_are_not_enlarged() -> None:
    factor, vh, vw = eot.view_size(100, 150, 512)
    assert factor <= 1.0 and (vh, vw) == (96, 144)
