"""Truth tables for the three request checks: Host, Origin, token."""

from __future__ import annotations

import logging

import pytest
from artshade.daemon.http.guards import check_host, check_origin, check_token

PORT = 47815
CHROME = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FIREFOX = "moz-extension://0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:47815", True),
        ("localhost:47815", True),
        ("LOCALHOST:47815", True),
        ("[::1]:47815", True),
        (None, False),
        ("", False),
        ("127.0.0.1", False),  # no port
        ("localhost", False),
        ("127.0.0.1:80", False),  # another port
        ("localhost:47816", False),
        ("::1:47815", False),  # unbracketed IPv6
        ("evil.example:47815", False),  # DNS rebinding
        ("localhost.evil.example:47815", False),
        ("127.0.0.1.nip.io:47815", False),
        ("0.0.0.0:47815", False),
        ("127.0.0.2:47815", False),
        ("192.168.1.5:47815", False),
        ("127.0.0.1:47815@evil.example", False),
        ("127.0.0.1:47815 ", True),  # surrounding space is trimmed
    ],
)
def test_host(host: str | None, ok: bool) -> None:
    assert bool(check_host(host, PORT)) is ok


PAIRED = {CHROME, FIREFOX}


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (None, True),  # curl, the CLI
        (CHROME, True),
        (CHROME + "/", True),  # normalised
        (FIREFOX, True),
        (FIREFOX.upper().replace("MOZ-EXTENSION", "moz-extension"), True),
        ("chrome-extension://" + "b" * 32, False),  # well-formed but not paired
        ("moz-extension://11111111-2222-3333-4444-555555555555", False),
        ("https://evil.example", False),
        ("http://127.0.0.1:47815", False),  # even a page served from loopback
        ("http://localhost:3000", False),
        ("null", False),  # sandboxed iframes, file:// pages
        ("", False),
        ("chrome-extension://abcdefghijklmnopabcdefghijklmnopq", False),  # 33 chars
        ("chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOZ", False),  # z is not a-p
        ("chrome-extension://abcdefghijklmnopabcdefghijklmnop.evil.example", False),
        ("file://", False),
    ],
)
def test_origin(origin: str | None, ok: bool) -> None:
    assert bool(check_origin(origin, PAIRED)) is ok


TOKEN = "s3cret-token_value"


@pytest.mark.parametrize(
    ("authorization", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (TOKEN, False),  # no scheme
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Bearer {TOKEN.upper()}", False),
        ("Bearer é", False),  # non-ASCII does not crash the comparison
    ],
)
def test_token(authorization: str | None, ok: bool) -> None:
    assert bool(check_token(authorization, TOKEN)) is ok


def test_empty_daemon_token_refuses_everything() -> None:
    assert not check_token("Bearer ", "")
    assert not check_token("Bearer x", "")


def test_refusals_say_why_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="artshade.daemon.http.guards"):
        verdict = check_origin("https://evil.example", PAIRED)
    assert "not a browser extension" in verdict.reason
    assert "evil.example" in caplog.text


def test_extension_tokens_name_their_extension() -> None:
    from artshade.daemon.http.guards import check_extension_token

    known = {"ext-token": CHROME}
    verdict = check_extension_token("Bearer ext-token", known.get)
    assert verdict and verdict.subject == CHROME
    for header in (None, "", "Bearer", "Basic ext-token", "Bearer other"):
        assert not check_extension_token(header, known.get)


@pytest.mark.parametrize(
    ("origin", "ok"), [(None, True), (CHROME, True), (CHROME + "/", True), (FIREFOX, False), ("null", False)]
)
def test_an_extension_token_only_from_its_own_origin(origin: str | None, ok: bool) -> None:
    from artshade.daemon.http.guards import check_token_origin

    assert bool(check_token_origin(CHROME, origin)) is ok


@pytest.mark.parametrize(
    ("kind", "needed", "ok"),
    [("machine", "machine", True), ("machine", "extension", True), ("extension", "extension", True),
     ("extension", "machine", False)],
)  # fmt: skip
def test_power(kind: str, needed: str, ok: bool) -> None:
    from artshade.daemon.http.guards import check_power, check_setting_keys

    assert bool(check_power(kind, CHROME, needed, "do it")) is ok
    keys = ["watch_folders", "defaults.device"] if needed == "machine" else []
    verdict = check_setting_keys(kind, CHROME, keys)
    assert bool(verdict) is ok
    if not ok:
        assert "watch_folders, defaults.device" in verdict.reason
