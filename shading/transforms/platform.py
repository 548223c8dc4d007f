"""What sites and scrapers do to an uploaded image.

``PROFILES`` describe each site's processing (longest-side cap, JPEG quality range, chroma subsampling).
They are read from ``artshade/upload_profiles.json``, the one definition the browser extension's build reads
too.
``apply_real`` runs a profile with Pillow's real resizer and JPEG encoder, for reports and benchmarks;
the optimiser uses the differentiable stand-ins in ``eot``.  ``scraper_view`` is the measurement view: the
short side resized to N and a centre N x N crop, as dataset builders do.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class Profile:
    name: str
    #: the site shrinks the longest side to this many pixels (None: keeps the size)
    max_side: int | None
    #: JPEG quality range the site re-encodes at (None: no re-encode)
    jpeg_quality: tuple[int, int] | None
    subsampling: str = "4:2:0"

    @property
    def typical_quality(self) -> int | None:
        if self.jpeg_quality is None:
            return None
        lo, hi = self.jpeg_quality
        return (lo + hi) // 2

    def kept_size(self, width: int, height: int) -> tuple[int, int]:
        """The size the site keeps for an upload of (width, height)."""
        if self.max_side is None or max(width, height) <= self.max_side:
            return width, height
        scale = self.max_side / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))


PROFILES_FILE = "upload_profiles.json"


def _profile(name: str, entry: dict[str, Any]) -> Profile:
    quality = entry["jpeg_quality"]
    return Profile(
        name,
        None if entry["max_side"] is None else int(entry["max_side"]),
        None if quality is None else (int(quality[0]), int(quality[1])),
        str(entry["subsampling"]),
    )


def _load_profiles() -> dict[str, Profile]:
    """The platforms of ``artshade/upload_profiles.json`` (shipped with the package)."""
    text = resources.files("artshade").joinpath(PROFILES_FILE).read_text(encoding="utf-8")
    platforms = json.loads(text)["platforms"]
    return {name: _profile(name, entry) for name, entry in platforms.items()}


PROFILES: dict[str, Profile] = _load_profiles()

_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def apply_real(img: Image.Image, profile: Profile, quality: int | None = None) -> Image.Image:
    """The site's processing with real Pillow code: resize (Lanczos) then JPEG at ``quality``."""
    img = img.convert("RGB")
    size = profile.kept_size(*img.size)
    if size != img.size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    q = quality if quality is not None else profile.typical_quality
    if q is None:
        return img
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q, subsampling=_SUBSAMPLING[profile.subsampling])
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def scraper_view(img: Image.Image, short_side: int = 512, crop: int | None = 512) -> Image.Image:
    """Short side resized to ``short_side`` (bicubic, antialiased), then a centre ``crop`` square.

    Images whose short side is below ``short_side`` are not enlarged: they are viewed at their own short
    side (floored to 8 px), which is also the crop size then.
    """
    w, h = img.size
    if min(w, h) < short_side:
        short_side = max(8, min(w, h) // 8 * 8)
        crop = None if crop is None else short_side
    scale = short_side / min(w, h)
    size = (max(short_side, round(w * scale)), max(short_side, round(h * scale)))
    img = img.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    if crop is None:
        return img
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    return img.crop((left, top, left + crop, top + crop))


#: the bucketing trainer (kohya-ss sd-scripts and the trainers built on it, LoRA training's default): buckets
#: of at most this many pixels, sides in multiples of ``BUCKET_STEP``, the one whose aspect ratio is
#: closest to the picture's; the picture is resized to cover it and centre-cropped to it
BUCKET_PIXELS, BUCKET_STEP, BUCKET_MAX_SIDE = 1024 * 1024, 64, 2048


def bucket_size(
    width: int, height: int, pixels: int = BUCKET_PIXELS, step: int = BUCKET_STEP
) -> tuple[int, int]:
    """The bucket (width, height) a trainer that buckets by aspect ratio puts a picture in."""
    buckets = set()
    for w in range(256, BUCKET_MAX_SIDE + 1, step):
        h = min(BUCKET_MAX_SIDE, pixels // w // step * step)
        if h >= 256:
            buckets.update({(w, h), (h, w)})
    ratio = math.log(width / height)
    return min(sorted(buckets), key=lambda b: (abs(math.log(b[0] / b[1]) - ratio), -b[0] * b[1]))


def bucket_cover(width: int, height: int) -> float:
    """The resize factor that makes a picture cover its bucket (before the centre crop)."""
    bw, bh = bucket_size(width, height)
    return max(bw / width, bh / height)
