"""1:1 close-ups to look at, original beside protected: the flattest and the busiest part of each picture.

    python3 bench/crops.py OUT_DIR [PICTURE ...] [--preset default] [--intensity low default high]
                           [--platform instagram] [--models DIR]

With no pictures it paints two and shades those: ``painted`` (``painted_scene``: a graded sky, a smooth
skin-toned oval lit from one side, a soft horizon and grass with grain: the flat areas where a change shows
first) and ``flat`` (``flat_illustration``: flat fills inside dark anti-aliased outlines, as digital
illustration and cel shading are drawn, with no grain anywhere).  The sheets committed under
``docs/crops/`` come from this, since the eval pictures are not ours to ship.  For each picture and
intensity it writes ``NAME.INTENSITY.compare.png`` (the engine's own 1:1 sheet, as ``--compare`` writes
it) and ``NAME.INTENSITY.flat-x3.png`` (the flattest 128 px square enlarged 3x, nearest neighbour, original
left), and prints the visibility figures and the pull the report holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def painted_scene(width: int = 1080, height: int = 1350, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    t = (y / height)[..., None]
    sky = np.array([0.32, 0.52, 0.86]) * (1 - t) + np.array([0.93, 0.80, 0.66]) * t
    pixels = sky.copy()
    # a face-sized oval of skin, lit from the upper left
    cx, cy, rx, ry = width * 0.5, height * 0.42, width * 0.22, height * 0.2
    inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    light = np.clip(
        1.05 - 0.35 * ((x - cx + rx * 0.4) ** 2 + (y - cy + ry * 0.4) ** 2) / (rx * ry), 0.7, 1.05
    )
    skin = np.array([0.87, 0.68, 0.56])[None, None] * light[..., None]
    soft = np.clip((1 - inside) * 8, 0, 1)[..., None]
    pixels = pixels * (1 - soft) + skin * soft
    ground = y / height > 0.8 + 0.02 * np.sin(x / width * 11 + seed)
    grass = np.stack([0.25 + 0.12 * rng.random(x.shape), 0.48 + 0.15 * rng.random(x.shape),
                      0.2 + 0.05 * rng.random(x.shape)], -1)  # fmt: skip
    pixels[ground] = grass[ground]
    return Image.fromarray((pixels.clip(0, 1) * 255).round().astype(np.uint8)).filter(ImageFilter.SMOOTH)


def flat_illustration(width: int = 1080, height: int = 1350) -> Image.Image:
    """Flat colour fills inside dark outlines, anti-aliased (drawn at 4x, then reduced): digital linework
    and cel shading, no gradient and no grain."""
    from PIL import ImageDraw

    k = 4
    big = Image.new("RGB", (width * k, height * k), (246, 236, 214))
    draw = ImageDraw.Draw(big)
    ink, line = (40, 32, 30), 7 * k

    def box(*fractions: float) -> list[int]:
        return [round(f * (width if i % 2 == 0 else height) * k) for i, f in enumerate(fractions)]

    draw.rectangle(box(0, 0.62, 1, 1), fill=(122, 170, 96))
    draw.ellipse(box(0.58, 0.06, 0.9, 0.31), fill=(250, 204, 72), outline=ink, width=line)
    mountain = box(0.12, 0.62, 0.36, 0.3, 0.6, 0.62)
    draw.polygon(
        list(zip(mountain[::2], mountain[1::2], strict=True)), fill=(96, 112, 168), outline=ink, width=line
    )
    draw.rounded_rectangle(
        box(0.52, 0.48, 0.86, 0.8), radius=40 * k, fill=(214, 96, 80), outline=ink, width=line
    )
    draw.ellipse(box(0.2, 0.7, 0.42, 0.92), fill=(236, 186, 160), outline=ink, width=line)
    return big.resize((width, height), Image.Resampling.LANCZOS)


def flat_zoom(original: Image.Image, protected: Image.Image, side: int = 128, zoom: int = 3) -> Image.Image:
    """The flattest ``side`` px square (lowest luma standard deviation, on a coarse grid), enlarged."""
    grey = np.asarray(original.convert("L"), dtype=np.float64)
    best, box = np.inf, (0, 0)
    for top in range(0, grey.shape[0] - side + 1, side // 2):
        for left in range(0, grey.shape[1] - side + 1, side // 2):
            spread = grey[top : top + side, left : left + side].std()
            if spread < best:
                best, box = spread, (left, top)
    crop = (*box, box[0] + side, box[1] + side)
    big = side * zoom
    sheet = Image.new("RGB", (2 * big + 8, big), (32, 32, 32))
    sheet.paste(original.convert("RGB").crop(crop).resize((big, big), Image.NEAREST), (0, 0))
    sheet.paste(protected.convert("RGB").crop(crop).resize((big, big), Image.NEAREST), (big + 8, 0))
    return sheet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("pictures", nargs="*", type=Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--intensity", nargs="+", default=["low", "default", "high"])
    parser.add_argument("--platform", default="instagram")
    parser.add_argument("--models", type=Path, default=None)
    args = parser.parse_args()

    from artshade.shading import Settings, protect

    args.out.mkdir(parents=True, exist_ok=True)
    pictures = [(p.stem, Image.open(p).convert("RGB")) for p in args.pictures] or [
        ("painted", painted_scene()),
        ("flat", flat_illustration()),
    ]
    for name, picture in pictures:
        for intensity in args.intensity:
            settings = Settings(preset=args.preset, intensity=intensity, platform=args.platform)
            result = protect(picture, settings, models_dir=args.models)
            result.compare().save(args.out / f"{name}.{intensity}.compare.png")
            flat_zoom(picture, result.image).save(args.out / f"{name}.{intensity}.flat-x3.png")
            pull = next(iter(result.report["pull"].values()))[args.platform]["pull"]
            seen = json.dumps(result.report["visibility"])
            print(name, intensity, f"{picture.size[0]}x{picture.size[1]}", seen, f"pull {pull}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
