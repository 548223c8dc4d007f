"""A picture an artist reads without help (``--preview``): what they gave, what they upload, the change, and
what an AI model's image encoder makes of each, in words, with a short legend of the numbers that matter.

Layout: the top row is "your image", "what you upload" and "the change, magnified 8x"; the second row is
what the model sees in your image and in what you upload (the encoder's latent decoded back to pixels,
on the view a scraper takes), and the decoy the shading pushes it toward.  When the engine provides 1:1
close-ups (``extras["compare"]``, a PIL image: the flattest and the busiest part, original beside
protected) they follow at full scale.  The legend says how alike the two images look (SSIM, PSNR), how far
the model's view moved toward the decoy (measured here on the decoded views, and by the report after the
platform's processing), and says so plainly when the model's view barely changed.  Report fields are
read defensively: the preview works with whatever the report holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont

from .tensors import resize, to_pil, to_tensor
from .transforms.platform import PROFILES, scraper_view

PANEL_HEIGHT = 320
AMPLIFY = 8
#: the model's decoded view moved less than this fraction of the way to the decoy: "barely changed"
BARELY = 0.10
CLEARLY = 0.30
BACKGROUND = (250, 249, 246)
INK = (28, 28, 28)
MUTED = (95, 95, 95)
WARN = (150, 60, 0)
PAD = 12
LINE = 22


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit(img: Image.Image, height: int = PANEL_HEIGHT) -> Image.Image:
    w, h = img.size
    return img.convert("RGB").resize((max(1, round(w * height / h)), height), Image.Resampling.LANCZOS)


def _captioned(img: Image.Image, caption: str, font: Any, lines: int = 1) -> Image.Image:
    """``img`` with ``caption`` written above it, wrapped to the panel's width on up to ``lines`` lines."""
    wrapped = _wrap(caption, img.size[0] - 4, font)
    panel = Image.new("RGB", (img.size[0], img.size[1] + LINE * lines + 6), BACKGROUND)
    panel.paste(img, (0, LINE * lines + 6))
    draw = ImageDraw.Draw(panel)
    for i, text in enumerate(wrapped[:lines]):
        draw.text((2, 3 + i * LINE), text, fill=INK, font=font)
    return panel


