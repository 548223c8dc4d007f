"""Which models exist, where they are on disk, how to fetch them, and a cache of loaded ones.

Where models are looked for, first match wins: ``--models DIR`` (``models_dir=``) > ``$ARTSHADE_MODELS`` >
``<user cache>/models`` (platformdirs).  Diffusers models may also sit in the model hub's own local cache
(loaded with ``local_files_only``).  Nothing is ever downloaded implicitly: ``artshade models fetch NAME``
is the one place that goes online, and offline it fails with one line that says what to do.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from artshade import paths
from artshade.files import write_atomic

from .encoders.base import ImageEncoder
from .encoders.tiny import VARIANTS, TinyAutoencoder, weight_files
from .errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: tiny-ae | vae | pipeline-sd | pipeline-sdxl | clip
    kind: str
    hub_id: str
    description: str
    download_mb: int
    #: file(s) to fetch from the hub; empty means the whole repo (filtered by ``allow``)
    files: tuple[str, ...] = ()
    subfolder: str | None = None
    allow: tuple[str, ...] = ()


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("taef2", "tiny-ae", "madebyollin/taef2", "tiny autoencoder, FLUX.2 latent space (32 ch)", 5,
                  files=("taef2.safetensors",)),
        ModelSpec("taef1", "tiny-ae", "madebyollin/taef1", "tiny autoencoder, FLUX.1 latent space (16 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesd3", "tiny-ae", "madebyollin/taesd3", "tiny autoencoder, SD3 latent space (16 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesdxl", "tiny-ae", "madebyollin/taesdxl",
                  "tiny autoencoder, SDXL latent space (4 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesd", "tiny-ae", "madebyollin/taesd",
                  "tiny autoencoder, SD 1.x/2.x latent space (4 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("sd-vae", "vae", "stabilityai/sd-vae-ft-mse", "SD 1.x/2.x VAE (AutoencoderKL)", 335,
                  allow=("config.json", "diffusion_pytorch_model.safetensors")),
        ModelSpec("sdxl-vae", "vae", "madebyollin/sdxl-vae-fp16-fix",
                  "SDXL VAE (AutoencoderKL, fp16-safe)", 335,
                  allow=("config.json", "diffusion_pytorch_model.safetensors")),
        ModelSpec("flux-vae", "vae", "black-forest-labs/FLUX.1-schnell", "FLUX.1 VAE (AutoencoderKL)", 335,
                  subfolder="vae", allow=("vae/config.json", "vae/diffusion_pytorch_model.safetensors")),
        ModelSpec("sd15", "pipeline-sd", "stable-diffusion-v1-5/stable-diffusion-v1-5",
                  "Stable Diffusion 1.5 (img2img style targets, txt2img anchors)", 2600,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder/*.fp16.safetensors", "tokenizer/*")),
        ModelSpec("sd21", "pipeline-sd", "stabilityai/stable-diffusion-2-1",
                  "Stable Diffusion 2.1", 2600,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder/*.fp16.safetensors", "tokenizer/*")),
        ModelSpec("sdxl", "pipeline-sdxl", "stabilityai/stable-diffusion-xl-base-1.0",
                  "Stable Diffusion XL base", 7000,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder*/*.fp16.safetensors", "tokenizer*/*")),
        ModelSpec("clip", "clip", "openai/clip-vit-base-patch32",
                  "CLIP ViT-B/32 (concept and style detection)", 600,
                  allow=("*.json", "*.txt", "model.safetensors")),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Preset:
    name: str
    #: encoders the optimiser always uses (must be installed)
    encoders: tuple[str, ...]
    #: encoders added when installed and a GPU is present (too slow on a CPU)
    gpu_extras: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    "fast": Preset("fast", ("taef2",)),
    "default": Preset("default", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae")),
    "max": Preset("max", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae", "flux-vae")),
}

MODES_NEED: dict[str, tuple[str, ...]] = {
    "cloak": ("sd15", "clip"),
    "poison": ("sd15", "clip"),
    "cloak+poison": ("sd15", "clip"),
}


def models_dir(explicit: str | Path | None = None) -> Path:
    """The folder models are looked for in (see module docstring for the order)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ARTSHADE_MODELS")
    if env:
        return Path(env).expanduser()
    return paths.cache_dir() / "models"


