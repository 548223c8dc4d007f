"""`artshade check`: the posted picture lined up with the original, what the site did, the pull left."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from artshade.shading import check as chk
from artshade.shading.errors import NotSameArtworkError, TargetMismatchError
from artshade.shading.transforms.platform import _SUBSAMPLING, PROFILES
from PIL import Image

from artshade.cli import main


def jpeg(img: Image.Image, quality: int, subsampling: str = "4:2:0") -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, subsampling=_SUBSAMPLING[subsampling])
    return buf.getvalue()


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# -- what the site did, without any model --------------------------------------------------------------------


@pytest.mark.parametrize("quality", [30, 50, 70, 75, 85, 92, 97])
def test_jpeg_quality_is_read_from_the_quantisation_tables(make_scene, quality: int) -> None:
    data = jpeg(make_scene(96, 64, seed=1), quality)
    assert chk.jpeg_quality(opened(data)) == quality


def test_subsampling_and_lossless_files(make_scene) -> None:
    art = make_scene(96, 64, seed=1)
    assert chk.jpeg_subsampling(opened(jpeg(art, 80, "4:4:4"))) == "4:4:4"
    assert chk.jpeg_subsampling(opened(jpeg(art, 80, "4:2:0"))) == "4:2:0"
    buf = io.BytesIO()
    art.save(buf, "PNG")
    assert chk.jpeg_quality(opened(buf.getvalue())) is None


@pytest.mark.parametrize(
    ("quality", "scale", "original", "expected"),
    [
        (75, 1080 / 2000, (2000, 1500), "instagram"),  # shrunk to 1080 px and JPEG 70-80
        (85, 1.0, (2000, 1500), "x"),  # kept its size, JPEG 85
        (89, 1920 / 2400, (2400, 1600), "artstation"),  # shrunk to 1920 px, JPEG 85-92
        (None, 1.0, (800, 600), "none"),  # neither resized nor re-encoded
        (75, 1.0, (800, 600), "instagram"),  # small enough that Instagram keeps its size
    ],
)
def test_the_profile_that_fits(quality, scale, original, expected) -> None:
    name, costs = chk.best_profile(quality, None if quality is None else "4:2:0", scale, original)
    assert name == expected, costs


@pytest.mark.parametrize(
    ("crop", "size"),
    [
        (None, None),  # the whole picture, as saved
        (None, (320, 240)),  # the site shrank it
        ((40, 24, 600, 456), None),  # the artist or the site cropped it
        ((40, 24, 600, 456), (400, 309)),  # cropped, then shrunk
        ((0, 60, 640, 420), (512, 288)),  # cut to 16:9, then shrunk
    ],
)
def test_alignment_finds_the_resize_and_the_crop(make_scene, crop, size) -> None:
    original = make_scene(640, 480, seed=3, brushwork=True)
    posted = original.crop(crop) if crop else original
    if size:
        posted = posted.resize(size, Image.Resampling.LANCZOS)
    posted = opened(jpeg(posted, 75)).convert("RGB")
    placed = chk.align(original, posted)
    box = crop or (0, 0, 640, 480)
    assert placed.cropped == (crop is not None)
    assert all(abs(a - b) <= 3 for a, b in zip(placed.box, box, strict=True)), placed
    assert placed.scale == pytest.approx(posted.size[0] / (box[2] - box[0]), rel=0.02)
    assert placed.similarity > 0.9


def test_a_flat_grain_free_picture_still_lines_up() -> None:
    """Smooth digital art has almost no fine detail (what there is after a site is JPEG noise): the layout
    alone must decide."""
    import numpy as np
    from PIL import ImageFilter

    grid = np.random.default_rng(4).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    art = (
        Image.fromarray(grid)
        .resize((480, 360), Image.Resampling.BICUBIC)
        .filter(ImageFilter.GaussianBlur(12))
    )
    posted = opened(jpeg(art.crop((20, 10, 460, 350)).resize((330, 255), Image.Resampling.LANCZOS), 70))
    placed = chk.align(art, posted.convert("RGB"))
    assert placed.cropped and abs(placed.box[0] - 20) <= 3 and abs(placed.box[1] - 10) <= 3, placed


def test_an_unrelated_picture_is_not_the_same_artwork(make_scene) -> None:
    """Even one of the same layout (the same landscape, other grass and brushwork)."""
    art, other = make_scene(640, 480, seed=3, brushwork=True), make_scene(480, 360, seed=11, brushwork=True)
    assert chk.align(art, opened(jpeg(art.resize((240, 180)), 40)).convert("RGB")).detail > 0.8
    with pytest.raises(NotSameArtworkError, match="not the same artwork"):
        chk.align(art, opened(jpeg(other, 75)).convert("RGB"))


def test_dhash_survives_the_site_but_not_another_picture(make_scene) -> None:
    art = make_scene(640, 480, seed=3, brushwork=True)
    other = art.transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # another picture with the same colours
    posted = opened(jpeg(art.resize((320, 240)), 70))
    assert chk.hash_distance(chk.dhash(art), chk.dhash(posted)) <= 6
    assert chk.hash_distance(chk.dhash(art), chk.dhash(other)) > 12


# -- the whole check, with the real encoder ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shaded(eval_images: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real artwork (448 px) protected for Instagram with the fast preset, through the engine's entry point
    (``protect_file`` would also measure robustness, minutes on a CPU): the files, and the report as
    `artshade protect --report` writes it, with where the original and the protected file are."""
    from artshade.shading.api import protect
    from artshade.shading.settings import Settings

    folder = tmp_path_factory.mktemp("shaded")
    original = Image.open(eval_images / "artworks" / "vangogh_starry_night.jpg").convert("RGB")
    original.thumbnail((448, 448))
    original.save(folder / "art.png")
    result = protect(original, Settings(preset="fast", platform="instagram"), models_dir=models_dir)
    result.image.save(folder / "art.protected.png")
    result.report["input"]["path"] = str(folder / "art.png")
    result.report["output"] = {"path": str(folder / "art.protected.png"), "format": "png"}
    (folder / "art.json").write_text(json.dumps(result.report))
    report = json.loads((folder / "art.json").read_text())
    assert report["targets"][0]["digest"].startswith("sha256:")
    protected = Image.open(folder / "art.protected.png").convert("RGB")
    return {"folder": folder, "original": original, "protected": protected, "report": report,
            "models": models_dir}  # fmt: skip


