"""The tiny-autoencoder family (TAESD and its relatives), written from the published layer layout.

Conv + ReLU residual blocks, three stride-2 convs (x8 downscale), 64 channels throughout.  The FLUX.2
variant (TAEF2) adds a GroupNorm "pool" branch to the three deepest encoder blocks and the three first
decoder blocks.  Images are RGB in [0, 1]; latents are unscaled (scale factor 1).

Weights load from either layout:
- the reference ``NAME_encoder.pth`` / ``NAME_decoder.pth`` state dicts (``nn.Sequential`` indices), or
- the model-hub ``.safetensors`` layout (``encoder.layers.N.*`` / ``decoder.layers.N.*``, where the decoder
  has no leading Clamp, so its indices are one lower).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ModelError
from .base import ImageEncoder


@dataclass(frozen=True)
class TinyAEConfig:
    """Everything that differs between members of the family.  Saved next to the weights as config."""

    name: str
    latent_channels: int
    midblock_gn: bool = False
    channels: int = 64

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


#: the known members; the models folder finds their weights by name (``shading.models.weight_files``).
VARIANTS: dict[str, TinyAEConfig] = {
    "taesd": TinyAEConfig("taesd", 4),
    "taesdxl": TinyAEConfig("taesdxl", 4),
    "taesd3": TinyAEConfig("taesd3", 16),
    "taef1": TinyAEConfig("taef1", 16),
    "taef2": TinyAEConfig("taef2", 32, midblock_gn=True),
}


#: the encoder layers whose outputs an attack pulls on beside the latent: the last block of the x4 stage
#: and of the x8 stage (``build_encoder``'s indices)
FEATURE_LAYERS = (9, 13)


def _conv(n_in: int, n_out: int, **kwargs: object) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)  # type: ignore[arg-type]


class Clamp(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """ReLU(conv-relu-conv-relu-conv(x) + x), optionally after x += pool(x) (the FLUX.2 GroupNorm branch)."""

    def __init__(self, channels: int, midblock_gn: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv(channels, channels),
            nn.ReLU(),
            _conv(channels, channels),
            nn.ReLU(),
            _conv(channels, channels),
        )
        self.skip = nn.Identity()
        self.fuse = nn.ReLU()
        self.pool: nn.Module | None = None
        if midblock_gn:
            wide = channels * 4
            self.pool = nn.Sequential(
                nn.Conv2d(channels, wide, 1, bias=False),
                nn.GroupNorm(4, wide),
                nn.ReLU(),
                nn.Conv2d(wide, channels, 1, bias=False),
            )

    def forward(self, x: Tensor) -> Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def build_encoder(cfg: TinyAEConfig) -> nn.Sequential:
    c, gn = cfg.channels, cfg.midblock_gn
    return nn.Sequential(
        _conv(3, c), Block(c),
        _conv(c, c, stride=2, bias=False), Block(c), Block(c), Block(c),
        _conv(c, c, stride=2, bias=False), Block(c), Block(c), Block(c),
        _conv(c, c, stride=2, bias=False), Block(c, gn), Block(c, gn), Block(c, gn),
        _conv(c, cfg.latent_channels),
    )  # fmt: skip


def build_decoder(cfg: TinyAEConfig) -> nn.Sequential:
    c, gn = cfg.channels, cfg.midblock_gn
    return nn.Sequential(
        Clamp(), _conv(cfg.latent_channels, c), nn.ReLU(),
        Block(c, gn), Block(c, gn), Block(c, gn), nn.Upsample(scale_factor=2), _conv(c, c, bias=False),
        Block(c), Block(c), Block(c), nn.Upsample(scale_factor=2), _conv(c, c, bias=False),
        Block(c), Block(c), Block(c), nn.Upsample(scale_factor=2), _conv(c, c, bias=False),
        Block(c), _conv(c, 3),
    )  # fmt: skip


class TinyAutoencoder(ImageEncoder):
    """A TAESD-family encoder (and optionally its decoder, for previews)."""

    input_multiple = 8

    def __init__(self, cfg: TinyAEConfig, with_decoder: bool = True) -> None:
        super().__init__()
        self.config = cfg
        self.name = cfg.name
        self.latent_channels = cfg.latent_channels
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg) if with_decoder else None

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def encode_with_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The latent, and the outputs of the x4 and the x8 stage's last blocks (``FEATURE_LAYERS``)."""
        features = []
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i in FEATURE_LAYERS:
                features.append(x)
        return x, features

    def decode(self, z: Tensor) -> Tensor | None:
        if self.decoder is None:
            return None
        return self.decoder(z).clamp(0, 1)

    @classmethod
    def from_files(cls, name: str, files: list[Path], *, with_decoder: bool = True) -> TinyAutoencoder:
        """Load ``name`` from its weight ``files`` in either layout (see module docstring): the
        encoder/decoder ``.pth`` pair (the decoder may be missing) or one ``.safetensors``.  Which files
        those are is the models folder's business (``shading.models.weight_files``)."""
        if name not in VARIANTS:
            raise ModelError(f"unknown tiny autoencoder {name!r}; known: {', '.join(VARIANTS)}")
        model = cls(VARIANTS[name], with_decoder=with_decoder)
        enc, dec = _read_state_dicts(files, name)
        _load(model.encoder, enc, f"{name} encoder")
        if model.decoder is not None:
            if dec is None:
                model.decoder = None
            else:
                _load(model.decoder, dec, f"{name} decoder")
        return model.eval().requires_grad_(False)


def _read_state_dicts(files: list[Path], name: str) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    if not files:
        raise ModelError(f"no weight files given for {name}")
    try:
        if files[0].suffix == ".pth":
            enc = torch.load(files[0], map_location="cpu", weights_only=True)
            dec = torch.load(files[1], map_location="cpu", weights_only=True) if len(files) > 1 else None
            return enc, dec
        from safetensors.torch import load_file

        return _split_hub_layout(load_file(str(files[0])))
    except ModelError:
        raise
    except Exception as err:  # corrupt or foreign file
        raise ModelError(f"cannot read {name} weights from {files[0]}: {err}") from err


def _split_hub_layout(sd: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
    enc: dict[str, Tensor] = {}
    dec: dict[str, Tensor] = {}
    for key, value in sd.items():
        part, _layers, index, *rest = key.split(".")
        if part == "encoder":
            enc[".".join([index, *rest])] = value
        elif part == "decoder":
            dec[".".join([str(int(index) + 1), *rest])] = value
    return enc, (dec or None)


def _load(module: nn.Module, sd: dict[str, Tensor], what: str) -> None:
    sd = {k: v.float() for k, v in sd.items()}
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ModelError(f"{what} weights do not match the expected layout: {first}") from err
