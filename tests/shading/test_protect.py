"""The engine end to end: it really moves the encoding toward the target, keeps images looking the same,
is deterministic, and protects files without losing anything."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from artshade.shading import Settings, models, protect, protect_bytes, protect_file
from artshade.shading.errors import Cancelled, OutputError
from artshade.shading.measure import encode_view, pull_value
from artshade.shading.optimize import BUDGETS
from artshade.shading.tensors import to_pil, to_tensor
from artshade.shading.visibility import PEAK_LIMIT
from PIL import Image


@pytest.fixture(scope="module")
def taef2(models_dir: Path):
    return models.load_encoder("taef2", folder=models_dir)


@pytest.fixture(scope="module")
def shaded(small_photo: Image.Image, models_dir: Path):
    return protect(small_photo, Settings(preset="fast", target="poster", seed=1), models_dir=models_dir)


def _pull(enc, original: Image.Image, candidate: Image.Image, target: Image.Image) -> float:
    return pull_value(encode_view(enc, candidate), encode_view(enc, original), encode_view(enc, target))


def test_protection_pulls_toward_target_more_than_equal_energy_noise(shaded, small_photo, taef2) -> None:
    target = to_pil(shaded.extras["targets"][0].image)
    x, p = to_tensor(small_photo), to_tensor(shaded.image)
    delta = p - x
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(delta.shape, generator=gen)
    noise = noise * delta.norm() / noise.norm()  # same L2 energy, random direction
    noisy = to_pil((x + noise).clamp(0, 1))
    pull_shaded = _pull(taef2, small_photo, shaded.image, target)
    pull_noise = _pull(taef2, small_photo, noisy, target)
    assert pull_shaded > 0.04, pull_shaded
    assert pull_shaded > pull_noise + 0.03, (pull_shaded, pull_noise)


def test_protected_image_looks_the_same(shaded, small_photo) -> None:
    seen = shaded.report["visibility"]
    assert seen["ssim_colour"] >= BUDGETS["default"].ssim_goal, "the intensity's colour-SSIM goal holds"
    assert seen["flat_delta_e_p95"] <= 1.0, "no difference shows in the flattest areas"
    assert seen["periodic_peak"] <= PEAK_LIMIT, "no regular imprint"
    assert shaded.report["quality"] == {"psnr": seen["psnr"], "ssim": seen["ssim_colour"]}
    diff = np.abs(np.asarray(shaded.image, np.int16) - np.asarray(small_photo, np.int16))
    jnd = BUDGETS["default"].jnd
    assert diff.max() <= np.ceil(jnd.max_luma + 2 * jnd.max_chroma) + 1, "never beyond the budget's caps"
    assert shaded.image.size == small_photo.size and shaded.image.mode == "RGB"


def test_report_has_pull_per_encoder_and_profile(shaded) -> None:
    r = shaded.report
    assert r["encoders"] == ["taef2"]
    assert set(r["pull"]["taef2"]) == {"none", "instagram", "x"}
    for row in r["pull"]["taef2"].values():
        assert set(row) == {"pull", "baseline"}
    assert r["targets"][0]["kind"] == "restyle" and r["targets"][0]["name"] == "poster"
    assert set(r["guard"]) >= {"periodic_bins_notched", "scale", "ssim_scale", "scaled_down_for"}
    assert r["optimiser"]["steps_run"] > 0
    json.dumps(r)  # JSON-able


def test_a_brief_measure_gives_the_same_pull_without_the_baseline(shaded, small_photo, models_dir) -> None:
    """What the command line prints (``measure="brief"``): colour SSIM, PSNR and the pull after the
    settings' platform, the same figures the full measure gives for the same run, and no baseline (the
    unshaded original's pass through the site costs an encoder pass the line never shows)."""
    brief = protect(small_photo, Settings(preset="fast", target="poster", seed=1), models_dir=models_dir,
                    measure="brief")  # fmt: skip
    assert np.array_equal(np.asarray(brief.image), np.asarray(shaded.image))
    assert brief.report["pull"] == {
        "taef2": {"none": {"pull": shaded.report["pull"]["taef2"]["none"]["pull"]}}
    }
    assert brief.report["quality"] == shaded.report["quality"]
    assert "visibility" not in brief.report and "transfer" not in brief.report


def test_same_seed_same_result(small_painting, models_dir) -> None:
    s = Settings(preset="fast", seed=7)
    a = protect(small_painting, s, models_dir=models_dir, measure=False).image
    b = protect(small_painting, s, models_dir=models_dir, measure=False).image
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_auto_target_is_a_restyle_of_the_artwork(small_painting, models_dir) -> None:
    r = protect(small_painting, Settings(preset="fast"), models_dir=models_dir, measure=False).report
    t = r["targets"][0]
    assert t["kind"] == "restyle" and t["name"] in {"poster", "texture", "sketch"}
    assert t["name"] == max(t["scores"], key=t["scores"].get) and set(t["scores"]) == {
        "poster",
        "texture",
        "sketch",
    }


