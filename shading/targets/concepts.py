"""Concepts for ``--mode poison``: what CLIP may detect, and which concept each is poisoned toward.

The image's concept is the vocabulary word CLIP scores highest for "a photo of a {concept}" (or
``--concept`` given verbatim).  Its poison target comes from, in order: ``--poison-target``, the default
mapping below, else the vocabulary concept whose CLIP text embedding is farthest from it.

``--poison-target`` is either one concept (``cat``: whatever the image shows is poisoned toward cats) or a
mapping override (``dog=cat,car=cow``: those concepts go where named, the rest follow the defaults), so a
watch folder that sees many subjects can carry one setting.
"""

from __future__ import annotations

from ..errors import SettingsError

VOCABULARY: tuple[str, ...] = (
    "dog", "cat", "car", "cow", "hat", "handbag", "person", "landscape", "building", "bird", "horse",
    "fish", "flower", "tree", "boat", "airplane", "bicycle", "house", "castle", "dragon", "robot", "cake",
    "toaster", "chair", "mountain", "beach", "city", "forest", "portrait", "sword", "fox", "owl", "shoe",
    "teapot", "guitar", "clock", "train", "butterfly", "skull", "spaceship",
)  # fmt: skip

#: default poison direction: each concept toward one that looks and means something else
DEFAULT_TARGETS: dict[str, str] = {
    "dog": "cat", "cat": "dog", "car": "cow", "cow": "car", "hat": "cake", "cake": "hat",
    "handbag": "toaster", "toaster": "handbag", "person": "teapot", "portrait": "clock",
    "landscape": "robot", "building": "butterfly", "bird": "train", "horse": "guitar", "fish": "bicycle",
    "flower": "skull", "tree": "shoe", "boat": "owl", "airplane": "teapot", "bicycle": "fish",
    "house": "fox", "castle": "handbag", "dragon": "chair", "robot": "flower", "chair": "dragon",
    "mountain": "cake", "beach": "spaceship", "city": "forest", "forest": "city", "sword": "butterfly",
    "fox": "house", "owl": "boat", "shoe": "tree", "teapot": "person", "guitar": "horse", "clock": "portrait",
    "train": "bird", "butterfly": "sword", "skull": "flower", "spaceship": "beach",
}  # fmt: skip


#: what anchor images should not be
ANCHOR_NEGATIVE = "blurry, low quality, watermark, text, signature, drawing"


def clean(word: str) -> str:
    return " ".join(word.split()).lower()


def prompt_for(concept: str) -> str:
    """The text-to-image prompt for an anchor (and the CLIP zero-shot label)."""
    article = "an" if concept[:1].lower() in "aeiou" else "a"
    return f"a photo of {article} {concept}"


def parse_override(text: str | None) -> tuple[str | None, dict[str, str]]:
    """``--poison-target`` -> (one target for every concept, or None; per-concept overrides)."""
    if not text or not text.strip():
        return None, {}
    if "=" not in text:
        return clean(text), {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        src, sep, dst = part.partition("=")
        if not sep or not clean(src) or not clean(dst):
            raise SettingsError(f"poison_target must be a concept or 'dog=cat,car=cow'; got {text!r}")
        mapping[clean(src)] = clean(dst)
    return None, mapping


def default_target(concept: str) -> str | None:
    return DEFAULT_TARGETS.get(clean(concept))


assert set(DEFAULT_TARGETS) == set(VOCABULARY), "every vocabulary concept needs a default poison target"
assert all(DEFAULT_TARGETS[c] != c for c in DEFAULT_TARGETS)
