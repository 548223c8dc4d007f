"""What the project trains itself: the transfer proxy loads through the same code the engine uses and says
where it looked when it is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from artshade.shading.encoders.proxy import ProxyAutoencoder, ProxyConfig
from artshade.shading.errors import ModelError


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
