"""diffusers ``AutoencoderKL`` encoders (SD 1.x/2.x, SDXL, FLUX VAEs), encoder half only.

Loaded by hub id (from the local hub cache, or downloaded by ``artshade models fetch``) or from a local
folder written by ``save_pretrained``.  Only the encoder and ``quant_conv`` stay in memory unless a preview
needs the decoder.  Weights are fp16/bf16 on a GPU, fp32 on the CPU; inputs are cast to the model's dtype
and latents come back as float32, scaled the way the diffusion model consumes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import ModelError
from .base import ImageEncoder


class DiffusersVAEEncoder(ImageEncoder):
    input_multiple = 8

    def __init__(self, vae: Any, name: str, *, keep_decoder: bool = False) -> None:
        super().__init__()
        cfg = vae.config
        self.name = name
        self.latent_channels = int(cfg.latent_channels)
        self.scaling_factor = float(getattr(cfg, "scaling_factor", 1.0) or 1.0)
        self.shift_factor = float(getattr(cfg, "shift_factor", 0.0) or 0.0)
        if not keep_decoder:
            # drop what an encoder attack never needs; frees most of the VAE's memory
            vae.decoder = None
            if getattr(vae, "post_quant_conv", None) is not None:
                vae.post_quant_conv = None
        self.vae = vae.eval().requires_grad_(False)
        self.keep_decoder = keep_decoder

    @property
    def dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype

    def encode(self, x: Tensor) -> Tensor:
        h = self.vae.encoder((x * 2 - 1).to(self.dtype))
        quant = getattr(self.vae, "quant_conv", None)
        if quant is not None:
            h = quant(h)
        mean = h[:, : self.latent_channels]
        return (mean.float() - self.shift_factor) * self.scaling_factor

    def decode(self, z: Tensor) -> Tensor | None:
        if not self.keep_decoder:
            return None
        z = (z / self.scaling_factor + self.shift_factor).to(self.dtype)
        return ((self.vae.decode(z).sample.float() + 1) / 2).clamp(0, 1)

    @classmethod
    def load(
        cls,
        source: str | Path,
        name: str,
        *,
        subfolder: str | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
        local_files_only: bool = True,
        keep_decoder: bool = False,
    ) -> DiffusersVAEEncoder:
        """Load from a local folder (``save_pretrained`` layout) or a hub id already in the local cache."""
        from diffusers import AutoencoderKL

        device = device or torch.device("cpu")
        dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        kwargs: dict[str, object] = {"torch_dtype": dtype, "local_files_only": local_files_only}
        if subfolder:
            kwargs["subfolder"] = subfolder
        try:
            vae = AutoencoderKL.from_pretrained(str(source), **kwargs)
        except (OSError, ValueError) as err:
            raise ModelError(
                f"cannot load the {name} VAE from {source}: not found locally; "
                f"run `artshade models fetch {name}` (needs internet once) or pass --models DIR"
            ) from err
        return cls(vae, name, keep_decoder=keep_decoder).to(device)
