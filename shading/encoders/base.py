"""One interface for every image encoder the optimiser attacks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ImageEncoder(nn.Module):
    """Maps RGB images in [0, 1] (B, 3, H, W) to latents (B, C, H/8, W/8).

    Subclasses convert to their own input range.  ``decode`` (optional) maps a latent back to an image, for
    the preview of what the encoder "sees".  H and W must be multiples of ``input_multiple``.
    """

    name: str = "encoder"
    latent_channels: int = 0
    input_multiple: int = 8

    def encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def encode_with_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The latent and the inner feature maps an attack pulls on beside it, each at a stride of 2, 4 or 8
        pixels per cell (pulling on inner layers too carries a change further to encoders it was never made
        against).  None by default."""
        return self.encode(x), []

    def decode(self, z: Tensor) -> Tensor | None:
        return None

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(x)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
