"""Paired extension origins (persisted, re-read when another process changes them) and one-time codes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from artshade.daemon.http.pairing_codes import PairingCodes, RateLimited, normalise_code

from artshade.pairing import PairingStore, normalise_origin

CHROME = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FIREFOX = "moz-extension://0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.mark.parametrize(
    ("origin", "normal"),
    [
        (CHROME, CHROME),
        (CHROME + "/", CHROME),
        ("Chrome-Extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", CHROME),
        (FIREFOX + "/", FIREFOX),
        ("https://example.com", None),
        ("chrome-extension://abc", None),
        ("moz-extension://not-a-uuid", None),
        ("chrome-extension://" + "q" * 32, None),
        ("", None),
    ],
)
def test_normalise_origin(origin: str, normal: str | None) -> None:
    assert normalise_origin(origin) == normal


def test_store_persists_privately_and_atomically(tmp_path: Path) -> None:
    path = tmp_path / "paired-origins.json"
    store = PairingStore(path)
    assert store.origins() == set()
    assert store.add(CHROME + "/") == CHROME
    store.add(FIREFOX)
    assert json.loads(path.read_text()) == {"origins": sorted([CHROME, FIREFOX]), "tokens": [], "revoked": []}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name not in {path.name, path.name + ".lock"}]  # no temp
    assert PairingStore(path).origins() == {CHROME, FIREFOX}
    store.remove(CHROME)
    assert PairingStore(path).origins() == {FIREFOX}
    assert CHROME not in store and FIREFOX in store


def test_store_refuses_web_origins(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a browser-extension origin"):
        PairingStore(tmp_path / "p.json").add("https://evil.example")


def test_store_rereads_when_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "paired-origins.json"
    daemon_side = PairingStore(path)
    assert daemon_side.origins() == set()
    PairingStore(path).add(FIREFOX)  # e.g. the native host
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert daemon_side.origins() == {FIREFOX}


def test_store_ignores_junk_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"origins": [CHROME, "https://evil.example", 5]}))
    assert PairingStore(path).origins() == {CHROME}
    path.write_text("not json")
    assert PairingStore(path).origins() == set()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_codes_encode_the_port_and_work_once() -> None:
    codes = PairingCodes()
    issued = codes.issue(47815)
    assert issued.code.startswith("47815-") and len(issued.code.split("-")) == 4
    assert codes.redeem(issued.code.lower().replace("-", " "))  # as a person might type it
    assert not codes.redeem(issued.code)  # single use


def test_codes_expire_after_ten_minutes() -> None:
    clock = Clock()
    codes = PairingCodes(clock=clock)
    issued = codes.issue(1)
    clock.now += 601
    assert not codes.redeem(issued.code)


def test_failed_attempts_are_rate_limited() -> None:
    clock = Clock()
    codes = PairingCodes(clock=clock, max_failures=3, window=60)
    good = codes.issue(47815)
    for _ in range(3):
        assert not codes.redeem("47815-AAAA-AAAA-AAAA")
    with pytest.raises(RateLimited) as info:
        codes.redeem(good.code)  # even the right code waits: no brute force
    assert 0 < info.value.retry_after <= 60
    clock.now += 61
    assert codes.redeem(good.code)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        (" 47815-abcd-efgh-jkmn ", "47815-ABCD-EFGH-JKMN"),
        ("47815 ABCD  EFGH JKMN", "47815-ABCD-EFGH-JKMN"),
        (None, ""),
    ],
)
def test_normalise_code(typed: object, normal: str) -> None:
    assert normalise_code(typed) == normal


def test_unpairing_revokes_until_the_artist_pairs_again(tmp_path) -> None:
    from artshade.pairing import Revoked

    store = PairingStore(tmp_path / "paired.json")
    store.issue_token(CHROME)
    store.remove(CHROME)
    assert CHROME in PairingStore(tmp_path / "paired.json").revoked()  # kept on disk
    with pytest.raises(Revoked, match="artshade pair"):
        store.issue_token(CHROME, unless_revoked=True)
    assert CHROME not in store.origins()
    store.issue_token(CHROME)  # a code the artist made and typed
    assert CHROME not in store.revoked()
    assert store.issue_token(CHROME, unless_revoked=True)
    store.clear()
    with pytest.raises(Revoked):
        store.issue_token(CHROME, unless_revoked=True)
