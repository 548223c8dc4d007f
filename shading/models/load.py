"""Loading an encoder by name from the models folder, once per process (an in-process cache), and the
encoders a preset attacks on this machine."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from .catalog import PRESET_ENCODERS, spec_of
from .folder import locate, models_dir, require, weight_files

if TYPE_CHECKING:  # torch only where weights are loaded: `models add`, `fetch` and `list` start fast
    import torch

    from ..encoders.base import ImageEncoder

log = logging.getLogger(__name__)

_cache: dict[tuple[str, str, str, bool], ImageEncoder] = {}
_cache_lock = threading.Lock()


def load_encoder(
    name: str,
    *,
    folder: Path | None = None,
    device: torch.device | None = None,
    with_decoder: bool = False,
) -> ImageEncoder:
    """Load (once, then from the in-process cache) the encoder called ``name``."""
    import torch

    from ..encoders.tiny import TinyAutoencoder

    folder = folder or models_dir()
    device = device or torch.device("cpu")
    key = (name, str(folder.resolve()), str(device), with_decoder)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        spec = spec_of(name)
        where = require(name, folder)
        encoder: ImageEncoder
        if spec.kind == "tiny-ae":
            encoder = TinyAutoencoder.from_files(name, weight_files(folder, name), with_decoder=with_decoder)
        elif spec.kind == "vae":
            from ..encoders.diffusers_vae import DiffusersVAEEncoder

            local = isinstance(where, Path)
            encoder = DiffusersVAEEncoder.load(
                where,
                name,
                subfolder=spec.subfolder
                if (not local or (Path(where) / (spec.subfolder or "")).is_dir())
                else None,
                device=device,
                keep_decoder=with_decoder,
            )
        else:
            raise ModelError(f"{name} is a {spec.kind} model, not an image encoder")
        encoder = encoder.to(device)
        if device.type == "cpu":
            encoder = encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # faster oneDNN convs
        _cache[key] = encoder
        log.info("loaded encoder %s from %s on %s", name, where, device)
        return encoder


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def preset_encoders(preset: str, device: torch.device, folder: Path | None = None) -> list[str]:
    """The encoder names a preset uses here: its required ones, plus installed GPU extras on a GPU."""
    p = PRESET_ENCODERS[preset]
    names = list(p.encoders)
    if device.type != "cpu":
        names += [n for n in p.gpu_extras if locate(n, folder) is not None]
    return names