def posted_by(profile: str, img: Image.Image, crop: tuple[int, int, int, int] | None = None) -> bytes:
    """What a site with ``profile`` serves: its resize and JPEG (quality, subsampling), after a crop."""
    prof = PROFILES[profile]
    if crop is not None:
        img = img.crop(crop)
    size = prof.kept_size(*img.size)
    if size != img.size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    if prof.typical_quality is None:
        buf = io.BytesIO()
        img.save(buf, "PNG")
        return buf.getvalue()
    return jpeg(img, prof.typical_quality, prof.subsampling)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profile", "crop"),
    [(name, None) for name in PROFILES] + [("instagram", (24, 16, 424, 264))],
)
def test_protection_through_each_profile_is_found_with_the_right_profile(shaded, profile, crop) -> None:
    data = posted_by(profile, shaded["protected"], crop)
    result = chk.check(data, shaded["original"], shaded["report"], protected=shaded["protected"],
                       models_dir=shaded["models"])  # fmt: skip
    assert result["protection_found"], result
    assert result["kept"] >= 0.6, result
    assert result["site"]["profile"] == profile, result["site"]
    assert result["alignment"]["cropped"] == (crop is not None)
    assert result["summary"].startswith("kept "), result["summary"]
    assert result["ssim"] > 0.8


@pytest.mark.slow
def test_the_report_alone_is_enough(shaded) -> None:
    """Without the protected file, the pull as saved comes from the report."""
    result = chk.check(posted_by("x", shaded["protected"]), shaded["original"], shaded["report"],
                       models_dir=shaded["models"])  # fmt: skip
    assert result["protection_found"] and result["kept"] >= 0.6, result
    assert result["pull"]["taef2"]["as_saved"] == shaded["report"]["pull"]["taef2"]["none"]["pull"]


