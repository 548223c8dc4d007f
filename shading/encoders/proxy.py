"""The transfer proxy: a small KL autoencoder this project trains itself, never attacked by the optimiser.

artshade can only optimise against encoders whose weights it has (here: TAEF2).  The models it must
protect against have encoders it cannot download.  The proxy stands in for them: an autoencoder with a
*different* architecture from the tiny-autoencoder family (GroupNorm + SiLU residual blocks and a
diagonal-Gaussian latent, as the Stable Diffusion / FLUX VAEs have, instead of plain conv + ReLU), a
different latent (8 channels), trained from a different seed on reconstruction alone.  The pull it
reports is the engine's pull on an encoder it never saw.

The weights are produced by ``bench/train_proxy.py`` (command and image list beside the weights in
``shading/trained/proxy/``) and saved with their config, diffusers-style: ``config.json`` +
``model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import Tensor, nn

from ..errors import ModelError
from .base import ImageEncoder

#: where the committed proxy lives
TRAINED = Path(__file__).resolve().parent.parent / "trained" / "proxy"


@dataclass(frozen=True)
class ProxyConfig:
    channels: tuple[int, ...] = (16, 32, 64, 64)
    latent_channels: int = 8
    groups: int = 8
    #: the seed the weights were initialised from (recorded, not used at load time)
    seed: int = 1234
    name: str = "proxy-kl8"
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["channels"] = list(self.channels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProxyConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "channels" in known:
            known["channels"] = tuple(known["channels"])  # type: ignore[arg-type]
        return cls(**known)  # type: ignore[arg-type]


class ResBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(groups, n_in),
            nn.SiLU(),
            nn.Conv2d(n_in, n_out, 3, padding=1),
            nn.GroupNorm(groups, n_out),
            nn.SiLU(),
            nn.Conv2d(n_out, n_out, 3, padding=1),
        )
        self.skip = nn.Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class Downsample(nn.Module):
    """Stride-2 conv with the asymmetric (0, 1, 0, 1) padding of the SD VAE."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(nn.functional.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))


def build_encoder(cfg: ProxyConfig) -> nn.Sequential:
    ch, g = cfg.channels, cfg.groups
    layers: list[nn.Module] = [nn.Conv2d(3, ch[0], 3, padding=1)]
    for i, c in enumerate(ch):
        layers.append(ResBlock(ch[max(0, i - 1)] if i else ch[0], c, g))
        if i < len(ch) - 1:
            layers.append(Downsample(c))
    layers += [ResBlock(ch[-1], ch[-1], g), nn.GroupNorm(g, ch[-1]), nn.SiLU()]
    layers.append(nn.Conv2d(ch[-1], 2 * cfg.latent_channels, 3, padding=1))
    return nn.Sequential(*layers)


def build_decoder(cfg: ProxyConfig) -> nn.Sequential:
    ch, g = cfg.channels[::-1], cfg.groups
    layers: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1), ResBlock(ch[0], ch[0], g)]
    for i, c in enumerate(ch):
        layers.append(ResBlock(ch[max(0, i - 1)] if i else ch[0], c, g))
        if i < len(ch) - 1:
            layers.append(Upsample(c))
    layers += [nn.GroupNorm(g, ch[-1]), nn.SiLU(), nn.Conv2d(ch[-1], 3, 3, padding=1)]
    return nn.Sequential(*layers)


class ProxyAutoencoder(ImageEncoder):
    """``encode`` gives the latent mean (what a diffusion model trains on, up to noise)."""

    input_multiple = 8

    def __init__(self, cfg: ProxyConfig = ProxyConfig()) -> None:
        super().__init__()
        self.config = cfg
        self.name = cfg.name
        self.latent_channels = cfg.latent_channels
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg)

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean and log-variance for images in [0, 1]."""
        mean, logvar = self.encoder(2 * x - 1).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)

    def encode(self, x: Tensor) -> Tensor:
        return self.moments(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        return ((self.decoder(z) + 1) / 2).clamp(0, 1)

    def save_pretrained(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().half().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, folder: Path = TRAINED) -> ProxyAutoencoder:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            cfg = ProxyConfig.from_dict(json.loads((folder / "config.json").read_text()))
            state = load_file(str(folder / "model.safetensors"))
        except (OSError, ValueError, SafetensorError) as err:
            raise ModelError(f"cannot load the transfer proxy from {folder}: {err}") from err
        model = cls(cfg)
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        return model.eval().requires_grad_(False)
