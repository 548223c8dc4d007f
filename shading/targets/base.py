"""What a target is, and what a target maker is given.

A target is an image whose *encoding* the protected image is pulled toward.  Makers produce targets from
the artwork and settings: a built-in pattern, a user's image, or (see ``diffusion``) a diffusion model's
re-rendering of the artwork or an anchor image of another concept.  Several targets may be returned (e.g.
``cloak+poison``); the optimiser pulls toward each with its weight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from ..settings import Settings

ProgressFn = Callable[[float, str], None]


@dataclass
class Target:
    #: RGB image; the engine fits it to the working size (cover + centre crop) before encoding it.
    image: Image.Image
    #: short kind: "pattern", "image", "style", "concept" ...
    kind: str
    #: JSON-able facts for the report (pattern name, style prompt, concept, CLIP score, anchors ...)
    info: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0


@dataclass
class TargetRequest:
    #: the artwork, RGB, at the working size the optimiser will use
    image: Image.Image
    settings: Settings
    models_dir: Path
    device: torch.device
    progress: ProgressFn | None = None
    #: encoders the optimiser will attack (makers may use them, e.g. to pick the farthest pattern)
    encoders: list[Any] = field(default_factory=list)


class TargetMaker(Protocol):
    def __call__(self, request: TargetRequest) -> list[Target]: ...


def target_digest(image: Image.Image) -> str:
    """The identity of a target as the optimiser used it (RGB, 8 bits, at the working size): the report
    records it, and ``artshade check`` refuses a rebuilt target whose digest differs."""
    rgb = image.convert("RGB")
    head = f"{rgb.size[0]}x{rgb.size[1]}\n".encode()
    return "sha256:" + hashlib.sha256(head + rgb.tobytes()).hexdigest()
