"""Engine test helpers: small real images and a tiny random diffusers VAE built from a config."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def small_photo(eval_images: Path) -> Image.Image:
    """A real photo, 160x112 (fast to shade on a CPU, big enough for 4 latent rows of margin)."""
    with Image.open(eval_images / "photos" / "dog_beagle_pexels.jpg") as im:
        return im.convert("RGB").resize((160, 112), Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def small_painting(eval_images: Path) -> Image.Image:
    with Image.open(eval_images / "artworks" / "vangogh_starry_night.jpg") as im:
        return im.convert("RGB").resize((144, 96), Image.Resampling.LANCZOS)


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
