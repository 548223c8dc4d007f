"""What a site did to a picture it serves: the JPEG quality (the file's quantisation tables against the
standard IJG tables scaled by quality), the chroma subsampling, and which platform profile
(``transforms.platform.PROFILES``) fits what it did best.  Used by ``check``."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from PIL import Image, JpegImagePlugin

from .transforms.platform import PROFILES, Profile

#: a profile whose ``profile_fit`` cost is below this fits what the site did
FITS = 2.0
SUBSAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}

# The IJG (libjpeg) example tables, natural order (ITU T.81 annex K), which Pillow also reports in.
_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_IJG_CHROMA = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32),
)  # fmt: skip


@cache
def ijg_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """The luma and chroma quantisation tables libjpeg writes at ``quality`` (1..100)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    tables = []
    for base in (_IJG_LUMA, _IJG_CHROMA):
        t = (np.asarray(base, np.int64) * scale + 50) // 100
        tables.append(np.clip(t, 1, 255))
    return tables[0], tables[1]


def jpeg_quality(img: Image.Image) -> int | None:
    """The IJG quality whose scaled tables are nearest the file's own (None: not a JPEG)."""
    tables = getattr(img, "quantization", None)
    if img.format != "JPEG" or not tables:
        return None
    ordered = [np.asarray(tables[k], np.float64) for k in sorted(tables)]
    luma, chroma = ordered[0], ordered[1] if len(ordered) > 1 else None

    def distance(q: int) -> float:
        ref_luma, ref_chroma = ijg_tables(q)
        d = float(np.abs(np.log(luma) - np.log(ref_luma)).sum())
        if chroma is not None:
            d += 0.5 * float(np.abs(np.log(chroma) - np.log(ref_chroma)).sum())
        return d

    return min(range(1, 101), key=distance)


def jpeg_subsampling(img: Image.Image) -> str | None:
    if img.format != "JPEG":
        return None
    return SUBSAMPLING_NAMES.get(JpegImagePlugin.get_sampling(img))


def profile_fit(
    profile: Profile, quality: int | None, subsampling: str | None, scale: float, original: tuple[int, int]
) -> float:
    """How far what the site did is from ``profile`` (0: exactly it).  Quality outside the profile's range
    costs a point per 3 levels, a resize off the profile's a point per 2 %, a re-encode where the profile
    has none (or none where it has one) 3 points, another subsampling 1 point."""
    cost = 0.0
    if profile.jpeg_quality is None:
        cost += 0.0 if quality is None else 3.0
    elif quality is None:
        cost += 3.0
    else:
        lo, hi = profile.jpeg_quality
        cost += max(lo - quality, quality - hi, 0) / 3
        cost += 0.01 * abs(quality - (lo + hi) / 2)  # ties: the profile whose typical quality is nearest
        if subsampling is not None and subsampling != profile.subsampling:
            cost += 1.0
    kept = profile.kept_size(*original)[0] / original[0]
    cost += abs(math.log(scale / kept)) / 0.02
    return cost


def best_profile(
    quality: int | None, subsampling: str | None, scale: float, original: tuple[int, int]
) -> tuple[str, dict[str, float]]:
    costs = {
        name: round(profile_fit(p, quality, subsampling, scale, original), 3) for name, p in PROFILES.items()
    }
    return min(costs, key=costs.__getitem__), costs
