"""The whole-picture measures: the bucketing trainer's view, and how evenly a change reaches the borders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from artshade.shading.measure import (
    SPREAD_VIEWS,
    border_balance,
    bucket_view,
    shifted_view,
    spread_pull,
)
from artshade.shading.transforms.platform import scraper_view
from PIL import Image


class PoolEncoder:
    """An encoder whose latent is the picture averaged over 8 px cells."""

    name, device = "pool", torch.device("cpu")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 8)


def noise(seed: int, size: tuple[int, int] = (1080, 1350)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_bucket_view_keeps_the_whole_picture_at_about_one_megapixel() -> None:
    assert bucket_view(Image.new("RGB", (1080, 720))).size == (1216, 832)
    assert bucket_view(Image.new("RGB", (1080, 1350))).size == (896, 1152)
    assert bucket_view(Image.new("RGB", (1024, 1024))).size == (1024, 1024)
    assert bucket_view(Image.new("RGB", (2400, 800))).size == (1728, 576)  # a 3:1 panorama


def test_border_balance_tells_a_centre_only_change_from_a_whole_picture_one() -> None:
    gen = torch.Generator().manual_seed(0)
    zx = torch.randn(1, 16, 104, 152, generator=gen)
    everywhere = zx + 0.1 * torch.randn(zx.shape, generator=gen)
    centre_only = zx.clone()
    centre_only[..., 24:128] += 0.1 * torch.randn(1, 16, 104, 104, generator=gen)
    assert border_balance(zx, everywhere) > 0.9
    assert border_balance(zx, centre_only) < 0.05
    tall = zx.transpose(-1, -2).contiguous()
    assert border_balance(tall, centre_only.transpose(-1, -2)) < 0.05


def test_shifted_view_is_the_scrapers_view_moved_and_kept_inside_the_picture() -> None:
    img = noise(0)
    assert np.array_equal(np.asarray(shifted_view(img, 512, 0)), np.asarray(scraper_view(img, 512, 512)))
    moved = np.asarray(shifted_view(img, 512, 3))
    big = np.asarray(scraper_view(img, 512, None))
    assert big.shape[:2] == (640, 512)  # a portrait: the crop moves down, and cannot move across
    top, left = (640 - 512) // 2 + 3, 0
    assert np.array_equal(moved, big[top : top + 512, left : left + 512])
    square = noise(1, (512, 512))  # no room to move: the crop stays inside
    assert np.array_equal(np.asarray(shifted_view(square, 512, 3)), np.asarray(square))
    assert len(set(SPREAD_VIEWS)) == len(SPREAD_VIEWS) and (512, 0) not in SPREAD_VIEWS


def test_spread_pull_is_zero_for_the_original_one_for_the_target_and_between_for_a_blend() -> None:
    x, t = noise(2, (1350, 1080)), noise(3, (1350, 1080))
    enc = PoolEncoder()
    assert abs(spread_pull(enc, x, x, t)) < 1e-6
    assert abs(spread_pull(enc, x, t, t) - 1) < 1e-6
    half = Image.blend(x, t, 0.5)
    assert 0.4 < spread_pull(enc, x, half, t) < 0.6
    with pytest.raises(ValueError, match="fit it"):
        spread_pull(enc, x, x, noise(3, (1000, 1000)))
