"""Two kinds of caller, two sets of powers (``daemon.http.powers``): the truth table of every settings key x
every caller, against a real daemon with a throwaway config, plus the routes, uploads and jobs each may reach.

Callers: the artist's command line (the daemon token, no Origin); a paired extension (its own token and its
Origin); the same extension holding the daemon token (what older pairings handed out) or sending its token
without an Origin; an unpaired extension; a web page.  Only the first may touch a machine-level key.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artshade.daemon.config import DaemonConfig
from artshade.daemon.http.powers import EXTENSION, MACHINE, setting_powers
from artshade.daemon.http.server import Server
from artshade.daemon.jobs.cache import Result
from daemon_helpers import CHROME_ORIGIN, FIREFOX_ORIGIN, TOKEN, ThreadedDaemon, image_bytes

from artshade.loopback import OPENER
from artshade.pairing import PairingStore

WEB_ORIGIN = "https://evil.example"
OTHER_EXTENSION = "chrome-extension://" + "p" * 32
SITE = "example.com"

#: a value each settings key may be set to (not its default, so a change shows).
VALUES: dict[str, Any] = {
    "preset": "max", "intensity": "high", "mode": "cloak", "platform": "x", "target": "sketch",
    "seed": 7, "format": "png", "encoders": ["taesd"], "style": "ink wash", "concept": "a lighthouse",
    "poison_target": "a teapot", "fallback": "guard", "device": "cpu",
}  # fmt: skip
CALLERS = (
    "command line",
    "paired extension",
    "paired extension, daemon token",
    "paired extension's token, no Origin",
    "unpaired extension",
    "web page",
)


class Stub:
    """A instant engine: the daemon's jobs finish at once (what is tested here is who may see them)."""

    def __call__(self, data: bytes, settings: Any, **_: Any) -> Result:
        return Result(image_bytes(variant=3), "png", "image/png", 64, 64, {"stub": True})


