"""The style and concept catalogues, and the small pure helpers of the diffusion targets (no models)."""

from __future__ import annotations

import pytest
from artshade.shading.errors import SettingsError
from artshade.shading.targets import concepts, styles
from artshade.shading.targets.diffusion import ASPECTS, DEFAULTS, Params, generation_size, nearest_aspect


def test_every_concept_has_a_different_default_target_in_the_vocabulary() -> None:
    assert set(concepts.DEFAULT_TARGETS) == set(concepts.VOCABULARY)
    for src, dst in concepts.DEFAULT_TARGETS.items():
        assert dst != src and dst in concepts.VOCABULARY
    assert concepts.DEFAULT_TARGETS["dog"] == "cat" and concepts.DEFAULT_TARGETS["car"] == "cow"


@pytest.mark.parametrize("text,expected", [
    (None, (None, {})),
    ("  ", (None, {})),
    ("Cat", ("cat", {})),
    ("dog=horse, car = cow", (None, {"dog": "horse", "car": "cow"})),
])  # fmt: skip
def test_poison_target_parses_one_concept_or_a_mapping(text: str | None, expected: object) -> None:
    assert concepts.parse_override(text) == expected


@pytest.mark.parametrize("text", ["dog=", "=cat", "dog=cat,horse"])
def test_bad_poison_target_is_one_clear_line(text: str) -> None:
    with pytest.raises(SettingsError, match="dog=cat,car=cow"):
        concepts.parse_override(text)


def test_prompts_read_as_english() -> None:
    assert concepts.prompt_for("cat") == "a photo of a cat"
    assert concepts.prompt_for("owl") == "a photo of an owl"


def test_style_catalogue_names_resolve_and_other_text_is_verbatim() -> None:
    assert 15 <= len(styles.STYLES) <= 25
    style, how = styles.resolve("  Ukiyo-E   woodblock print ")
    assert style is styles.STYLES["ukiyo-e woodblock print"] and how == "given (catalogue name)"
    style, how = styles.resolve("Neon Vaporwave")
    assert (style.prompt, how) == ("Neon Vaporwave", "given (verbatim prompt)")


@pytest.mark.parametrize(
    "native,multiple,aspect", [(512, 64, 1.0), (512, 64, 3 / 4), (1024, 32, 4 / 3), (64, 4, 1.0)]
)
def test_generation_sizes_keep_area_aspect_and_multiple(native: int, multiple: int, aspect: float) -> None:
    w, h = generation_size(native, multiple, aspect)
    assert w % multiple == 0 and h % multiple == 0
    assert abs(w * h / native**2 - 1) < 0.15 and abs(w / h / aspect - 1) < 0.15


def test_images_share_anchors_by_rough_shape() -> None:
    assert nearest_aspect(1080, 1080) == nearest_aspect(1000, 1080) == 1.0
    assert nearest_aspect(1080, 1350) == 3 / 4 and nearest_aspect(1920, 1080) == 4 / 3
    assert set(ASPECTS) == {1.0, 3 / 4, 4 / 3}


def test_bad_tunables_are_refused() -> None:
    assert Params.from_values(DEFAULTS).strength == 0.55 and Params.from_values({}).strength == 0.55
    for bad in ({"strength": 2}, {"anchors": 0}, {"cloak_weight": 1.0}, {"cloak_steps": "many"}):
        with pytest.raises(SettingsError):
            Params.from_values({**DEFAULTS, **bad})
