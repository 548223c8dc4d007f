"""The models folder: which folder it is, what each model looks like in it, and which models are there.

Where models are looked for, first match wins: ``--models DIR`` (``models_dir=``) > ``$ARTSHADE_MODELS`` >
``<user cache>/models`` (platformdirs; the home of weights).  Diffusers models may also sit in the model
hub's own local cache (loaded with ``local_files_only``).  A tiny autoencoder is the pair
``NAME_encoder.pth`` + ``NAME_decoder.pth`` or one ``NAME.safetensors`` (``weight_files``); any other model
is a folder named after it.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from artshade import paths

from ..errors import ModelError
from .catalog import CATALOGUE, MODES_NEED, PRESET_ENCODERS, ModelSpec, marker_file, spec_of


def models_dir(explicit: str | Path | None = None) -> Path:
    """The folder models are looked for in (see module docstring for the order)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ARTSHADE_MODELS")
    if env:
        return Path(env).expanduser()
    return paths.cache_dir() / "models"


def chosen_by(folder: Path) -> str:
    """How ``folder`` came to be the models folder, in words (for messages)."""
    env = os.environ.get("ARTSHADE_MODELS")
    if env and Path(env).expanduser() == folder:
        return "from ARTSHADE_MODELS"
    if folder == paths.cache_dir() / "models":
        return "the user cache"
    return "from --models"


def expected_files(name: str) -> str:
    """What ``name`` looks like on disk, in words."""
    spec = spec_of(name)
    if spec.kind == "tiny-ae":
        return f"{name}_encoder.pth + {name}_decoder.pth, or {name}.safetensors"
    return f"a folder {name}/ with {marker_file(spec)}"


def missing_message(names: Collection[str], folder: Path, reason: str, *, fetch_hint: bool = False) -> str:
    """One line: why, which files are missing, where they were looked for, and the ways to provide them."""
    what = "; ".join(expected_files(n) for n in names)
    line = (
        f"{reason}; missing {what} in {folder} ({chosen_by(folder)}). Provide them one of three ways: "
        "`artshade models add DIR` copies them from a folder you have and checks them, "
        "`--models DIR` or ARTSHADE_MODELS=DIR uses such a folder in place"
    )
    if fetch_hint:
        megabytes = sum(spec_of(n).download_mb for n in names)
        line += f"; online, `artshade models fetch {' '.join(names)}` downloads them (about {megabytes} MB)"
    return line


def locate(name: str, folder: Path | None = None) -> Path | str | None:
    """Where ``name`` is installed: a folder/file path, a hub id present in the hub cache, or None."""
    spec = spec_of(name)
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
    """Like ``locate`` but a missing model is a ModelError saying how to provide it."""
    folder = folder or models_dir()
    where = locate(name, folder)
    if where is None:
        spec = spec_of(name)
        raise ModelError(
            missing_message(
                [name], folder, f"model {name!r} ({spec.description}) is not installed", fetch_hint=True
            )
        )
    return where


def status(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per catalogue model: installed or not, where, and which presets/modes use it."""
    folder = models_dir(folder)
    rows = []
    for spec in CATALOGUE.values():
        where = locate(spec.name, folder)
        used_by = [f"preset {p.name}" for p in PRESET_ENCODERS.values() if spec.name in p.encoders]
        used_by += [f"preset {p.name} (GPU)" for p in PRESET_ENCODERS.values() if spec.name in p.gpu_extras]
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


def weight_files(folder: Path, name: str) -> list[Path]:
    """The files that hold tiny autoencoder ``name``'s weights in ``folder`` (empty if none is there)."""
    split = folder / f"{name}_encoder.pth"
    if split.is_file():
        return [p for p in (split, folder / f"{name}_decoder.pth") if p.is_file()]
    for single in (folder / f"{name}.safetensors", folder / name / "diffusion_pytorch_model.safetensors"):
        if single.is_file():
            return [single]
    return []


def tiny_file_names(name: str) -> list[Path]:
    """The file names a tiny autoencoder's weights may have (see ``weight_files``)."""
    return [Path(f"{name}_encoder.pth"), Path(f"{name}_decoder.pth"), Path(f"{name}.safetensors")]


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
