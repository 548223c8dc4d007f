"""Encoders: the real tiny-autoencoder weights, the hub weight layout, and diffusers AutoencoderKL."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from artshade.shading import models
from artshade.shading.encoders.tiny import TinyAutoencoder
from artshade.shading.errors import ModelError
from artshade.shading.perceptual import psnr
from artshade.shading.tensors import to_tensor
from PIL import Image


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.clear_cache()
    yield
    models.clear_cache()


def test_real_taef2_weights_load_and_reconstruct(models_dir: Path, small_photo: Image.Image) -> None:
    ae = TinyAutoencoder.from_files("taef2", models.weight_files(models_dir, "taef2"))
    x = to_tensor(small_photo)
    with torch.no_grad():
        z = ae.encode(x)
        y = ae.decode(z)
    assert z.shape == (1, 32, 112 // 8, 160 // 8)
    assert 0.3 < float(z.std()) < 3.0  # latents of real weights, not of random ones
    assert float(psnr(x, y)) > 24  # SOURCES.md: 28-39 dB on most photos at full size


def test_random_weights_do_not_reconstruct(small_photo: Image.Image) -> None:
    """The reconstruction check above can fail: an untrained model of the same layout scores far lower."""
    from artshade.shading.encoders.tiny import VARIANTS

    torch.manual_seed(0)
    ae = TinyAutoencoder(VARIANTS["taef2"]).eval()
    x = to_tensor(small_photo)
    with torch.no_grad():
        assert float(psnr(x, ae.decode(ae.encode(x)))) < 15


def test_the_tiny_encoder_shows_its_x4_and_x8_stages() -> None:
    """What the optimiser pulls on beside the latent: the same latent, and the x4 and x8 stages' outputs."""
    from artshade.shading.encoders.tiny import VARIANTS

    torch.manual_seed(0)
    ae = TinyAutoencoder(VARIANTS["taef2"], with_decoder=False).eval()
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        z, features = ae.encode_with_features(x)
        assert torch.equal(z, ae.encode(x))
    assert [tuple(f.shape) for f in features] == [(1, 64, 16, 24), (1, 64, 8, 12)]


def test_hub_safetensors_layout_loads_the_same_model(models_dir: Path, tmp_path: Path, small_photo) -> None:
    """The model hub stores `encoder.layers.N` / `decoder.layers.N` (no Clamp); both layouts agree."""
    from safetensors.torch import save_file

    ae = TinyAutoencoder.from_files("taef2", models.weight_files(models_dir, "taef2"))
    hub = {f"encoder.layers.{k}": v.half() for k, v in ae.encoder.state_dict().items()}
    for k, v in ae.decoder.state_dict().items():
        idx, rest = k.split(".", 1)
        hub[f"decoder.layers.{int(idx) - 1}.{rest}"] = v.half()
    save_file(hub, str(tmp_path / "taef2.safetensors"))
    other = TinyAutoencoder.from_files("taef2", models.weight_files(tmp_path, "taef2"))
    x = to_tensor(small_photo)
    with torch.no_grad():
        assert torch.allclose(ae.encode(x), other.encode(x), atol=1e-5)
        assert torch.allclose(ae.decode(ae.encode(x)), other.decode(other.encode(x)), atol=1e-5)


def test_missing_weights_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.load_encoder("taef2", folder=tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    for needle in ("taef2_encoder.pth", str(tmp_path), "artshade models add DIR", "--models DIR",
                   "ARTSHADE_MODELS", "artshade models fetch taef2"):  # fmt: skip
        assert needle in msg, msg


def test_corrupt_weights_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "taef2_encoder.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read taef2 weights"):
        TinyAutoencoder.from_files("taef2", models.weight_files(tmp_path, "taef2"))


def test_diffusers_vae_saved_and_loaded_back_through_user_code(dummy_vae_dir: Path, small_photo) -> None:
    enc = models.load_encoder("sd-vae", folder=dummy_vae_dir)
    assert enc.vae.decoder is None, "only the encoder half stays in memory"
    x = to_tensor(small_photo)
    z = enc.encode(x.requires_grad_(True))
    assert z.shape == (1, 4, 112 // 8, 160 // 8)
    z.square().mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_diffusers_vae_matches_diffusers_own_encode(dummy_vae_dir: Path, small_photo) -> None:
    from diffusers import AutoencoderKL

    ref = AutoencoderKL.from_pretrained(dummy_vae_dir / "sd-vae")
    enc = models.load_encoder("sd-vae", folder=dummy_vae_dir)
    x = to_tensor(small_photo)
    with torch.no_grad():
        expected = ref.encode(x * 2 - 1).latent_dist.mean * ref.config.scaling_factor
        assert torch.allclose(enc.encode(x), expected, atol=1e-5)


def test_model_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTSHADE_MODELS", str(tmp_path / "env"))
    assert models.models_dir(tmp_path / "flag") == tmp_path / "flag"
    assert models.models_dir(None) == tmp_path / "env"
    monkeypatch.delenv("ARTSHADE_MODELS")
    monkeypatch.setenv("ARTSHADE_HOME", str(tmp_path / "home"))
    assert models.models_dir(None) == tmp_path / "home" / "cache" / "models"


def test_status_lists_installed_and_needed(models_dir: Path, dummy_vae_dir: Path) -> None:
    rows = {r["name"]: r for r in models.status(models_dir)}
    assert rows["taef2"]["installed"] and "preset default" in rows["taef2"]["used_by"]
    assert not rows["sd15"]["installed"] and "mode cloak" in rows["sd15"]["used_by"]
    assert {r["name"]: r for r in models.status(dummy_vae_dir)}["sd-vae"]["installed"]


def test_fetch_offline_fails_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.fetch("taef2", tmp_path, progress=False)
    msg = str(err.value)
    assert "artshade models add DIR" in msg and "\n" not in msg
    assert not list(tmp_path.iterdir()), "a failed fetch leaves nothing behind"


def test_ensemble_of_tiny_ae_and_diffusers_vae_through_protect(dummy_vae_dir: Path, models_dir: Path,
                                                                small_painting) -> None:  # fmt: skip
    """Both kinds of encoder in one run: each gets its own pull row in the report."""
    from artshade.shading import Settings, protect

    for name in ("taef2_encoder.pth", "taef2_decoder.pth"):
        (dummy_vae_dir / name).symlink_to(models_dir / name)
    settings = Settings(preset="fast", encoders=("taef2", "sd-vae"), target="poster")
    report = protect(small_painting, settings, models_dir=dummy_vae_dir).report
    assert report["encoders"] == ["taef2", "sd-vae"]
    assert set(report["pull"]) == {"taef2", "sd-vae"}
    assert report["pull"]["taef2"]["none"]["pull"] > 0.05
