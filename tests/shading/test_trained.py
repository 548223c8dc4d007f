"""What the project trains itself: the amortised start and the transfer proxy load through the same code the
engine uses, place and behave as documented, and are missing gracefully."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from artshade.shading import amortised
from artshade.shading.encoders.proxy import ProxyAutoencoder, ProxyConfig
from artshade.shading.errors import ModelError
from safetensors.torch import save_file


@pytest.fixture
def start_dir(tmp_path: Path) -> Path:
    field = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_file({"u": field.half()}, str(tmp_path / "start.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"canvas": 96}))
    amortised._field.cache_clear()
    return tmp_path


def test_the_start_fits_any_shade_size_and_differs_per_seed(start_dir: Path) -> None:
    a = amortised.start_for(40, 70, seed=1, device=torch.device("cpu"), folder=start_dir)
    b = amortised.start_for(40, 70, seed=1, device=torch.device("cpu"), folder=start_dir)
    c = amortised.start_for(40, 70, seed=2, device=torch.device("cpu"), folder=start_dir)
    assert a is not None and b is not None and c is not None
    assert a.shape == (1, 3, 40, 70) and float(a.abs().max()) <= 1.0
    assert torch.equal(a, b), "deterministic for a seed"
    assert not torch.equal(a, c), "placed differently for another seed: no two images carry it identically"


def test_no_start_means_none_and_a_broken_one_says_so(tmp_path: Path) -> None:
    amortised._field.cache_clear()
    assert amortised.start_for(8, 8, seed=0, device=torch.device("cpu"), folder=tmp_path) is None
    (tmp_path / "start.safetensors").write_bytes(b"not weights")
    (tmp_path / "config.json").write_text("{}")
    amortised._field.cache_clear()
    with pytest.raises(ModelError, match="cannot load the amortised start"):
        amortised.start_for(8, 8, seed=0, device=torch.device("cpu"), folder=tmp_path)
    amortised._field.cache_clear()


def test_proxy_round_trips_through_save_and_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = ProxyConfig(channels=(8, 8, 16, 16), latent_channels=4, groups=4)
    model = ProxyAutoencoder(cfg).eval()
    model.save_pretrained(tmp_path)
    loaded = ProxyAutoencoder.from_pretrained(tmp_path)
    x = torch.rand(1, 3, 32, 48)
    z = loaded.encode(x)
    assert z.shape == (1, 4, 4, 6)
    assert torch.allclose(z, model.half().float().encode(x), atol=1e-2), "fp16 storage, fp32 use"
    assert loaded.decode(z).shape == x.shape
    assert json.loads((tmp_path / "config.json").read_text())["channels"] == [8, 8, 16, 16]


def test_a_missing_proxy_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=str(tmp_path)):
        ProxyAutoencoder.from_pretrained(tmp_path)
