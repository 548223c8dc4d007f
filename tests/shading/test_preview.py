"""The preview an artist reads: its words and numbers (from whatever the report holds), its honesty when the
model's view barely moves, its layout, and the engine's 1:1 close-ups when they exist.  Untrained tiny
autoencoders stand in for the real one: the preview's job is the picture, not the shading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from artshade.shading.encoders.ensemble import Ensemble, Member
from artshade.shading.encoders.tiny import VARIANTS, TinyAutoencoder
from artshade.shading.optimize import TargetTensor
from artshade.shading.preview import BARELY, PANEL_HEIGHT, legend, view_shift
from artshade.shading.result import ProtectResult
from artshade.shading.tensors import to_pil, to_tensor
from PIL import Image

REPORT = {
    "settings": {"preset": "fast", "intensity": "default", "mode": "guard", "platform": "instagram"},
    "quality": {"ssim": 0.962, "psnr": 36.5},
    "targets": [{"kind": "builtin", "name": "poster", "weight": 1.0}],
    "pull": {
        "taef2": {"instagram": {"pull": 0.19, "baseline": 0.02}, "none": {"pull": 0.21, "baseline": 0.0}}
    },
    "timings": {"total_s": 12.3},
}


def _text(lines) -> str:
    return " ".join(text for text, _ in lines)


def test_legend_gives_the_numbers_that_matter_in_words() -> None:
    text = _text(legend(REPORT, {"pull": 0.42, "mean_change": 9.0}))
    assert "SSIM 0.962 (1 = identical; hard to tell apart), PSNR 36.5 dB" in text
    assert (
        "changed clearly: its decoded view moved 42% of the way from your image toward the decoy (poster)"
        in text
    )
    assert "after instagram's resize to 1080 px and JPEG: moved 19% of the way toward the decoy" in text
    assert "your unprotected image: 2%" in text
    assert "preset fast, intensity default, mode guard, platform instagram; took 12.3 s" in text
    assert "Honestly" not in text


@pytest.mark.parametrize("moved", [BARELY / 2, -0.04])
def test_legend_says_so_when_the_models_view_barely_changes(moved: float) -> None:
    text = _text(legend(REPORT, {"pull": moved, "mean_change": 0.5}))
    assert "Honestly: what the AI model sees barely changed" in text and "it still sees much the same" in text
    assert "--intensity high" in text


def test_legend_reads_the_report_defensively() -> None:
    assert legend({}, None) == []
    odd = {"quality": "n/a", "pull": {"taef2": "?"}, "settings": None, "visibility": ["a"], "targets": [3]}
    assert legend(odd, None) == []
    text = _text(legend({"visibility": {"flat_area_jnd": 0.8, "lpips": 0.031, "note": "words"}}, None))
    assert text == "Visibility: flat area jnd 0.8, lpips 0.031."


def test_view_shift_measures_the_way_toward_the_decoy() -> None:
    grey, white = Image.new("RGB", (32, 32), (100, 100, 100)), Image.new("RGB", (32, 32), (250, 250, 250))
    assert view_shift({"original": grey, "protected": grey, "target": white}) == {
        "pull": 0.0,
        "mean_change": 0.0,
    }
    whole = view_shift({"original": grey, "protected": white, "target": white})
    assert whole == {"pull": 1.0, "mean_change": 150.0}


def _result(with_decoder: bool, **extras) -> ProtectResult:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    original = Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    protected = to_pil((to_tensor(original) + 0.03).clamp(0, 1))
    encoder = TinyAutoencoder(VARIANTS["taef2"], with_decoder=with_decoder).eval()
    target = TargetTensor(to_tensor(original.resize((8, 6)).resize((160, 120))), 1.0)
    extras = {"original": original, "targets": [target], "ensemble": Ensemble([Member(encoder)]), **extras}
    return ProtectResult(protected, REPORT, extras)


def test_two_full_rows_and_a_legend_and_no_empty_panel_without_a_decoder() -> None:
    full = _result(with_decoder=True).preview()
    assert full.size[0] >= 900 and full.size[1] > 2 * PANEL_HEIGHT
    alone = _result(with_decoder=False).preview()
    assert PANEL_HEIGHT < alone.size[1] < full.size[1] - PANEL_HEIGHT  # one row of pictures, then the legend


def test_the_engines_close_ups_are_shown_at_one_to_one() -> None:
    rng = np.random.default_rng(1)
    compare = Image.fromarray(rng.integers(0, 255, (96, 300, 3), dtype=np.uint8))
    without = _result(with_decoder=True).preview()
    sheet = _result(with_decoder=True, compare=compare).preview()
    assert sheet.size[1] >= without.size[1] + 96
    pixels, wanted = np.asarray(sheet), np.asarray(compare)
    candidates = np.argwhere((pixels == wanted[0, 0]).all(axis=-1))
    found = [(y, x) for y, x in candidates if (pixels[y : y + 96, x : x + 300] == wanted).all()]
    assert len(found) == 1, "the close-ups appear once, unscaled"


def test_the_legend_says_what_intensity_high_allows() -> None:
    from artshade.shading.preview import legend

    high = {**REPORT, "settings": {**REPORT.get("settings", {}), "intensity": "high"}}
    default = {**REPORT, "settings": {**REPORT.get("settings", {}), "intensity": "default"}}
    assert any("up to 1.5" in text for text, _ in legend(high, None))
    assert not any("up to 1.5" in text for text, _ in legend(default, None))