def locate(name: str, folder: Path | None = None) -> Path | str | None:
    """Where ``name`` is installed: a folder/file path, a hub id present in the hub cache, or None."""
    spec = _spec(name)
    folder = folder or models_dir()
    if spec.kind == "tiny-ae":
        files = weight_files(folder, name)
        return files[0] if files else None
    local = folder / name
    if (local / "config.json").is_file() or (local / "model_index.json").is_file():
        return local
    if spec.subfolder and (local / spec.subfolder / "config.json").is_file():
        return local
    if _in_hub_cache(spec):
        return spec.hub_id
    return None


def require(name: str, folder: Path | None = None) -> Path | str:
    """Like ``locate`` but a missing model is a ModelError naming the command that fetches it."""
    where = locate(name, folder)
    if where is None:
        spec = _spec(name)
        raise ModelError(
            f"model {name!r} ({spec.description}) is not installed in {folder or models_dir()}; "
            f"run `artshade models fetch {name}` (about {spec.download_mb} MB) or pass --models DIR"
        )
    return where


def status(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per catalogue model: installed or not, where, and which presets/modes use it."""
    folder = models_dir(folder)
    rows = []
    for spec in CATALOGUE.values():
        where = locate(spec.name, folder)
        used_by = [f"preset {p.name}" for p in PRESETS.values() if spec.name in p.encoders]
        used_by += [f"preset {p.name} (GPU)" for p in PRESETS.values() if spec.name in p.gpu_extras]
        used_by += [f"mode {m}" for m, names in MODES_NEED.items() if spec.name in names]
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "installed": where is not None,
                "location": str(where) if where is not None else None,
                "hub_id": spec.hub_id,
                "download_mb": spec.download_mb,
                "description": spec.description,
                "used_by": used_by,
            }
        )
    return rows


def fetch(name: str, folder: Path | None = None, *, progress: bool = True) -> Path:
    """Download ``name`` from the model hub into the models folder.  The only code that goes online."""
    spec = _spec(name)
    folder = folder or models_dir()
    paths.ensure(folder)
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

        (enable_progress_bars if progress else disable_progress_bars)()
        if spec.kind == "tiny-ae":
            hub_file = spec.files[0]
            got = Path(hf_hub_download(spec.hub_id, hub_file))
            dest = folder / f"{name}.safetensors"
            _copy_atomic(got, dest)
            return dest
        dest = folder / name
        snapshot_download(spec.hub_id, local_dir=dest, allow_patterns=list(spec.allow) or None)
        return dest
    except ModelError:
        raise
    except Exception as err:
        reason = type(err).__name__
        if (
            os.environ.get("HF_HUB_OFFLINE")
            or "Offline" in reason
            or "Connect" in reason
            or "LocalEntry" in reason
        ):
            raise ModelError(
                f"cannot download {name} from the model hub ({spec.hub_id}): no connection or offline mode; "
                f"connect and rerun `artshade models fetch {name}`, or copy its files into {folder}"
            ) from err
        raise ModelError(
            f"downloading {name} ({spec.hub_id}) failed: {reason}: {str(err).splitlines()[0]}"
        ) from err


# ---------------------------------------------------------------------------------------------- loading

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
    folder = folder or models_dir()
    device = device or torch.device("cpu")
    key = (name, str(folder.resolve()), str(device), with_decoder)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        spec = _spec(name)
        where = require(name, folder)
        encoder: ImageEncoder
        if spec.kind == "tiny-ae":
            encoder = TinyAutoencoder.from_folder(folder, name, with_decoder=with_decoder)
        elif spec.kind == "vae":
            from .encoders.diffusers_vae import DiffusersVAEEncoder

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
    p = PRESETS[preset]
    names = list(p.encoders)
    if device.type != "cpu":
        names += [n for n in p.gpu_extras if locate(n, folder) is not None]
    return names


def _spec(name: str) -> ModelSpec:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(CATALOGUE)}") from None


def _in_hub_cache(spec: ModelSpec) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        filename = f"{spec.subfolder}/config.json" if spec.subfolder else "config.json"
        if spec.kind.startswith("pipeline"):
            filename = "model_index.json"
        hit = try_to_load_from_cache(spec.hub_id, filename)
        return isinstance(hit, str)
    except Exception:  # no hub library or unreadable cache: treat as absent
        return False


def _copy_atomic(src: Path, dest: Path) -> None:
    write_atomic(dest, src.read_bytes())


assert set(VARIANTS) <= set(CATALOGUE), "every tiny-AE variant needs a catalogue entry"