class Api:
    def __init__(self, server: Server, root: Path, extension_token: str, other_token: str) -> None:
        self.url = server.url
        self.root = root
        self.extension_token = extension_token
        self.other_token = other_token

    def headers(self, caller: str) -> dict[str, str]:
        return {
            "command line": {"Authorization": f"Bearer {TOKEN}"},
            "paired extension": {"Authorization": f"Bearer {self.extension_token}", "Origin": CHROME_ORIGIN},
            "paired extension, daemon token": {"Authorization": f"Bearer {TOKEN}", "Origin": CHROME_ORIGIN},
            "paired extension's token, no Origin": {"Authorization": f"Bearer {self.extension_token}"},
            "unpaired extension": {"Authorization": f"Bearer {TOKEN}", "Origin": FIREFOX_ORIGIN},
            "web page": {"Authorization": f"Bearer {TOKEN}", "Origin": WEB_ORIGIN},
            "other extension": {"Authorization": f"Bearer {self.other_token}", "Origin": OTHER_EXTENSION},
        }[caller]

    def call(
        self, caller: str, method: str, path: str, body: Any = None, *, raw: bytes | None = None, **extra: str
    ) -> tuple[int, Any]:
        headers = {**self.headers(caller), **extra}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with OPENER.open(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("powers")
    config = DaemonConfig(port=0, token=TOKEN, models_dir=models_dir, config_dir=root / "config",
                          data_dir=root / "data", cache_dir=root / "cache", watch_folders=False,
                          engine=Stub())  # fmt: skip
    store = PairingStore(config.pairing_path)
    extension_token = store.issue_token(CHROME_ORIGIN)
    other_token = store.issue_token(OTHER_EXTENSION)
    for name in ("in", "out", "targets"):
        (root / "pictures" / name).mkdir(parents=True)
    (root / "pictures" / "targets" / "look.png").write_bytes(image_bytes(variant=9))
    with ThreadedDaemon(config) as server:
        yield Api(server, root, extension_token, other_token)


def setting_body(key: str, root: Path) -> tuple[dict[str, Any], Any]:
    """A PUT body that sets ``key`` (a ``setting_powers`` path), and the value it sets."""
    pictures = root / "pictures"
    folder = {"inbox": str(pictures / "in"), "outbox": str(pictures / "out")}
    section, _, name = key.partition(".")
    if key == "watch_folders":
        return {"watch_folders": [folder]}, [folder]
    if section == "watch_folders[]":
        extra = {"settings": {"preset": "fast"}, "target_folder": str(pictures / "targets")}
        entry = {**folder, **({name: extra[name]} if name in extra else {})}
        return {"watch_folders": [entry]}, entry
    value = (
        str(pictures / "targets" / "look.png")
        if name.endswith("target_image")
        else VALUES[name.split(".")[-1]]
    )
    if section == "defaults":
        return {"defaults": {name: value}}, value
    return {"sites": {SITE: {name.split(".")[-1]: value}}}, value


def expected(caller: str, power: str) -> tuple[int, str | None]:
    if caller in {"unpaired extension", "web page"}:
        return 403, "forbidden_origin"
    if power == MACHINE and caller != "command line":
        return 403, "machine_only"
    return 200, None


TABLE = sorted(setting_powers().items())


def test_the_table_covers_every_key_of_the_saved_settings() -> None:
    from artshade.daemon.config import API_SETTING_KEYS, MACHINE_SETTING_KEYS, WATCH_FOLDER_FIELDS

    keys = dict(TABLE)
    assert {k for k in keys if k.startswith("defaults.")} == {
        f"defaults.{k}" for k in (*API_SETTING_KEYS, *MACHINE_SETTING_KEYS)
    }
    assert {k for k in keys if k.startswith("sites.")} == {f"sites.*.{k}" for k in API_SETTING_KEYS}
    assert {k for k in keys if k.startswith("watch_folders[]")} == {
        f"watch_folders[].{k}" for k in WATCH_FOLDER_FIELDS
    }
    assert {k for k, p in keys.items() if p == MACHINE} == {
        "defaults.device", "defaults.target_image", "watch_folders",
        *(f"watch_folders[].{k}" for k in WATCH_FOLDER_FIELDS),
    }  # fmt: skip


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("key", "power"), TABLE, ids=[k for k, _ in TABLE])
def test_put_settings_truth_table(api: Api, key: str, power: str, caller: str) -> None:
    assert api.call("command line", "PUT", "/v1/settings", {})[0] == 200  # a clean slate
    body, value = setting_body(key, api.root)
    status, answer = api.call(caller, "PUT", "/v1/settings", body)
    want_status, want_error = expected(caller, power)
    assert status == want_status, answer
    saved = api.call("command line", "GET", "/v1/settings")[1]
    if want_error is None:
        section, _, name = key.partition(".")
        if section == "defaults":
            assert saved["defaults"][name] == value
        elif section == "sites":
            assert saved["sites"][SITE][name.split(".")[-1]] == value
        else:
            got = saved["watch_folders"]
            entries = value if key == "watch_folders" else [value]
            assert got == [{"settings": {}, **entry} for entry in entries]
        return
    assert answer["error"] == want_error and isinstance(answer["number"], int)
    assert "\n" not in answer["detail"]
    if want_error == "machine_only":  # the refused key is named
        assert (key if key.startswith("defaults.") else "watch_folders") in answer["detail"]
    assert saved == {"defaults": saved["defaults"], "sites": {}, "watch_folders": []}  # nothing saved
    assert saved["defaults"]["preset"] == "default" and "device" not in saved["defaults"]


@pytest.mark.parametrize("caller", CALLERS)
def test_get_settings_shows_paths_to_the_machine_only(api: Api, caller: str) -> None:
    body = {
        "defaults": {"preset": "fast", "device": "cpu"},
        "sites": {SITE: {"platform": "x"}},
        "watch_folders": [
            {"inbox": str(api.root / "pictures" / "in"), "outbox": str(api.root / "pictures" / "out")}
        ],
    }
    assert api.call("command line", "PUT", "/v1/settings", body)[0] == 200
    status, seen = api.call(caller, "GET", "/v1/settings")
    want_status, want_error = expected(caller, EXTENSION)
    assert status == want_status
    if want_error is not None:
        assert seen["error"] == want_error
    elif caller == "command line":
        assert seen["defaults"]["device"] == "cpu" and len(seen["watch_folders"]) == 1
    else:
        assert set(seen) == {"defaults", "sites"} and "device" not in seen["defaults"]
        assert seen["sites"] == {SITE: {"platform": "x"}} and seen["defaults"]["preset"] == "fast"
        assert str(api.root) not in json.dumps(seen)


