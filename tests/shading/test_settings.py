"""Settings from strings and JSON: what the daemon's door, the CLI and settings files all go through."""

from __future__ import annotations

import pytest
from artshade.shading.settings import Settings

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
