"""The amortised start: a perturbation trained over many images, from which each image's run begins.

Per-image optimisation starts from zero and spends its first steps finding what moves this encoder at
all.  Much of that is the same for every image: which fine patterns, at which strength relative to the
local budget, push its latents toward a flattened, poster-like rendering.  ``bench/train_start.py``
learns that once, over many training images, as a *universal* perturbation in budget units (a 3-channel
field in [-1, 1] on a square canvas); here it is fitted to an image (scaled to cover its shade size,
centre-cropped, placed with a seeded offset and mirror so that no two images carry it identically) and
handed to the optimiser as ``init``.  The image's own budget map then decides where it shows at all.

The trained field lives in ``shading/trained/start/`` (``start.safetensors`` + ``config.json``, with the
command and image list that reproduce it).  Where it is missing, runs start from zero.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from .errors import ModelError
from .tensors import fit_cover

TRAINED = Path(__file__).resolve().parent / "trained" / "start"


@lru_cache(maxsize=1)
def _field(folder: Path) -> Tensor | None:
    weights = folder / "start.safetensors"
    if not weights.is_file():
        return None
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        field = load_file(str(weights))["u"].float()
        json.loads((folder / "config.json").read_text())
    except (OSError, KeyError, ValueError, SafetensorError) as err:
        raise ModelError(f"cannot load the amortised start from {folder}: {err}") from err
    if field.ndim != 4 or field.shape[:2] != (1, 3):
        raise ModelError(
            f"the amortised start in {folder} has shape {tuple(field.shape)}, expected (1, 3, H, W)"
        )
    return field.clamp(-1, 1)


def fit_to(field: Tensor, height: int, width: int, *, seed: int) -> Tensor:
    """A seeded window of ``field`` (five sixths of the canvas on its long side, the image's aspect ratio),
    maybe mirrored, scaled to (height, width): every image gets its own placement; shape (1, 3, h, w)."""
    gen = torch.Generator().manual_seed(seed)
    canvas_h, canvas_w = field.shape[-2:]
    side = min(canvas_h, canvas_w) * 5 // 6
    wh, ww = (side, max(1, round(side * width / height))) if height >= width else (
        max(1, round(side * height / width)), side)  # fmt: skip
    top = int(torch.randint(0, canvas_h - wh + 1, (), generator=gen))
    left = int(torch.randint(0, canvas_w - ww + 1, (), generator=gen))
    window = field[..., top : top + wh, left : left + ww]
    if bool(torch.rand((), generator=gen) < 0.5):
        window = window.flip(-1)
    return fit_cover(window, height, width)


def start_for(
    height: int, width: int, *, seed: int, device: torch.device, folder: Path = TRAINED
) -> Tensor | None:
    """The amortised start for a shade size, in budget units, or None where none is trained."""
    field = _field(folder)
    if field is None:
        return None
    return fit_to(field, height, width, seed=seed).to(device)