def test_an_extension_writing_its_keys_keeps_the_artists_machine_settings(api: Api) -> None:
    folder = {"inbox": str(api.root / "pictures" / "in"), "outbox": str(api.root / "pictures" / "out")}
    body = {"defaults": {"device": "cpu"}, "watch_folders": [folder]}
    assert api.call("command line", "PUT", "/v1/settings", body)[0] == 200
    status, answer = api.call("paired extension", "PUT", "/v1/settings", {"defaults": {"preset": "max"}})
    assert status == 200 and set(answer) == {"defaults", "sites"}
    saved = api.call("command line", "GET", "/v1/settings")[1]
    assert saved["defaults"]["preset"] == "max" and saved["defaults"]["device"] == "cpu"
    assert saved["watch_folders"] == [{**folder, "settings": {}}]


def test_the_issue_attack_is_refused(api: Api) -> None:
    """From the issue: a paired extension sets watch folders on /etc: 403, nothing saved."""
    assert api.call("command line", "PUT", "/v1/settings", {})[0] == 200
    body = {"watch_folders": [{"inbox": "/etc", "outbox": str(api.root / "anywhere")}]}
    status, answer = api.call("paired extension", "PUT", "/v1/settings", body)
    assert (status, answer["error"], answer["number"]) == (403, "machine_only", 4032)
    assert "watch_folders" in answer["detail"]
    assert api.call("command line", "GET", "/v1/settings")[1]["watch_folders"] == []
    # and the artist cannot make that mistake either: a system folder is refused with one line
    status, answer = api.call("command line", "PUT", "/v1/settings", body)
    assert (status, answer["error"]) == (422, "bad_settings") and "system folder" in answer["detail"]


@pytest.mark.parametrize(("name", "value"), [("device", "cpu"), ("target_image", "/etc/passwd")])
@pytest.mark.parametrize("caller", ["paired extension", "paired extension's token, no Origin"])
def test_uploads_from_an_extension_cannot_name_machine_settings(
    api: Api, caller: str, name: str, value: str
) -> None:
    status, answer = api.call(
        caller, "POST", f"/v1/protect?{name}={value}", raw=image_bytes(), **{"Content-Type": "image/png"}
    )
    assert (status, answer["error"]) == (403, "machine_only") and name in answer["detail"]


@pytest.mark.parametrize("caller", CALLERS)
def test_only_the_command_line_makes_pairing_codes(api: Api, caller: str) -> None:
    status, answer = api.call(caller, "POST", "/v1/pair/code", raw=b"")
    if caller == "command line":
        assert status == 200 and answer["code"]
    else:
        assert status == 403 and answer["error"] in {"machine_only", "forbidden_origin"}


def test_extensions_see_only_their_own_jobs(api: Api) -> None:
    png = {"Content-Type": "image/png"}
    mine = api.call("paired extension", "POST", "/v1/protect", raw=image_bytes(variant=1), **png)[1]["id"]
    theirs = api.call("other extension", "POST", "/v1/protect", raw=image_bytes(variant=2), **png)[1]["id"]
    artists = api.call("command line", "POST", "/v1/protect", raw=image_bytes(variant=4), **png)[1]["id"]
    for suffix in ("", "/report", "/result"):
        assert api.call("paired extension", "GET", f"/v1/jobs/{mine}{suffix}")[0] in {200, 409}
        assert api.call("paired extension's token, no Origin", "GET", f"/v1/jobs/{mine}{suffix}")[0] in {
            200,
            409,
        }
        for job in (theirs, artists):
            status, answer = api.call("paired extension", "GET", f"/v1/jobs/{job}{suffix}")
            assert (status, answer["error"]) == (404, "not_found")
        for job in (mine, theirs, artists):
            assert api.call("command line", "GET", f"/v1/jobs/{job}{suffix}")[0] in {200, 409}
    assert api.call("paired extension", "DELETE", f"/v1/jobs/{theirs}")[0] == 404


def test_a_token_works_for_its_own_extension_only(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.extension_token}", "Origin": OTHER_EXTENSION}
    request = urllib.request.Request(api.url + "/v1/status", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as info:
        OPENER.open(request, timeout=30)
    assert info.value.code == 403 and json.loads(info.value.read())["error"] == "forbidden_origin"


def test_status_shows_watch_folder_paths_to_the_machine_only(api: Api) -> None:
    assert "watch_folders" in api.call("command line", "GET", "/v1/status")[1]
    assert "watch_folders" not in api.call("paired extension", "GET", "/v1/status")[1]
