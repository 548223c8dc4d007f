"""The API description spells the settings' words as the settings module does: every enum of a preset,
intensity, mode, platform, device, format, target or fallback in ``daemon/http/openapi.yaml`` (the shared
schemas, each settings object's properties and the query parameters) lists exactly the values of
``shading/settings.py`` (platforms: also ``artshade/upload_profiles.json``), in the same order; and the
extension-origin pattern is the one ``artshade.ids`` keeps.  Adding a preset or a platform without the API
following it fails here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml
from artshade.shading import settings as vocabulary

from artshade import ids

SPEC = yaml.safe_load(resources.files("artshade.daemon.http").joinpath("openapi.yaml").read_text("utf-8"))
PROFILES = json.loads(resources.files("artshade").joinpath("upload_profiles.json").read_text("utf-8"))

#: a setting's name (as a property, a query parameter or a shared schema) -> the values it may take
WORDS: dict[str, tuple[str, ...]] = {
    "preset": vocabulary.PRESETS,
    "intensity": vocabulary.INTENSITIES,
    "mode": vocabulary.MODES,
    "platform": vocabulary.PLATFORMS,
    "device": vocabulary.DEVICES,
    "format": vocabulary.FORMATS,
    "target": vocabulary.TARGETS,
    "fallback": vocabulary.FALLBACKS,
}
#: what "keep the default" is spelled as beside the values
UNSET = (None, "")


def enums(node: Any, where: str = "") -> Iterator[tuple[str, str, list[Any]]]:
    """(setting name, place in the description, enum) for every enum the description gives a setting."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "properties" and isinstance(value, dict):
                for name, schema in value.items():
                    if name in WORDS and isinstance(schema, dict) and "enum" in schema:
                        yield name, f"{here}/{name}", schema["enum"]
            elif key == "schemas" and isinstance(value, dict):
                for name, schema in value.items():
                    if name.lower() in WORDS and isinstance(schema, dict) and "enum" in schema:
                        yield name.lower(), f"{here}/{name}", schema["enum"]
            if (
                node.get("in") == "query"
                and node.get("name") in WORDS
                and key == "schema"
                and "enum" in value
            ):
                yield node["name"], here, value["enum"]
            yield from enums(value, here)
    elif isinstance(node, list):
        for n, item in enumerate(node):
            yield from enums(item, f"{where}/{n}")


FOUND = list(enums(SPEC))


@pytest.mark.parametrize(("name", "where", "enum"), FOUND, ids=[w for _, w, _ in FOUND])
def test_every_settings_enum_is_the_settings_vocabulary(name: str, where: str, enum: list[Any]) -> None:
    assert [v for v in enum if v not in UNSET] == list(WORDS[name]), f"{where} drifted from shading.settings"


def test_each_word_is_checked_where_the_description_spells_it() -> None:
    """The walk above finds the three places each word is spelled (a shared schema where there is one, and
    both settings objects); device, a machine-level setting, is in the artist's object only."""
    places = {name: sum(1 for n, _, _ in FOUND if n == name) for name in WORDS}
    assert places == {**dict.fromkeys(WORDS, 3), "device": 1, "fallback": 2}


def test_platforms_are_the_upload_profiles() -> None:
    assert list(PROFILES["platforms"]) == list(vocabulary.PLATFORMS)


def test_the_extension_origin_pattern_is_the_common_one() -> None:
    (pair,) = [p for p in SPEC["paths"]["/v1/pair"]["post"]["parameters"] if p["name"] == "Origin"]
    bare = [p.replace("(", "").replace(")", "") for p in (ids.CHROME_ORIGIN, ids.FIREFOX_ORIGIN)]
    assert pair["schema"]["pattern"] == f"^({'|'.join(bare)})$"


def test_the_limits_described_are_the_engines_defaults() -> None:
    from artshade.shading.io import Limits

    said = " ".join(SPEC["info"]["description"].split())
    limits = Limits()
    assert f"request bodies up to {limits.max_bytes // 2**20} MB (`--max-body-mb`)" in said
    assert f"images up to {limits.max_pixels // 10**6} megapixels (`--max-megapixels`)" in said
