"""Cloak / poison targets end to end with tiny random-weight Stable Diffusion and CLIP models, loaded from
a models folder through the same code users hit.  Random weights make meaningless pictures; what is checked
is the plumbing: choices, report facts, caching, missing-model messages, fallback and the engine hook-up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from artshade.shading.errors import Cancelled, ModelError
from artshade.shading.settings import Settings
from artshade.shading.targets import TargetRequest, make_targets, maker_for
from artshade.shading.targets import concepts as concept_catalogue
from artshade.shading.targets import styles as style_catalogue
from artshade.shading.targets.diffusion import (
    make_cloak_poison_targets,
    make_cloak_targets,
    make_poison_targets,
)
from artshade.shading.targets.diffusion_cache import cache_root
from PIL import Image

FAST = {"cloak_steps": 2, "anchor_steps": 2}  # img2img runs int(2 * 0.55) = 1 step


@pytest.fixture(autouse=True)
def _few_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random weights make no better pictures with more steps: two each keep these tests quick."""
    from artshade.shading.targets import diffusion

    for name, value in FAST.items():
        monkeypatch.setitem(diffusion.DEFAULTS, name, value)


def artwork(seed: int = 0, size: tuple[int, int] = (64, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    noise = rng.integers(0, 64, (size[1], size[0], 3))
    return Image.fromarray(((base + noise) % 256).astype(np.uint8), "RGB")


def request(
    models: Path, mode: str, image: Image.Image | None = None, progress: Any = None, **settings: Any
) -> TargetRequest:
    return TargetRequest(
        image=image or artwork(),
        settings=Settings(mode=mode, **settings),
        models_dir=models,
        device=torch.device("cpu"),
        progress=progress,
    )


def key_of(t: Any) -> str:
    return str(t.info["cache_key"] if t.kind == "style" else t.info["anchor"]["cache_key"])


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


# ------------------------------------------------------------------------------------------- the modes


def test_cloak_renders_the_artwork_in_the_farthest_style(tiny_models: Path, calls: Counter[str]) -> None:
    art = artwork()
    seen: list[tuple[float, str]] = []
    [target] = make_cloak_targets(
        request(tiny_models, "cloak", art, progress=lambda f, s: seen.append((f, s)))
    )

    assert target.kind == "style" and target.weight == 1.0
    assert target.image.mode == "RGB" and target.image.size == (64, 64)
    assert np.abs(pixels(target.image) - pixels(art)).mean() > 1  # re-rendered, not a copy
    info = target.info
    assert info["mode"] == "cloak"
    assert info["style"] in style_catalogue.STYLES
    assert info["style_prompt"] == style_catalogue.STYLES[info["style"]].prompt
    assert info["style_chosen_by"] == "farthest from the artwork (CLIP)"
    assert info["style"] != info["closest_style"]
    assert info["model"]["name"] == "sd15" and info["clip_model"]["name"] == "clip"
    assert info["from_cache"] is False and info["clip_from_cache"] is False
    assert (info["seed"], info["strength"]) == (0, 0.55)
    json.dumps(info)  # goes into the JSON report as is
    assert calls == Counter(load_clip=1, load_pipeline=1, img2img=1)
    # progress: within [0, 1], never backwards, ends at 1
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)
    assert any("cloak in" in s for _, s in seen)


def test_farthest_style_is_the_least_similar_one(tiny_models: Path) -> None:
    [target] = make_cloak_targets(request(tiny_models, "cloak"))
    analysis = json.loads(next(cache_root().glob("clip-*.json")).read_text())
    sims = analysis["styles"]
    assert set(sims) == set(style_catalogue.STYLES)
    assert sims[target.info["style"]] == min(sims.values()) == target.info["style_similarity"]


def test_poison_detects_the_concept_and_pulls_toward_its_default_target(
    tiny_models: Path, calls: Counter[str]
) -> None:
    [target] = make_poison_targets(request(tiny_models, "poison"))

    info = target.info
    assert target.kind == "concept" and target.weight == 1.0 and target.image.mode == "RGB"
    assert info["mode"] == "poison"
    assert info["concept"] in concept_catalogue.VOCABULARY
    assert info["concept_detected_by"] == "CLIP zero-shot"
    assert 0 < info["concept_score"] <= 1
    assert info["concept_score"] == max(info["concept_top3"].values())
    assert info["poison_target"] == concept_catalogue.DEFAULT_TARGETS[info["concept"]]
    assert info["poison_target_chosen_by"] == "default mapping"
    assert info["prompt"] == concept_catalogue.prompt_for(info["poison_target"])
    assert info["anchor"]["seed"] == 0 and info["anchor"]["cache_key"].startswith("anchor-")
    assert info["anchor"]["from_cache"] is False
    json.dumps(info)
    assert calls == Counter(load_clip=1, load_pipeline=1, text2img=1)


def test_cloak_poison_gives_both_targets_weighted_half_and_half(
    tiny_models: Path, calls: Counter[str]
) -> None:
    targets = make_cloak_poison_targets(request(tiny_models, "cloak+poison"))

    assert [t.kind for t in targets] == ["style", "concept"]
    assert [t.weight for t in targets] == [0.5, 0.5]
    assert all(t.info["mode"] == "cloak+poison" for t in targets)
    # one CLIP pass and one pipeline load serve both targets
    assert calls == Counter(load_clip=1, load_pipeline=1, img2img=1, text2img=1)


def test_given_style_concept_and_poison_target_are_used(
    tiny_models: Path, calls: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from artshade.shading.targets import diffusion

    monkeypatch.setitem(diffusion.DEFAULTS, "anchors", 2)
    monkeypatch.setitem(diffusion.DEFAULTS, "cloak_weight", 0.6)
    cloak, *anchors = make_cloak_poison_targets(
        request(tiny_models, "cloak+poison", style="Pixel Art", concept="Dog", poison_target="dog=horse")
    )

    assert cloak.info["style"] == "pixel art" and cloak.info["style_chosen_by"] == "given (catalogue name)"
    assert cloak.info["style_prompt"] == style_catalogue.STYLES["pixel art"].prompt
    assert [a.info["anchor"]["seed"] for a in anchors] == [0, 1]
    assert all(a.info["concept"] == "dog" and a.info["concept_score"] == "given" for a in anchors)
    assert all(
        a.info["poison_target"] == "horse" and a.info["poison_target_chosen_by"] == "given mapping"
        for a in anchors
    )
    assert cloak.weight == pytest.approx(0.6) and [a.weight for a in anchors] == pytest.approx([0.2, 0.2])
    assert not np.array_equal(pixels(anchors[0].image), pixels(anchors[1].image))  # two seeds, two anchors
    assert calls["load_clip"] == 0  # nothing needed CLIP

    [verbatim] = make_cloak_targets(request(tiny_models, "cloak", style="felt-tip doodle on a napkin"))
    assert verbatim.info["style_prompt"] == "felt-tip doodle on a napkin"
    assert verbatim.info["style_chosen_by"] == "given (verbatim prompt)"


def test_unmapped_concept_goes_to_the_farthest_vocabulary_concept(tiny_models: Path) -> None:
    [target] = make_poison_targets(request(tiny_models, "poison", concept="fantasy knight"))
    assert target.info["poison_target"] in concept_catalogue.VOCABULARY
    assert target.info["poison_target_chosen_by"] == "farthest concept (CLIP text)"
    sims = json.loads(next(cache_root().glob("far-*.json")).read_text())
    assert sims[target.info["poison_target"]] == min(sims.values())


# ------------------------------------------------------------------------------------------- caching


def test_same_image_again_runs_no_model(tiny_models: Path, calls: Counter[str]) -> None:
    art = artwork(1)
    first = make_cloak_poison_targets(request(tiny_models, "cloak+poison", art))
    calls.clear()
    second = make_cloak_poison_targets(request(tiny_models, "cloak+poison", art.copy()))

    assert calls == Counter()  # no CLIP, no pipeline load, no pipeline run
    assert all(t.info["from_cache"] for t in second) and all(t.info["clip_from_cache"] for t in second)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(pixels(a.image), pixels(b.image))
        assert key_of(a) == key_of(b)
    assert sorted(p.suffix for p in cache_root().iterdir() if not p.name.startswith(".")) == [
        ".json",
        ".json",
        ".json",
        ".png",
        ".png",
    ]  # analysis + (png, json) per target; no temp files left


def test_another_image_of_the_same_concept_reuses_the_anchor(tiny_models: Path, calls: Counter[str]) -> None:
    make_poison_targets(request(tiny_models, "poison", artwork(2), concept="dog"))
    assert calls["text2img"] == 1
    calls.clear()
    [t] = make_poison_targets(request(tiny_models, "poison", artwork(3, (70, 64)), concept="dog"))
    assert calls == Counter() and t.info["anchor"]["from_cache"]
    # a cloak of a new image must run img2img again (it depends on the image)
    make_cloak_targets(request(tiny_models, "cloak", artwork(3), style="pixel art"))
    assert calls["img2img"] == 1


def test_a_changed_model_or_seed_is_a_different_cache_entry(
    tiny_models: Path, tmp_path: Path, calls: Counter[str]
) -> None:
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_models / "sd15", models / "sd15")
    req = request(models, "poison", concept="cat")
    make_poison_targets(req)
    make_poison_targets(request(models, "poison", concept="cat", seed=7))
    assert calls["text2img"] == 2
    cfg = models / "sd15" / "scheduler" / "scheduler_config.json"
    cfg.write_text(cfg.read_text().replace('"beta_end": 0.012', '"beta_end": 0.013'))
    make_poison_targets(req)
    assert calls["text2img"] == 3


def test_a_damaged_cache_entry_is_made_again(tiny_models: Path, calls: Counter[str]) -> None:
    make_poison_targets(request(tiny_models, "poison", concept="cat"))
    png = next(cache_root().glob("anchor-*.png"))
    png.write_bytes(png.read_bytes()[:40])
    [t] = make_poison_targets(request(tiny_models, "poison", concept="cat"))
    assert calls["text2img"] == 2 and not t.info["from_cache"]
    with Image.open(png) as again:
        again.load()


def test_cancel_from_progress_stops_and_caches_nothing(tiny_models: Path) -> None:
    def cancel(fraction: float, stage: str) -> None:
        if "anchor" in stage:
            raise Cancelled()

    with pytest.raises(Cancelled):
        make_poison_targets(request(tiny_models, "poison", concept="cat", progress=cancel))
    assert not list(cache_root().glob("anchor-*"))


# ------------------------------------------------------------------------------------------- missing models


def one_line(err: pytest.ExceptionInfo[ModelError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_diffusion_weights_name_the_model_and_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        make_cloak_targets(request(tmp_path, "cloak"))
    assert "'sd15'" in one_line(err) and "`artshade models fetch sd15`" in one_line(err)


def test_missing_clip_names_clip(tiny_models: Path, tmp_path: Path) -> None:
    (tmp_path / "sd15").symlink_to(tiny_models / "sd15")
    with pytest.raises(ModelError) as err:
        make_poison_targets(request(tmp_path, "poison"))
    assert "`artshade models fetch clip`" in one_line(err)


def test_configured_model_is_the_one_required(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTSHADE_DIFFUSION_MODEL", "sd21")
    with pytest.raises(ModelError) as err:
        make_cloak_targets(request(tiny_models, "cloak"))
    assert "`artshade models fetch sd21`" in one_line(err)
    monkeypatch.setenv("ARTSHADE_DIFFUSION_MODEL", "clip")
    with pytest.raises(ModelError) as err:
        make_cloak_targets(request(tiny_models, "cloak"))
    assert "sd15, sd21 or sdxl" in one_line(err)


def test_sdxl_makes_both_targets(tiny_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline

    runs: list[str] = []
    for cls in (StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline):
        monkeypatch.setattr(
            cls,
            "__call__",
            lambda self, *a, _f=cls.__call__, _n=cls.__name__, **k: runs.append(_n) or _f(self, *a, **k),
        )
    monkeypatch.setenv("ARTSHADE_DIFFUSION_MODEL", "sdxl")
    targets = make_cloak_poison_targets(
        request(tiny_models, "cloak+poison", style="pixel art", concept="dog")
    )

    assert [t.kind for t in targets] == ["style", "concept"]
    assert all(t.info["model"]["name"] == "sdxl" and t.info["model"]["family"] == "sdxl" for t in targets)
    assert sorted(runs) == ["StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLPipeline"]
    assert all(t.image.size == (64, 64) and pixels(t.image).std() > 0 for t in targets)


def test_a_model_folder_can_be_named_directly(
    tiny_models: Path, tmp_path: Path, calls: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTSHADE_DIFFUSION_MODEL", str(tiny_models / "sd15"))
    monkeypatch.setenv("ARTSHADE_CLIP_MODEL", str(tiny_models / "clip"))
    [t] = make_cloak_targets(request(tmp_path, "cloak"))
    assert t.info["model"]["source"] == str(tiny_models / "sd15") and calls["img2img"] == 1


def test_fallback_guard_uses_builtin_targets_and_says_why(tmp_path: Path) -> None:
    for mode in ("cloak", "poison", "cloak+poison"):
        targets = make_targets(request(tmp_path, mode, fallback="guard"))
        builtin = maker_for("guard")(request(tmp_path, "guard"))
        assert [t.kind for t in targets] == [t.kind for t in builtin] and builtin
        assert all(
            np.array_equal(pixels(a.image), pixels(b.image)) for a, b in zip(targets, builtin, strict=True)
        )
        assert all(t.info["fallback_from"] == mode for t in targets)
        assert all("artshade models fetch sd15" in t.info["fallback_reason"] for t in targets)
    with pytest.raises(ModelError):
        make_targets(request(tmp_path, "cloak"))  # fallback "none" (the default): fail closed


# ----------------------------------------------------------------------------------------- through the engine


@pytest.fixture
def short_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check the hook-up, not the optimiser: cut the fast preset to two steps."""
    import dataclasses

    from artshade.shading import optimize

    monkeypatch.setitem(optimize.SCHEDULES, "fast", dataclasses.replace(optimize.SCHEDULES["fast"], steps=2))


@pytest.mark.parametrize(
    "mode,kinds", [("cloak", ["style"]), ("poison", ["concept"]), ("cloak+poison", ["style", "concept"])]
)
def test_engine_protects_with_diffusion_targets(
    tiny_models: Path, calls: Counter[str], short_engine: None, mode: str, kinds: list[str]
) -> None:
    from artshade import shading

    art = artwork(5)
    settings = Settings(mode=mode, preset="fast", concept="cat")
    result = shading.protect(art, settings, models_dir=tiny_models, measure=False)

    assert result.image.size == art.size and result.image.mode == "RGB"
    assert not np.array_equal(pixels(result.image), pixels(art))
    report = result.report
    assert [t["kind"] for t in report["targets"]] == kinds
    assert all(t["mode"] == mode and t["model"]["name"] == "sd15" for t in report["targets"])
    json.dumps(report)
    assert calls["load_pipeline"] == 1 and not any(t["from_cache"] for t in report["targets"])


def test_engine_falls_back_to_builtin_targets_when_asked(
    tiny_models: Path, tmp_path: Path, short_engine: None
) -> None:
    from artshade import shading

    for weights in tiny_models.glob("taef2_*.pth"):  # the encoder, but no diffusion model
        (tmp_path / weights.name).symlink_to(weights.resolve())
    result = shading.protect(
        artwork(6),
        Settings(mode="poison", preset="fast", fallback="guard"),
        models_dir=tmp_path,
        measure=False,
    )
    [target] = result.report["targets"]
    assert target["kind"] not in ("style", "concept") and target["fallback_from"] == "poison"
    assert "artshade models fetch sd15" in target["fallback_reason"]
    with pytest.raises(ModelError, match="artshade models fetch sd15"):
        shading.protect(
            artwork(6), Settings(mode="poison", preset="fast"), models_dir=tmp_path, measure=False
        )


# ------------------------------------------------------------------------------------- where models come from


def test_models_in_the_hub_cache_are_used_without_a_download(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Artists who already used diffusers have the weights in the hub's cache; they load from there."""
    import shutil

    import huggingface_hub.constants
    from artshade.shading import models

    hub, revision = tmp_path / "hub", "0123456789abcdef0123456789abcdef01234567"
    for name in ("sd15", "clip"):
        repo = hub / ("models--" + models.CATALOGUE[name].hub_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(revision)
        shutil.copytree(tiny_models / name, repo / "snapshots" / revision)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    empty = tmp_path / "models"
    empty.mkdir()

    [target] = make_poison_targets(request(empty, "poison"))
    assert target.info["model"]["source"] == models.CATALOGUE["sd15"].hub_id
    assert target.info["clip_model"]["source"] == models.CATALOGUE["clip"].hub_id


def test_fp16_only_weights_load_on_a_cpu(
    tiny_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPU-oriented downloads hold only ``*.fp16.safetensors``; on a CPU they are upcast to fp32."""
    from artshade.shading.targets import diffusion_models as dm
    from diffusers import StableDiffusionPipeline

    loaded: list[Any] = []
    real_load = dm.load_text2img
    monkeypatch.setattr(dm, "load_text2img", lambda *a: loaded.append(real_load(*a)) or loaded[-1])

    pipe = StableDiffusionPipeline.from_pretrained(tiny_models / "sd15", local_files_only=True)
    pipe.to(torch.float16).save_pretrained(tmp_path / "sd15", variant="fp16")
    assert not list((tmp_path / "sd15" / "unet").glob("diffusion_pytorch_model.safetensors"))

    [target] = make_cloak_targets(request(tmp_path, "cloak", style="pixel art"))
    assert pixels(target.image).std() > 0  # a real picture, not NaNs turned black
    assert loaded[0].unet.dtype == torch.float32 and loaded[0].text_encoder.dtype == torch.float32


def test_bad_poison_target_fails_before_any_model_loads(tmp_path: Path) -> None:
    from artshade.shading.errors import SettingsError

    with pytest.raises(SettingsError):  # not a ModelError: the empty models folder is never looked at
        make_poison_targets(request(tmp_path, "poison", poison_target="dog="))
