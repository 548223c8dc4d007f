"""User settings: validation of outside input, site profiles, atomic save and load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from artshade.daemon.config import UserSettings, load_user_settings, save_user_settings
from artshade.shading.errors import SettingsError


def test_round_trip_and_site_profiles(tmp_path: Path) -> None:
    user = UserSettings.from_mapping(
        {
            "defaults": {"preset": "fast", "intensity": "high"},
            "sites": {"https://www.Instagram.com/": {"platform": "instagram"}},
            "watch_folders": [{"inbox": str(tmp_path / "in"), "settings": {"mode": "guard"}}],
        }
    )
    path = tmp_path / "settings.json"
    save_user_settings(user, path)
    again = load_user_settings(path)
    assert again.to_dict() == user.to_dict()
    assert list(again.sites) == ["instagram.com"]
    assert again.watch_folders[0].outbox == tmp_path / "protected"
    chosen = again.settings_for({"intensity": "low"}, site="m.instagram.com")
    assert (chosen.preset, chosen.intensity, chosen.platform) == ("fast", "low", "instagram")
    assert again.settings_for({}, site="example.com").platform == "none"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "JSON object"),
        ({"defaults": {"preset": "huge"}}, "preset must be one of"),
        ({"defaults": {"target_image": "relative.png"}}, "target_image must be an absolute path"),
        ({"defaults": {"device": "quantum"}}, "device must be one of"),
        ({"sites": {"x.com": {"device": "cpu"}}}, "'device' is not a per-site setting"),
        ({"sites": {"x.com": {"target_image": "/a.png"}}}, "'target_image' is not a per-site setting"),
        ({"colour": {}}, "unknown settings section"),
        ({"sites": {"x.com": {"platform": "myspace"}}}, "platform must be one of"),
        ({"watch_folders": [{"inbox": "relative/path"}]}, "absolute"),
        ({"watch_folders": [{"inbox": "/a", "outbox": "/a"}]}, "is the inbox itself"),
        ({"watch_folders": [{"outbox": "/a"}]}, "needs an 'inbox'"),
        ({"watch_folders": {"inbox": "/a"}}, "must be a list"),
    ],
)
def test_bad_settings_are_one_clear_line(value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        UserSettings.from_mapping(value)
    assert "\n" not in str(info.value)


def test_a_broken_file_is_ignored_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    assert load_user_settings(path).to_dict() == UserSettings().to_dict()
    assert path.read_text() == "{ not json"
    with pytest.raises(SettingsError, match="settings.json"):
        load_user_settings(path, strict=True)


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_user_settings(tmp_path / "none.json").defaults.preset == "default"


def test_default_path_is_in_the_config_dir() -> None:
    save_user_settings(UserSettings.from_mapping({"defaults": {"preset": "max"}}))
    assert load_user_settings().defaults.preset == "max"
    from artshade.paths import config_dir

    assert json.loads((config_dir() / "settings.json").read_text())["defaults"]["preset"] == "max"
