"""Tiny random-weight Stable Diffusion and CLIP models, saved the way users install the real ones.

``tiny_models`` is a models folder laid out as ``shading.models.locate`` expects (``sd15/`` and ``sdxl/``
holding saved diffusers pipelines, ``clip/`` a saved transformers CLIP model + processor), plus links to
the real tiny autoencoder weights so the engine can shade with it.  Everything is built here from configs
in about a second; nothing is downloaded.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch

_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789,.-'"


def _tokenizer(folder: Path) -> Any:
    """A CLIP BPE tokenizer over single characters (plus a few merges), from files written here."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _CHARS:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    merges = ["a t</w>", "t h", "th e</w>"]
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def build_tiny_models(root: Path) -> None:
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTextModel,
    )

    torch.manual_seed(0)
    tok = _tokenizer(root / "_tokenizer")
    text = dict(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(tok),
        max_position_embeddings=77,
    )
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=32,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(**text)),
        tokenizer=tok,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(root / "sd15")

    _build_tiny_sdxl(root / "sdxl", tok, text)

    vision = dict(
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=32,
        patch_size=8,
    )
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    clip.save_pretrained(root / "clip")
    CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(root / "clip")


def _build_tiny_sdxl(folder: Path, tok: Any, text: dict[str, Any]) -> None:
    """SDXL: two text encoders (the second with a projection) and a UNet with size/crop conditioning."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(**text)),
        tokenizer=tok,
        tokenizer_2=tok,
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text, projection_dim=32)),
        unet=unet,
        scheduler=scheduler,
    ).save_pretrained(folder)


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> Any:
    """Tiny models run fastest on one thread; several threads on a shared 2-core box spin-wait for ages."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("tiny-models")
    build_tiny_models(root)
    for weights in models_dir.glob("taef2_*.pth"):  # the engine's encoder: real weights, linked not copied
        (root / weights.name).symlink_to(weights)
    return root


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts diffusion pipeline runs (text2img / img2img), pipeline loads and CLIP loads."""
    from artshade.shading.targets import diffusion_models as dm
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    counts: Counter[str] = Counter()

    def counting(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        StableDiffusionPipeline, "__call__", counting("text2img", StableDiffusionPipeline.__call__)
    )
    monkeypatch.setattr(
        StableDiffusionImg2ImgPipeline,
        "__call__",
        counting("img2img", StableDiffusionImg2ImgPipeline.__call__),
    )
    monkeypatch.setattr(dm, "load_text2img", counting("load_pipeline", dm.load_text2img))
    monkeypatch.setattr(dm, "load_clip", counting("load_clip", dm.load_clip))
    return counts
