"""A picture an artist can look at: original | protected | amplified difference | target, and below,
what the encoder "sees" (its latent decoded back to pixels) for the original and the protected image."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from PIL import Image, ImageDraw

from .tensors import resize, to_pil, to_tensor
from .transforms.platform import scraper_view

if TYPE_CHECKING:
    from .api import ProtectResult

PANEL_HEIGHT = 320
AMPLIFY = 8


def _fit(img: Image.Image, height: int = PANEL_HEIGHT) -> Image.Image:
    w, h = img.size
    return img.convert("RGB").resize((max(1, round(w * height / h)), height), Image.Resampling.LANCZOS)


def _label(img: Image.Image, text: str) -> Image.Image:
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((6, 4), text)
    draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(0, 0, 0))
    draw.text((6, 4), text, fill=(255, 255, 255))
    return img


@torch.no_grad()
def make_preview(result: ProtectResult) -> Image.Image:
    original: Image.Image = result.extras["original"]
    protected = result.image.convert("RGB")
    a, b = to_tensor(original), to_tensor(protected)
    diff = to_pil((0.5 + AMPLIFY * (b - a)).clamp(0, 1))
    target = to_pil(result.extras["targets"][0].image)
    top = [
        _label(_fit(original), "original"),
        _label(_fit(protected), "protected"),
        _label(_fit(diff), f"difference x{AMPLIFY}"),
        _label(_fit(target), "target"),
    ]
    bottom: list[Image.Image] = []
    decoder = result.extras["ensemble"].with_decoder()
    if decoder is not None:
        for name, img in (("original", original), ("protected", protected), ("target", target)):
            view = to_tensor(scraper_view(img, 512, None).convert("RGB"), decoder.device)
            h, w = view.shape[-2] // 8 * 8, view.shape[-1] // 8 * 8
            seen = decoder.decode(decoder.encode(resize(view, h, w)[..., :h, :w]))
            if seen is not None:
                bottom.append(_label(_fit(to_pil(seen)), f"{decoder.name} sees: {name}"))
    rows = [top] + ([bottom] if bottom else [])
    width = max(sum(p.size[0] for p in row) for row in rows)
    sheet = Image.new("RGB", (width, PANEL_HEIGHT * len(rows)), (24, 24, 24))
    for r, row in enumerate(rows):
        x = 0
        for panel in row:
            sheet.paste(panel, (x, r * PANEL_HEIGHT))
            x += panel.size[0]
    return sheet
