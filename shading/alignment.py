"""Where in the original a posted picture comes from: the site's resize and any crop, found by normalised
cross-correlation of small grey copies over a range of scales, refined on larger copies; a picture that
does not line up (another artwork, or the same layout painted again) is refused.  Also a difference hash
(dHash), for finding which upload a posted picture came from.  Used by ``check``; numpy and scipy only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy.signal import fftconvolve

from .errors import NotSameArtworkError

LANCZOS = Image.Resampling.LANCZOS
#: the best alignment's grey correlation below this: not the same artwork
SAME_ARTWORK = 0.8
#: ... or its fine detail's correlation below this (the same layout, other brushwork)
SAME_DETAIL = 0.75
#: long side the fine detail is compared at
DETAIL_SIDE = 1024
#: fine detail weaker than this (RMS, grey levels) is too little to compare (a flat digital painting)
DETAIL_FLOOR = 1.5
#: long side of the grey copies the coarse search and the refinement run on
COARSE_SIDE = 160
FINE_SIDE = 640
#: a crop box closer than this (fraction of a side) to every edge is no crop
CROP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Alignment:
    #: the part of the original the posted picture shows, in the original's pixels (left, top, right, bottom)
    box: tuple[float, float, float, float]
    #: posted pixels per original pixel
    scale: float
    #: normalised cross-correlation of the grey pictures at the best alignment (1: identical)
    similarity: float
    cropped: bool
    #: correlation of the fine detail there (``detail_correlation``)
    detail: float = 1.0


def _grey(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    small = img.convert("L").resize((max(1, size[0]), max(1, size[1])), Image.Resampling.BOX)
    return np.asarray(small, np.float64) / 255.0


def ncc(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``template`` at every place it fits inside ``image`` ("valid")."""
    th, tw = template.shape
    t = template - template.mean()
    t_norm = math.sqrt(float((t * t).sum()))
    ones = np.ones_like(template)
    num = fftconvolve(image, t[::-1, ::-1], mode="valid")
    s1 = fftconvolve(image, ones, mode="valid")
    s2 = fftconvolve(image * image, ones, mode="valid")
    var = np.maximum(s2 - s1 * s1 / (th * tw), 0.0)
    den = np.sqrt(var) * t_norm
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0)


def _best_place(image: np.ndarray, posted: Image.Image, size: tuple[int, int]) -> tuple[float, int, int]:
    tw, th = size
    if tw < 4 or th < 4 or tw > image.shape[1] or th > image.shape[0]:
        return -1.0, 0, 0
    scores = ncc(image, _grey(posted, (tw, th)))
    y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[y, x]), int(x), int(y)


def align(original: Image.Image, posted: Image.Image) -> Alignment:
    """Where in ``original`` the ``posted`` picture comes from, and at what scale (see module docstring).
    Raises ``NotSameArtworkError`` when the best alignment is not alike enough."""
    W, H = original.size
    w, h = posted.size
    s_min = max(w / W, h / H)  # the posted picture spans the original's full width or height
    s_max = max(s_min, 1.0)  # sites shrink and crop; they do not enlarge
    # coarse: every scale on a log grid, every place
    r1 = min(1.0, COARSE_SIDE / max(W, H))
    coarse = _grey(original, (round(W * r1), round(H * r1)))
    steps = min(48, max(1, math.ceil(math.log(s_max / s_min) / math.log(1.02)) + 1))
    best = (-2.0, s_min, 0, 0)
    for i in range(steps):
        s = s_min * (s_max / s_min) ** (i / max(1, steps - 1))
        size = (max(1, round(w * r1 / s)), max(1, round(h * r1 / s)))
        size = (min(size[0], coarse.shape[1]), min(size[1], coarse.shape[0]))
        score, x, y = _best_place(coarse, posted, size)
        if score > best[0]:
            best = (score, s, x, y)
    _, s0, x0, y0 = best
    # fine: nearby scales, places near the coarse one
    r2 = min(1.0, FINE_SIDE / max(W, H))
    fine = _grey(original, (round(W * r2), round(H * r2)))
    margin = math.ceil(2 * r2 / r1) + 2
    found = (-2.0, s0, 0.0, 0.0)
    for k in range(-4, 5):
        s = min(s_max, max(s_min, s0 * (1 + 0.006 * k)))
        tw, th = min(fine.shape[1], round(w * r2 / s)), min(fine.shape[0], round(h * r2 / s))
        cx, cy = round(x0 * r2 / r1), round(y0 * r2 / r1)
        left, top = max(0, cx - margin), max(0, cy - margin)
        window = fine[top : min(fine.shape[0], cy + margin + th), left : min(fine.shape[1], cx + margin + tw)]
        score, x, y = _best_place(window, posted, (tw, th))
        if score > found[0]:
            found = (score, w * r2 / tw, (left + x) / r2, (top + y) / r2)
    similarity, s, bx, by = found
    box = (bx, by, min(W, bx + w / s), min(H, by + h / s))
    detail = detail_correlation(original.crop(_rounded(box)), posted) if similarity > 0 else 0.0
    if similarity < SAME_ARTWORK or detail < SAME_DETAIL:
        raise NotSameArtworkError(
            "the posted picture is not the same artwork as the original "
            f"(at best {max(min(similarity, detail), 0.0):.0%} alike; the same picture after a site scores "
            f"over {SAME_ARTWORK:.0%})"
        )
    tol_w, tol_h = CROP_TOLERANCE * W + 1 / r2, CROP_TOLERANCE * H + 1 / r2
    cropped = not (box[0] <= tol_w and box[1] <= tol_h and box[2] >= W - tol_w and box[3] >= H - tol_h)
    if not cropped:
        box, s = (0.0, 0.0, float(W), float(H)), w / W
    return Alignment(
        box=box, scale=s, similarity=round(similarity, 4), cropped=cropped, detail=round(detail, 4)
    )


def _rounded(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    return round(box[0]), round(box[1]), round(box[2]), round(box[3])


def detail_correlation(part: Image.Image, posted: Image.Image) -> float:
    """Correlation of the fine detail (grey minus a blurred grey) of ``part`` of the original, brought to
    the posted picture's size, and of the posted picture: the layout of two pictures can match (the same
    composition painted twice) while their brushwork does not."""
    size = posted.size
    if max(size) > DETAIL_SIDE:
        f = DETAIL_SIDE / max(size)
        size = (max(8, round(size[0] * f)), max(8, round(size[1] * f)))

    def fine(img: Image.Image) -> np.ndarray:
        grey = img.convert("L").resize(size, LANCZOS)
        a = np.asarray(grey, np.float64) - np.asarray(grey.filter(ImageFilter.GaussianBlur(3)), np.float64)
        return a - a.mean()

    a, b = fine(part), fine(posted)
    if math.sqrt(float((a * a).mean())) < DETAIL_FLOOR:
        return 1.0  # a flat, grain-free picture has no fine detail to tell by: the layout decides alone
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / den if den > 1e-9 else 0.0


def dhash(img: Image.Image, size: int = 8) -> int:
    """A difference hash (dHash) of a small grey copy: 64 bits that survive resizing and re-encoding, for
    finding which recent job a posted picture came from."""
    grey = np.asarray(img.convert("L").resize((size + 1, size), Image.Resampling.BOX), np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()