@pytest.mark.slow
def test_without_a_report_the_default_target_is_assumed(shaded) -> None:
    """`artshade check POSTED --original ORIGINAL`: protect's default target (auto, seed 0) is rebuilt."""
    found = chk.check(posted_by("instagram", shaded["protected"]), shaded["original"], None,
                      models_dir=shaded["models"])  # fmt: skip
    assert found["protection_found"] and found["kept"] is None, found
    assert found["target"] == {"known": False, "assumed": shaded["report"]["targets"][0]["name"], "seed": 0}
    plain = chk.check(posted_by("instagram", shaded["original"]), shaded["original"], None,
                      models_dir=shaded["models"])  # fmt: skip
    assert not plain["protection_found"], plain


@pytest.mark.slow
@pytest.mark.parametrize("with_protected", [True, False])
def test_the_original_posted_is_no_protection(shaded, with_protected) -> None:
    result = chk.check(posted_by("instagram", shaded["original"]), shaded["original"], shaded["report"],
                       protected=shaded["protected"] if with_protected else None,
                       models_dir=shaded["models"])  # fmt: skip
    assert not result["protection_found"], result
    assert result["summary"].startswith("no protection found")


@pytest.mark.slow
def test_a_target_that_rebuilds_differently_is_refused(shaded) -> None:
    report = json.loads(json.dumps(shaded["report"]))
    report["targets"][0]["digest"] = "sha256:" + "0" * 64
    with pytest.raises(TargetMismatchError, match="not the one the protection used"):
        chk.check(
            posted_by("x", shaded["protected"]), shaded["original"], report, models_dir=shaded["models"]
        )
    del report["targets"][0]["digest"]
    with pytest.raises(TargetMismatchError, match="does not record"):
        chk.check(
            posted_by("x", shaded["protected"]), shaded["original"], report, models_dir=shaded["models"]
        )


# -- the command --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_check_json_and_words(shaded, tmp_path: Path, capsys) -> None:
    posted = tmp_path / "from-the-site.jpg"
    posted.write_bytes(posted_by("instagram", shaded["protected"]))
    report = str(shaded["folder"] / "art.json")
    assert main(["check", str(posted), "--report", report, "--models", str(shaded["models"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protection_found"] and result["site"]["profile"] == "instagram"
    assert main(["check", str(posted), "--report", report, "--models", str(shaded["models"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("kept ") and "JPEG quality ≈ 75" in out[0], out


@pytest.mark.slow
def test_cli_unrelated_picture_is_one_line_rc_2(shaded, eval_images: Path, tmp_path: Path, capsys) -> None:
    other = Image.open(eval_images / "artworks" / "munch_the_scream.jpg").convert("RGB")
    other.thumbnail((448, 448))
    posted = tmp_path / "other.jpg"
    posted.write_bytes(jpeg(other, 75))
    code = main(["check", str(posted), "--report", str(shaded["folder"] / "art.json"), "--models",
                 str(shaded["models"])])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "not the same artwork" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"hello, not a picture", "not an image"),
        (None, "damaged or incomplete"),  # a JPEG cut short
        (b"", "empty"),
    ],
)
def test_cli_bad_posted_file_is_one_line_rc_2(make_scene, content, needle, tmp_path: Path, capsys) -> None:
    art = make_scene(320, 240, seed=3, brushwork=True)
    art.save(tmp_path / "art.png")
    target = {"kind": "restyle", "name": "poster", "seed": 0, "digest": "sha256:x"}
    report = {"input": {"path": str(tmp_path / "art.png"), "width": 320, "height": 240}, "targets": [target]}
    (tmp_path / "r.json").write_text(json.dumps(report))
    data = jpeg(art, 80)[:2000] if content is None else content
    (tmp_path / "posted.jpg").write_bytes(data)
    code = main(["check", str(tmp_path / "posted.jpg"), "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err.lower() and len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("report_text", "needle"),
    [("{not json", "not a JSON report"), ('{"a": 1}', "not a report written by"), (None, "report not found")],
)
def test_cli_bad_report_is_one_line_rc_2(make_scene, report_text, needle, tmp_path: Path, capsys) -> None:
    make_scene(320, 240, seed=3).save(tmp_path / "posted.png")
    if report_text is not None:
        (tmp_path / "r.json").write_text(report_text)
    code = main(["check", str(tmp_path / "posted.png"), "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err