def _wrap(text: str, width: float, font: Any) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels (greedy, by words)."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength
    lines: list[str] = []
    for word in text.split():
        if lines and measure(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


@torch.no_grad()
def model_views(protected: Image.Image, extras: Mapping[str, Any]) -> dict[str, Image.Image] | None:
    """What the first encoder with a decoder makes of the original, the protected image and the decoy: its
    latent of a scraper's view, decoded back to pixels.  None when no encoder can decode."""
    decoder = extras["ensemble"].with_decoder()
    if decoder is None:
        return None
    images = {
        "original": extras["original"],
        "protected": protected,
        "target": to_pil(extras["targets"][0].image),
    }
    views: dict[str, Image.Image] = {}
    for name, img in images.items():
        view = to_tensor(scraper_view(img, 512, None).convert("RGB"), decoder.device)
        h, w = view.shape[-2] // 8 * 8, view.shape[-1] // 8 * 8
        seen = decoder.decode(decoder.encode(resize(view, h, w)[..., :h, :w]))
        if seen is None:
            return None
        views[name] = to_pil(seen)
    return views


def view_shift(views: Mapping[str, Image.Image]) -> dict[str, float]:
    """How much the model's decoded view changed: ``pull`` (the fraction of the way from the view of the
    original toward the view of the decoy, 1 - |P - T| / |X - T|) and ``mean_change`` (mean absolute
    change of the view, 0-255)."""
    x, p, t = (
        to_tensor(views[k].resize(views["original"].size)) for k in ("original", "protected", "target")
    )
    far = float((x - t).norm())
    pull = 1.0 - float((p - t).norm()) / far if far > 0 else 0.0
    return {"pull": round(pull, 4), "mean_change": round(float((p - x).abs().mean()) * 255, 2)}


def _get(report: Mapping[str, Any], *path: str) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def legend(report: Mapping[str, Any], shift: Mapping[str, float] | None) -> list[tuple[str, tuple[int, ...]]]:
    """The legend's lines (text, colour), from whatever the report and the decoded views give."""
    lines: list[tuple[str, tuple[int, ...]]] = []
    ssim, psnr = _number(_get(report, "quality", "ssim")), _number(_get(report, "quality", "psnr"))
    if ssim is not None:
        looks = "hard to tell apart" if ssim >= 0.95 else "a close look may show the change"
        extra = f", PSNR {psnr:.1f} dB" if psnr is not None else ""
        lines.append((f"How alike they look: SSIM {ssim:.3f} (1 = identical; {looks}){extra}.", INK))
    visibility = _get(report, "visibility")
    if isinstance(visibility, Mapping):
        shown = [f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in visibility.items() if _number(v) is not None]
        if shown:
            lines.append(("Visibility: " + ", ".join(shown[:5]) + ".", INK))
    decoy = _decoy_name(report)
    if shift is not None:
        moved = shift["pull"]
        measured = (
            f"its decoded view moved {_pct(moved)} of the way from your image toward the decoy ({decoy})"
            if moved > 0
            else f"its decoded view did not move toward the decoy ({decoy}; {_pct(moved)})"
        )
        if moved < BARELY:
            lines.append((
                f"Honestly: what the AI model sees barely changed ({measured}); it still sees much the same "
                "picture. The protection is weak for this image at these settings: try --intensity high or "
                "--preset max.",
                WARN,
            ))  # fmt: skip
        elif moved < CLEARLY:
            lines.append((f"What the AI model sees changed a little: {measured}.", INK))
        else:
            lines.append((f"What the AI model sees changed clearly: {measured}.", INK))
    platform = str(_get(report, "settings", "platform") or "none")
    pulls = _get(report, "pull")
    if isinstance(pulls, Mapping) and pulls:
        encoder, rows = next(iter(pulls.items()))
        row = _get(rows, platform) if isinstance(rows, Mapping) else None
        pull = _number(_get(row, "pull")) if row is not None else None
        base = _number(_get(row, "baseline")) if row is not None else None
        if pull is not None:
            where = "as you upload it" if platform == "none" else f"after {_platform_words(platform)}"
            same = f"; your unprotected image: {_pct(base)}" if base is not None else ""
            lines.append(
                (f"Encoder {encoder} {where}: moved {_pct(pull)} of the way toward the decoy{same}.", INK)
            )
    settings = _get(report, "settings")
    if isinstance(settings, Mapping):
        parts = [f"{k} {settings[k]}" for k in ("preset", "intensity", "mode", "platform") if settings.get(k)]
        seconds = _number(_get(report, "timings", "total_s"))
        took = f"; took {seconds:.1f} s" if seconds is not None else ""
        lines.append(("Settings: " + ", ".join(parts) + took + ".", MUTED))
        if settings.get("intensity") == "high":
            lines.append((
                "Intensity high allows a larger change in flat areas too (colour difference up to 1.5 where "
                "1 is just noticeable): on close study a faint grain can show in a flat sky or skin. Use the "
                "default intensity where that matters.",
                WARN,
            ))  # fmt: skip
    return lines


def _pct(fraction: float) -> str:
    """``12%``; never ``-0%``."""
    return f"{round(fraction * 100)}%"


def _fmt(value: Any) -> str:
    number = float(value)
    return f"{number:.3g}"


def _decoy_name(report: Mapping[str, Any]) -> str:
    targets = _get(report, "targets")
    if isinstance(targets, list) and targets and isinstance(targets[0], Mapping):
        first = targets[0]
        for key in ("name", "target", "style", "concept", "kind"):
            if isinstance(first.get(key), str) and first[key]:
                return str(first[key])
    return "the target"


def _platform_words(platform: str) -> str:
    """``the site's resize to 1080 px and JPEG``, from the platform profile."""
    profile = PROFILES.get(platform)
    if profile is None:
        return platform
    steps = [
        f"resize to {profile.max_side} px" if profile.max_side else "",
        "JPEG" if profile.jpeg_quality else "",
    ]
    done = " and ".join(s for s in steps if s) or "processing"
    return f"{platform}'s {done}"


def make_preview(image: Image.Image, report: Mapping[str, Any], extras: Mapping[str, Any]) -> Image.Image:
    """The sheet for a protected ``image``, its ``report`` and the engine's ``extras`` (``ProtectResult``'s
    fields; ``ProtectResult.preview`` calls this)."""
    original: Image.Image = extras["original"].convert("RGB")
    protected = image.convert("RGB")
    a, b = to_tensor(original), to_tensor(protected)
    change = to_pil((0.5 + AMPLIFY * (b - a)).clamp(0, 1))
    font, small = _font(18), _font(16)

    rows = [[
        _captioned(_fit(original), "your image", font),
        _captioned(_fit(protected), "what you upload", font),
        _captioned(_fit(change), f"the change, magnified {AMPLIFY}x", font),
    ]]  # fmt: skip
    views = model_views(protected, extras)
    shift = view_shift(views) if views is not None else None
    if views is not None:
        rows.append([
            _captioned(_fit(views["original"]), "what an AI model sees in your image", font, 2),
            _captioned(_fit(views["protected"]), "what an AI model sees in what you upload", font, 2),
            _captioned(_fit(views["target"]), "the decoy it is pushed toward", font, 2),
        ])  # fmt: skip
    compare = extras.get("compare")
    compare = compare.convert("RGB") if isinstance(compare, Image.Image) else None

    width = max(max(sum(p.size[0] for p in row) + PAD * (len(row) - 1) for row in rows),
                compare.size[0] if compare is not None else 0, 900)  # fmt: skip
    text_lines = [(part, colour) for text, colour in legend(report, shift)
                  for part in _wrap(text, width, small)]  # fmt: skip
    words = "Close-ups at 1:1 of the flattest and the busiest part: your image beside what you upload."
    compare_caption = _wrap(words, width, font)
    height = sum(max(p.size[1] for p in row) + PAD for row in rows)
    if compare is not None:
        height += LINE * len(compare_caption) + 6 + compare.size[1] + PAD
    height += LINE * len(text_lines) + 2 * PAD
    sheet = Image.new("RGB", (width + 2 * PAD, height + PAD), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    y = PAD
    for row in rows:
        x = PAD + (width - sum(p.size[0] for p in row) - PAD * (len(row) - 1)) // 2
        for panel in row:
            sheet.paste(panel, (x, y))
            x += panel.size[0] + PAD
        y += max(p.size[1] for p in row) + PAD
    if compare is not None:
        for text in compare_caption:
            draw.text((PAD, y + 3), text, fill=INK, font=font)
            y += LINE
        sheet.paste(compare, (PAD + (width - compare.size[0]) // 2, y + 6))
        y += 6 + compare.size[1] + PAD
    y += PAD // 2
    for text, colour in text_lines:
        draw.text((PAD, y), text, fill=colour, font=small)
        y += LINE
    return sheet