def test_target_image(small_photo, small_painting, tmp_path, models_dir) -> None:
    path = tmp_path / "target.png"
    small_painting.save(path)
    r = protect(small_photo, Settings(preset="fast", target_image=path), models_dir=models_dir).report
    assert r["targets"][0]["kind"] == "image"
    assert r["pull"]["taef2"]["none"]["pull"] > 0.05


def test_progress_is_monotonic_and_ends_at_one(small_photo, models_dir) -> None:
    seen: list[tuple[float, str]] = []
    protect(small_photo, Settings(preset="fast"), models_dir=models_dir, measure=False,
            progress=lambda f, s: seen.append((f, s)))  # fmt: skip
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"loading", "target", "optimising", "done"} <= {s for _, s in seen}


def test_cancel_from_progress_callback(small_photo, models_dir) -> None:
    def cancel(fraction: float, stage: str) -> None:
        if stage == "optimising":
            raise Cancelled()

    with pytest.raises(Cancelled):
        protect(small_photo, Settings(preset="fast"), models_dir=models_dir, progress=cancel)


def test_platform_downscale_shades_at_kept_size_and_keeps_full_size(models_dir) -> None:
    big = Image.new("RGB", (1600, 1200))
    big.paste(Image.effect_mandelbrot((1600, 1200), (-2, -1.2, 1, 1.2), 60).convert("RGB"))
    r = protect(big, Settings(preset="fast", platform="instagram"), models_dir=models_dir, measure=False)
    assert r.image.size == (1600, 1200)
    assert r.report["working_size"] == [1080, 810]
    # the change is made at the size the site keeps, not a smaller copy upsampled
    assert r.report["optimiser"]["shade_size"] == [1080, 810]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff"])
def test_protect_bytes_keeps_format_metadata_and_alpha(fmt, small_photo, models_dir) -> None:
    img = small_photo.convert("RGBA") if fmt != "jpeg" else small_photo.copy()
    if fmt != "jpeg":
        alpha = Image.linear_gradient("L").resize(img.size)
        img.putalpha(alpha)
    exif = Image.Exif()
    exif[0x013B] = "An Artist"  # Artist
    buf = io.BytesIO()
    img.save(buf, fmt.upper(), exif=exif.tobytes())
    out = protect_bytes(buf.getvalue(), Settings(preset="fast"), models_dir=models_dir)
    assert out.format == fmt and out.media_type == f"image/{fmt}"
    with Image.open(io.BytesIO(out.data)) as got:
        assert got.format.lower() == fmt and got.size == img.size
        assert got.getexif().get(0x013B) == "An Artist"
        if fmt != "jpeg":
            assert np.array_equal(np.asarray(got.getchannel("A")), np.asarray(img.getchannel("A")))
        rgb = np.asarray(got.convert("RGB"), np.int16)
    assert np.abs(rgb - np.asarray(img.convert("RGB"), np.int16)).max() > 0, "it was shaded"


def test_protect_file_never_overwrites_input(tmp_path, small_photo, models_dir) -> None:
    src = tmp_path / "art.png"
    small_photo.save(src)
    before = src.read_bytes()
    with pytest.raises(OutputError):
        protect_file(src, src, Settings(preset="fast"), models_dir=models_dir)
    with pytest.raises(OutputError):
        protect_file(src, tmp_path / "sub" / ".." / "art.png", Settings(preset="fast"), models_dir=models_dir)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art.png"], "nothing half-written left behind"


def test_protect_file_writes_output_report_and_preview(tmp_path, small_photo, models_dir) -> None:
    src, dst = tmp_path / "art.png", tmp_path / "out" / "art.png"
    dst.parent.mkdir()
    small_photo.save(src)
    report = protect_file(src, dst, Settings(preset="fast", format="webp"), models_dir=models_dir,
                          report_path=tmp_path / "r.json", preview_path=tmp_path / "p.png",
                          compare_path=tmp_path / "c.png")  # fmt: skip
    assert report["output"]["format"] == "webp"
    with Image.open(dst) as im:
        assert im.format == "WEBP"
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["visibility"]["ssim_colour"] > 0.9
    assert set(saved["robustness"]["taef2"]) == {"jpeg75", "noise", "bilateral", "down_up"}, (
        "asked for a report"
    )
    with Image.open(tmp_path / "c.png") as crops:
        assert crops.size[0] > 2 * 64 and crops.size[1] > 2 * 64
    with Image.open(tmp_path / "p.png") as prev:
        assert prev.size[1] > 2 * 320, "two rows: images, then what the encoder sees; then the legend"
