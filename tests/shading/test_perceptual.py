"""The perceptual pieces: SSIM, the closed-form SSIM scale search, and the budget map."""

from __future__ import annotations

import pytest
import torch
from artshade.shading.perceptual import budget_map, largest_scale_for_ssim, ssim


@pytest.fixture
def image() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 96, 128, generator=gen)
    x[..., :, :64] = torch.nn.functional.avg_pool2d(x[..., :, :64], 15, stride=1, padding=7)  # flat half
    return x.clamp(0.1, 0.9)


@pytest.mark.parametrize("goal", [0.99, 0.95, 0.9, 0.8])
def test_scale_search_meets_the_goal_exactly(image: torch.Tensor, goal: float) -> None:
    delta = 0.08 * torch.randn(image.shape, generator=torch.Generator().manual_seed(1))
    a = largest_scale_for_ssim(image, delta, goal)
    assert 0 < a < 1
    assert float(ssim(image, image + a * delta)) >= goal - 1e-4
    assert float(ssim(image, image + min(1.0, a * 1.05) * delta)) < goal, "it is the largest such scale"


def test_scale_search_keeps_small_changes_whole(image: torch.Tensor) -> None:
    assert largest_scale_for_ssim(image, 1e-4 * torch.ones_like(image), 0.95) == 1.0


def test_budget_map_gives_texture_more_than_flat_areas(image: torch.Tensor) -> None:
    share = budget_map(image, floor=0.3)
    assert float(share.min()) >= 0.3 * 0.5 - 1e-6 and float(share.max()) <= 1.0
    assert float(share[..., 10:-10, 80:].mean()) > 1.5 * float(share[..., 10:-10, 5:50].mean())
