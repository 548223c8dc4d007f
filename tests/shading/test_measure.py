"""The whole-picture measures: the bucketing trainer's view, and how evenly a change reaches the borders."""

from __future__ import annotations

import torch
from artshade.shading.measure import border_balance, bucket_view
from PIL import Image


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
