"""Loading the diffusion pipeline and CLIP model that make cloak/poison targets, and freeing them after.

Which models: ``$ARTSHADE_DIFFUSION_MODEL``, else ``sd15``; ``$ARTSHADE_CLIP_MODEL``, else ``clip``.  A value
is a catalogue name (``sd15``, ``sd21``, ``sdxl``; ``clip``) found through ``shading.models.require`` (the
models folder or the hub's local cache), or a folder holding a saved diffusers pipeline / transformers CLIP
model (e.g. the artist's own fine-tune).  Nothing is downloaded here: every load is ``local_files_only``.

Placement: fp16 on CUDA and MPS, fp32 on the CPU; attention slicing and model CPU offload on GPUs too small
to hold the whole pipeline.  ``free`` drops a pipeline and returns its memory before the optimiser runs.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import models
from ..errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_DIFFUSION = "sd15"
DEFAULT_CLIP = "clip"
_SAMPLE_BYTES = 1 << 20  # bytes hashed at each end of a weight file for its fingerprint


@dataclass(frozen=True)
class ModelRef:
    #: catalogue name, or the folder's name for a user folder
    name: str
    #: a local folder, or a hub id present in the hub's local cache
    where: Path | str
    #: "sd" | "sdxl" | "clip"
    family: str
    #: short content fingerprint (configs + sampled weights); part of every cache key
    fingerprint: str

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "source": str(self.where), "family": self.family,
                "fingerprint": self.fingerprint[:16]}  # fmt: skip


def chosen_names() -> tuple[str, str]:
    """(diffusion model, CLIP model) as configured (see module docstring)."""
    sd = os.environ.get("ARTSHADE_DIFFUSION_MODEL") or DEFAULT_DIFFUSION
    clip = os.environ.get("ARTSHADE_CLIP_MODEL") or DEFAULT_CLIP
    return str(sd).strip(), str(clip).strip()


def resolve(name: str, folder: Path, *, want: str) -> ModelRef:
    """Find ``name`` (``want`` = "pipeline" or "clip") or raise ModelError with the command that
    fetches it."""
    spec = models.CATALOGUE.get(name)
    if spec is not None:
        ok = spec.kind.startswith("pipeline") if want == "pipeline" else spec.kind == "clip"
        if not ok:
            raise ModelError(
                f"{name} is a {spec.kind} model; a {want} model is needed here (e.g. "
                f"{'sd15, sd21 or sdxl' if want == 'pipeline' else 'clip'})"
            )
        where = models.require(name, folder)
        family = {"pipeline-sd": "sd", "pipeline-sdxl": "sdxl", "clip": "clip"}[spec.kind]
        return ModelRef(
            name, where, family, fingerprint(where, spec.hub_id if isinstance(where, str) else None)
        )
    path = Path(name).expanduser()
    if path.is_dir():
        return ModelRef(path.name, path, _family_of(path, want), fingerprint(path))
    known = [
        n
        for n, s in models.CATALOGUE.items()
        if (s.kind.startswith("pipeline") if want == "pipeline" else s.kind == "clip")
    ]
    raise ModelError(
        f"unknown {want} model {name!r}: use one of {', '.join(known)} or a folder with a saved model"
    )


def _family_of(path: Path, want: str) -> str:
    if want == "clip":
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a saved CLIP model (no config.json)")
        return "clip"
    index = path / "model_index.json"
    if not index.is_file():
        raise ModelError(f"{path} is not a saved diffusers pipeline (no model_index.json)")
    cls = str(json.loads(index.read_text("utf-8")).get("_class_name", ""))
    return "sdxl" if "XL" in cls else "sd"


# --------------------------------------------------------------------------------------------- fingerprint

_fp_memo: dict[tuple[str, float], str] = {}


def fingerprint(where: Path | str, hub_id: str | None = None) -> str:
    """A content fingerprint of a model folder: its config/tokenizer files in full, and each weight file's
    name, size and first/last MiB (hashing gigabytes on every run would cost more than it protects)."""
    folder = _snapshot_folder(hub_id) if isinstance(where, str) and hub_id else Path(where)
    if folder is None:  # hub cache entry we cannot walk: its id is the best we have
        return hashlib.sha256(f"hub:{where}".encode()).hexdigest()
    stamp = max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)
    memo_key = (str(folder.resolve()), stamp)
    if memo_key in _fp_memo:
        return _fp_memo[memo_key]
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file() and not q.name.startswith(".")):
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with p.open("rb") as f:
            if p.suffix in {".json", ".txt", ".model"} or size <= 2 * _SAMPLE_BYTES:
                h.update(f.read())
            else:
                h.update(f.read(_SAMPLE_BYTES))
                f.seek(size - _SAMPLE_BYTES)
                h.update(f.read(_SAMPLE_BYTES))
    _fp_memo[memo_key] = h.hexdigest()
    return _fp_memo[memo_key]


def _snapshot_folder(hub_id: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        for probe in ("model_index.json", "config.json"):
            hit = try_to_load_from_cache(hub_id, probe)
            if isinstance(hit, str):
                return Path(hit).parent
    except Exception:  # unreadable hub cache: fall back to the id
        return None
    return None


# --------------------------------------------------------------------------------------------- pipelines


def dtype_for(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type in {"cuda", "mps"} else torch.float32


def _gpu_gib(device: torch.device) -> float | None:
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    index = device.index if device.index is not None else torch.cuda.current_device()
    return torch.cuda.get_device_properties(index).total_memory / 2**30


class Pipelines:
    """The text-to-image pipeline for one model, loaded on first use, and an image-to-image sibling that
    shares its modules (one load, one copy in memory).  ``close`` drops both and returns the memory."""

    def __init__(self, ref: ModelRef, device: torch.device) -> None:
        self.ref, self.device = ref, device
        self._base: Any = None
        self._img2img: Any = None
        self._placed: Any = None

    @property
    def loaded(self) -> bool:
        return self._base is not None

    def text2img(self) -> Any:
        return self._place(self._load())

    def img2img(self) -> Any:
        if self._img2img is None:
            base = self._load()
            from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline

            if self.ref.family == "sdxl":
                self._img2img = StableDiffusionXLImg2ImgPipeline(**base.components)
            else:
                self._img2img = StableDiffusionImg2ImgPipeline(
                    **base.components, requires_safety_checker=False
                )
            self._img2img.set_progress_bar_config(disable=True)
        return self._place(self._img2img)

    def native(self) -> tuple[int, int]:
        """The model's native side in pixels, and the multiple every generated size must be."""
        base = self._load()
        vae_scale = int(base.vae_scale_factor)
        unet = base.unet.config
        return int(unet.sample_size) * vae_scale, vae_scale * 2 ** (len(unet.block_out_channels) - 1)

    def close(self) -> None:
        self._base = self._img2img = self._placed = None
        free()

    def _load(self) -> Any:
        if self._base is None:
            self._base = load_text2img(self.ref, self.device)
        return self._base

    def _place(self, pipe: Any) -> Any:
        """Put ``pipe`` on the device; on small GPUs slice attention and offload idle sub-models instead.
        Both pipelines share modules, so placing one re-places the other's (offload hooks included)."""
        if self._placed is pipe:
            return pipe
        gib = _gpu_gib(self.device)
        needs = 10.0 if self.ref.family == "sdxl" else 5.0  # GiB the fp16 pipeline wants resident
        if gib is not None and gib < needs:
            log.info("GPU has %.1f GiB < %.0f GiB: model CPU offload + attention slicing", gib, needs)
            pipe.enable_attention_slicing()
            if hasattr(pipe, "enable_vae_tiling"):
                pipe.enable_vae_tiling()
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            if self.device.type == "mps" or (gib is not None and gib < 2 * needs):
                pipe.enable_attention_slicing()
            pipe.to(self.device)
        self._placed = pipe
        return pipe


