"""Settings from strings and JSON: what the daemon's door, the CLI and settings files all go through."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from artshade.shading.settings import MAX_ENCODERS, MAX_NAME_CHARS, MAX_PATH_CHARS, MAX_TEXT_CHARS, Settings

from artshade.errors import SettingsError


@pytest.mark.parametrize(("raw", "seed"), [(7, 7), ("7", 7), (" 12 ", 12), (0, 0), (2**63 - 1, 2**63 - 1)])
def test_seed_from_a_json_integer_or_digits(raw: object, seed: int) -> None:
    assert Settings.from_mapping({"seed": raw}).seed == seed


@pytest.mark.parametrize("raw", [True, False, 1.5, 2.0, "1e3", "-1", -1, "0x10", "٣", 2**63, [1], {"a": 1}])
def test_seed_refuses_what_json_schema_would_not_call_a_non_negative_integer(raw: object) -> None:
    with pytest.raises(SettingsError, match="seed must be a non-negative integer"):
        Settings.from_mapping({"seed": raw})


@pytest.mark.parametrize(("key", "raw"), [("preset", 1), ("target", True), ("platform", ["x"])])
def test_names_must_be_strings(key: str, raw: object) -> None:
    with pytest.raises(SettingsError, match=f"{key} must be a string"):
        Settings.from_mapping({key: raw})


def test_names_are_case_and_space_insensitive() -> None:
    settings = Settings.from_mapping({"preset": " FAST ", "target": "Poster", "platform": "Instagram"})
    assert (settings.preset, settings.target, settings.platform) == ("fast", "poster", "instagram")


def test_fingerprint_follows_the_daemon_cache_rule() -> None:
    """Two settings share a fingerprint exactly when the daemon's result cache would serve one for the
    other; the engine version is part of it (an improved engine must not count as "already done")."""
    from unittest import mock

    from artshade.daemon.jobs.cache import cache_key
    from artshade.shading import settings as settings_module

    data = b"the same picture"
    variants = [Settings(), Settings(seed=1), Settings(preset="fast"), Settings(platform="x"),
                Settings(format="png"), Settings(target="blobs"), Settings(encoders=("taef2",))]  # fmt: skip
    for a in variants:
        for b in variants:
            assert (a.fingerprint() == b.fingerprint()) == (cache_key(data, a) == cache_key(data, b))
    assert Settings().fingerprint() == Settings.from_mapping({"seed": "0"}).fingerprint()
    assert len({v.fingerprint() for v in variants}) == len(variants)
    before = Settings().fingerprint()
    with mock.patch.object(settings_module, "ENGINE_VERSION", "99.0"):
        assert Settings().fingerprint() != before


def test_encoders_are_deduplicated_in_order() -> None:
    settings = Settings.from_mapping({"encoders": ["b", "a", "b", " a ", "c"]})
    assert settings.encoders == ("b", "a", "c")
    assert Settings.from_mapping({"encoders": "x, y,x,,y"}).encoders == ("x", "y")


@pytest.mark.parametrize(
    "raw",
    [
        [f"e{i}" for i in range(MAX_ENCODERS + 1)],
        ["e"] * 50_000,  # the same name 50 000 times is still 50 000 entries handed in
        ",".join(f"e{i}" for i in range(MAX_ENCODERS + 1)),
        ["x" * (MAX_NAME_CHARS + 1)],
    ],
)
def test_encoders_are_capped(raw: object) -> None:
    with pytest.raises(SettingsError, match="encoder"):
        Settings.from_mapping({"encoders": raw})


def test_as_many_encoders_as_the_cap_are_fine() -> None:
    names = [f"e{i}" for i in range(MAX_ENCODERS)]
    assert Settings.from_mapping({"encoders": names}).encoders == tuple(names)
    assert Settings.from_mapping({"encoders": ",".join(names)}).encoders == tuple(names)


TEXT_LIMITS = [("style", MAX_TEXT_CHARS), ("concept", MAX_TEXT_CHARS),
               ("poison_target", MAX_TEXT_CHARS), ("target_image", MAX_PATH_CHARS)]  # fmt: skip


@pytest.mark.parametrize(("key", "limit"), TEXT_LIMITS)
def test_text_settings_are_length_capped(key: str, limit: int) -> None:
    assert Settings.from_mapping({key: "/" + "s" * (limit - 1)})
    with pytest.raises(SettingsError, match=f"{key} is too long"):
        Settings.from_mapping({key: "/" + "s" * limit})


def test_every_setting_reaches_the_fingerprint() -> None:
    """No setting changes the output without changing the cache key: each field, changed alone, changes
    the fingerprint (a field left out of it, as ``extra`` once was, fails the first line)."""
    import dataclasses
    from pathlib import Path

    changed = {"preset": "fast", "intensity": "high", "mode": "cloak", "platform": "x", "target": "poster",
               "target_image": Path("t.png"), "seed": 1, "format": "png", "device": "cpu",
               "encoders": ("taef2",), "style": "ink", "concept": "cat", "poison_target": "cat=dog",
               "fallback": "guard"}  # fmt: skip
    assert set(changed) == {f.name for f in dataclasses.fields(Settings)}
    for name, value in changed.items():
        assert Settings(**{name: value}).fingerprint() != Settings().fingerprint(), name


def test_the_engines_tables_cover_exactly_the_settings_words() -> None:
    """A preset, intensity, mode, platform or format added to the settings module (or removed) without its
    row in the engine's own tables fails here, not in an artist's run."""
    from artshade.shading import models, settings
    from artshade.shading.io import media_type
    from artshade.shading.optimize import BUDGETS, SCHEDULES
    from artshade.shading.targets import MAKERS
    from artshade.shading.transforms.platform import PROFILES_FILE

    assert set(SCHEDULES) == set(models.PRESET_ENCODERS) == set(settings.PRESETS)
    assert set(BUDGETS) == set(settings.INTENSITIES)
    assert set(MAKERS) == set(settings.MODES) and set(models.MODES_NEED) == set(settings.MODES) - {"guard"}
    profiles = json.loads(resources.files("artshade").joinpath(PROFILES_FILE).read_text(encoding="utf-8"))
    assert tuple(profiles["platforms"]) == settings.PLATFORMS  # artshade/upload_profiles.json, in its order
    assert all(media_type(fmt).startswith("image/") for fmt in settings.FORMATS)
