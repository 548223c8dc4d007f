"""Engine test helpers: small pictures made by code and a tiny random diffusers VAE built from a config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter


def scene(width: int, height: int, seed: int, *, brushwork: bool = False) -> Image.Image:
    """A small landscape: graded sky, sun, a house, grassy hills with grain, and (``brushwork``) a few
    hundred short strokes of nearby colours.  Flat areas, edges and texture, like a photo or a painting."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    t = (y / y.max())[..., None]
    pixels = np.array([0.25, 0.45, 0.85]) * (1 - t) + np.array([0.85, 0.8, 0.7]) * t
    ground = y / y.max() > 0.55 + 0.08 * np.sin(x * 9 + seed) + 0.05 * np.sin(x * 23)
    grass = np.stack([0.25 + 0.1 * rng.random(x.shape), 0.5 + 0.15 * rng.random(x.shape),
                      0.2 + 0.05 * rng.random(x.shape)], -1)  # fmt: skip
    pixels[ground] = grass[ground]
    im = Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    w, h = width, height
    draw.ellipse((int(w * 0.7), int(h * 0.1), int(w * 0.85), int(h * 0.1 + w * 0.15)), fill=(250, 220, 120))
    draw.rectangle((int(w * 0.15), int(h * 0.45), int(w * 0.4), int(h * 0.8)), fill=(150, 60, 50))
    roof = [(int(w * 0.12), int(h * 0.45)), (int(w * 0.275), int(h * 0.25)), (int(w * 0.43), int(h * 0.45))]
    draw.polygon(roof, fill=(90, 40, 40))
    draw.rectangle((int(w * 0.22), int(h * 0.6), int(w * 0.3), int(h * 0.8)), fill=(60, 40, 30))
    if brushwork:
        for _ in range(400):
            cx, cy, angle, length = (
                rng.integers(0, w),
                rng.integers(0, h),
                rng.random() * np.pi,
                rng.integers(4, 12),
            )
            here = np.array(im.getpixel((int(cx), int(cy))))
            colour = tuple(int(c) for c in np.clip(here + rng.integers(-40, 40, 3), 0, 255))
            draw.line(
                (cx, cy, cx + length * np.cos(angle), cy + length * np.sin(angle)), fill=colour, width=2
            )
    return im.filter(ImageFilter.SMOOTH)


@pytest.fixture(scope="session")
def small_photo() -> Image.Image:
    """160x112: fast to shade on a CPU, big enough for 4 latent rows of margin."""
    return scene(160, 112, seed=1)


@pytest.fixture(scope="session")
def small_painting() -> Image.Image:
    return scene(144, 96, seed=2, brushwork=True)


def get_dummy_vae_config() -> dict:
    """A tiny AutoencoderKL (x8 downscale like the real ones), seconds to build and run on a CPU."""
    return {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": [8, 8, 16, 16],
        "layers_per_block": 1,
        "latent_channels": 4,
        "norm_num_groups": 4,
        "sample_size": 32,
        "scaling_factor": 0.18215,
    }


@pytest.fixture
def dummy_vae_dir(tmp_path: Path) -> Path:
    """A models folder holding a tiny random VAE under the catalogue name ``sd-vae``."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(**get_dummy_vae_config())
    folder = tmp_path / "models"
    vae.save_pretrained(folder / "sd-vae")
    return folder


@pytest.fixture(scope="session")
def make_scene():
    """``scene`` for test modules (which cannot import this conftest)."""
    return scene