def load_text2img(ref: ModelRef, device: torch.device) -> Any:
    """Load ``ref``'s text-to-image pipeline (on the CPU, in the device's dtype) from local files only."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    cls = StableDiffusionXLPipeline if ref.family == "sdxl" else StableDiffusionPipeline
    kwargs: dict[str, Any] = {"torch_dtype": dtype_for(device), "local_files_only": True}
    if ref.family == "sd":  # the catalogue fetches no safety-checker weights; prompts here are ours
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    # checkpoints ship full and/or fp16 weights; prefer the one that matches the device, take either
    variants: list[str | None] = ["fp16", None] if device.type != "cpu" else [None, "fp16"]
    errors: list[str] = []
    for variant in variants:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                pipe = cls.from_pretrained(ref.where, variant=variant, **kwargs)
            break
        except (OSError, ValueError) as err:
            errors.append(f"{type(err).__name__}: {_first_line(err)}")
    else:
        raise ModelError(
            f"cannot load {ref.name} from {ref.where} ({errors[-1]}); "
            f"reinstall it with `artshade models fetch {ref.name}`"
        )
    pipe.set_progress_bar_config(disable=True)
    _use_fast_scheduler(pipe)
    return pipe


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def _use_fast_scheduler(pipe: Any) -> None:
    """DPM-Solver++ gives SD a usable image in ~20 steps instead of 50."""
    from diffusers import DPMSolverMultistepScheduler

    try:
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    except (ValueError, TypeError, KeyError) as err:  # an exotic scheduler config: keep the model's own
        log.info("keeping the pipeline's scheduler: %s", err)


def load_clip(ref: ModelRef, device: torch.device) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        model: Any = CLIPModel.from_pretrained(ref.where, torch_dtype=dtype, local_files_only=True)
        processor = CLIPProcessor.from_pretrained(ref.where, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"cannot load {ref.name} from {ref.where} ({type(err).__name__}: {_first_line(err)}); "
            f"reinstall it with `artshade models fetch {ref.name}`"
        ) from err
    model.to(device=device)
    return model.eval(), processor


def free() -> None:
    """Hand freed model memory back (call after dropping every reference to the model)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()
