"""CLIP judgements for cloak/poison targets: what the artwork shows, and which style is farthest from it.

One pass embeds the artwork and all the texts (concept labels and style prompts) and returns plain
numbers, so the result can be cached as JSON and CLIP need not be loaded again for the same image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from . import concepts


@torch.no_grad()
def _text_features(model: Any, processor: Any, texts: Sequence[str]) -> torch.Tensor:
    device = next(model.parameters()).device
    batch = processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
    out = model.get_text_features(
        input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
    )
    feats = out if isinstance(out, torch.Tensor) else out.pooler_output
    return torch.nn.functional.normalize(feats.float(), dim=-1)


@torch.no_grad()
def _image_features(model: Any, processor: Any, image: Image.Image) -> torch.Tensor:
    device = next(model.parameters()).device
    batch = processor(images=image.convert("RGB"), return_tensors="pt")
    pixels = batch["pixel_values"].to(device=device, dtype=next(model.parameters()).dtype)
    out = model.get_image_features(pixel_values=pixels)
    feats = out if isinstance(out, torch.Tensor) else out.pooler_output
    return torch.nn.functional.normalize(feats.float(), dim=-1)


@torch.no_grad()
def analyse(
    model: Any, processor: Any, image: Image.Image, vocabulary: Sequence[str], style_prompts: dict[str, str]
) -> dict[str, Any]:
    """Zero-shot concept probabilities (softmax over the vocabulary, CLIP's own logit scale) and the cosine
    similarity of the artwork to each style prompt."""
    img = _image_features(model, processor, image)
    labels = _text_features(model, processor, [concepts.prompt_for(c) for c in vocabulary])
    scale = float(model.logit_scale.exp().clamp(max=100))
    probs = torch.softmax(scale * img @ labels.T, dim=-1)[0]
    names = list(style_prompts)
    styles = _text_features(model, processor, [style_prompts[n] for n in names])
    sims = (img @ styles.T)[0]
    return {
        "concepts": {c: round(float(p), 6) for c, p in zip(vocabulary, probs, strict=True)},
        "styles": {n: round(float(s), 6) for n, s in zip(names, sims, strict=True)},
    }


@torch.no_grad()
def farthest_concept(model: Any, processor: Any, concept: str, vocabulary: Sequence[str]) -> dict[str, float]:
    """Cosine similarity between ``concept``'s label and each vocabulary label (the lowest is farthest)."""
    choices = [c for c in vocabulary if c != concept]
    feats = _text_features(model, processor, [concepts.prompt_for(c) for c in [concept, *choices]])
    sims = (feats[:1] @ feats[1:].T)[0]
    return {c: round(float(s), 6) for c, s in zip(choices, sims, strict=True)}
