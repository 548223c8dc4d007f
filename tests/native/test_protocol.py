"""The host as the browser runs it: a subprocess spoken to with native-messaging frames."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from artshade import __version__, ids

MIB = 1024 * 1024
CHROME_ORIGIN_ARG = f"chrome-extension://{ids.CHROME_EXTENSION_ID}/"
HostProcess = Any  # tests/native/conftest.py: the host subprocess with frame helpers
FIREFOX_ARGS = [
    "/home/someone/.mozilla/native-messaging-hosts/app.artshade.host.json",
    ids.GECKO_EXTENSION_ID,
]
MOZ_ORIGIN = "moz-extension://3c7b4a8e-2f1d-4e55-9a0b-6d2c1e9f8a47"


def error_code(reply: dict[str, Any]) -> int:
    assert reply["ok"] is False, reply
    assert "\n" not in reply["error"]["message"]
    return int(reply["error"]["code"])


# --- the happy path ----------------------------------------------------------------------------------


def test_hello_exchanges_versions(host: HostProcess) -> None:
    reply = host.ask({"action": "hello", "request_id": "r1", "protocol": 1, "extension_version": "0.1.0"})
    assert reply == {
        "action": "hello",
        "request_id": "r1",
        "ok": True,
        "protocol": 1,
        "host_version": __version__,
    }
    assert host.finish() == 0
    assert host.stderr_text() == ""


def test_status_without_daemon(host: HostProcess, daemon_port: int) -> None:
    reply = host.ask({"action": "status", "request_id": "s"})
    assert reply["ok"] is True and reply["host_version"] == __version__ and reply["protocol"] == 1
    assert reply["daemon"] == {"running": False, "url": f"http://127.0.0.1:{daemon_port}", "version": None}
    assert host.finish() == 0


def test_replies_come_in_request_order(host: HostProcess) -> None:
    for i in range(5):
        host.send({"action": "hello" if i % 2 else "status", "request_id": str(i), "protocol": 1})
    assert [host.recv()["request_id"] for _ in range(5)] == ["0", "1", "2", "3", "4"]
    assert host.finish() == 0


def test_message_at_the_size_limit_is_accepted(host: HostProcess) -> None:
    frame = {"action": "hello", "protocol": 1, "request_id": "big", "pad": ""}
    frame["pad"] = "x" * (MIB - len(json.dumps(frame)))
    payload = json.dumps(frame).encode()
    assert len(payload) == MIB
    host.send_payload(payload)
    assert host.recv()["ok"] is True
    assert host.finish() == 0


# --- protocol versions --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 0, "1", 1.0, None, True])
def test_hello_refuses_another_protocol(host: HostProcess, protocol: Any) -> None:
    request = {"action": "hello", "request_id": "v", "protocol": protocol}
    if protocol is None:
        del request["protocol"]
    reply = host.ask(request)
    assert error_code(reply) == 2
    assert reply["protocol"] == 1 and reply["request_id"] == "v" and reply["action"] == "hello"
    assert host.ask({"action": "hello", "protocol": 1})["ok"] is True  # still serving
    assert host.finish() == 0


def test_any_request_with_another_protocol_is_refused(host: HostProcess) -> None:
    assert error_code(host.ask({"action": "status", "protocol": 2})) == 2
    assert error_code(host.ask({"action": "pair", "protocol": 7})) == 2
    assert host.finish() == 0


# --- malformed frames -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe{not utf-8}",
        b'{"action": "hello", "request_id": "\xc3\x28"}',
        b"",
        b"{",
        b'{"action": "hello",}',
        b"not json at all",
        b"[" * 100_000,
    ],
    ids=[
        "bad-utf8",
        "bad-utf8-inside-string",
        "empty",
        "truncated-json",
        "trailing-comma",
        "text",
        "deep-nesting",
    ],
)
def test_undecodable_payload_gets_error_1_and_host_goes_on(host: HostProcess, payload: bytes) -> None:
    host.send_payload(payload)
    reply = host.recv()
    assert error_code(reply) == 1
    assert reply["action"] is None and reply["request_id"] is None
    assert host.ask({"action": "hello", "protocol": 1})["ok"] is True
    assert host.finish() == 0
    assert host.stderr_text() == ""


@pytest.mark.parametrize(
    "payload",
    [
        "[1, 2]",
        '"hello"',
        "42",
        "null",
        "true",
        '{"request_id": "x"}',
        '{"action": 3}',
        '{"action": ["hello"]}',
    ],
)
def test_non_object_or_actionless_json_gets_error_1(host: HostProcess, payload: str) -> None:
    host.send_payload(payload.encode())
    assert error_code(host.recv()) == 1
    assert host.finish() == 0


def test_unknown_action_gets_error_3(host: HostProcess) -> None:
    reply = host.ask({"action": "format_disk", "request_id": "u"})
    assert error_code(reply) == 3
    assert reply["action"] == "format_disk" and reply["request_id"] == "u"
    assert host.finish() == 0


def test_overlong_or_non_string_request_id_is_not_echoed(host: HostProcess) -> None:
    assert host.ask({"action": "hello", "protocol": 1, "request_id": "x" * 129})["request_id"] is None
    assert host.ask({"action": "hello", "protocol": 1, "request_id": {"a": 1}})["request_id"] is None
    assert host.finish() == 0


@pytest.mark.parametrize("header", [b"", b"\x01", b"\x01\x00", b"\x01\x00\x00"])
def test_short_length_header_exits_cleanly(host: HostProcess, header: bytes) -> None:
    host.send_raw(header)
    assert host.finish() == 0  # no reply, no traceback, status 0


def test_eof_in_the_middle_of_a_payload_exits_cleanly(host: HostProcess) -> None:
    host.send_raw(struct.pack("=I", 100) + b'{"action": "hel')
    assert host.finish() == 0


@pytest.mark.parametrize("length", [MIB + 1, 0xFFFFFFFF])
def test_length_over_the_limit_is_refused_without_reading_it(host: HostProcess, length: int) -> None:
    host.send_raw(struct.pack("=I", length))  # and nothing more: the host must not wait for the payload
    reply = host.recv()
    assert error_code(reply) == 7
    assert host.wait() == 0  # exits on its own although stdin is still open
    host.close_stdin()
    assert host.finish() == 0


def test_host_logs_go_to_the_log_file_not_stdout(host: HostProcess, isolated_home: Path) -> None:
    host.send_payload(b"{broken")
    host.recv()
    assert host.finish() == 0
    log = (isolated_home / "log" / "native-host.log").read_text()
    assert "host started for chrome-extension://" in log and "error 1" in log


# --- who is calling -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],
        [f"chrome-extension://{ids.CHROME_EXTENSION_ID}.evil/"],
        [f"https://{ids.CHROME_EXTENSION_ID}/"],
        ["/path/to/manifest.json", "someone-else@example.org"],
        ["/path/to/manifest.json"],
    ],
    ids=["no-args", "other-chrome-extension", "lookalike", "web-origin", "other-gecko-id", "manifest-only"],
)
def test_caller_not_allowed_gets_error_4_for_everything(start_host: Any, args: list[str]) -> None:
    host = start_host(args)
    for action in ("hello", "pair", "ensure_daemon", "status"):
        reply = host.ask({"action": action, "protocol": 1, "origin": MOZ_ORIGIN})
        assert error_code(reply) == 4, reply
    assert host.finish() == 0


def test_windows_parent_window_argument_is_ignored(start_host: Any) -> None:
    host = start_host([CHROME_ORIGIN_ARG, "--parent-window=1234"])
    assert host.ask({"action": "hello", "protocol": 1})["ok"] is True
    assert host.finish() == 0


# --- pair ---------------------------------------------------------------------------------------------


def paired_origins(home: Path) -> list[str]:
    return json.loads((home / "config" / "paired-origins.json").read_text())["origins"]  # type: ignore[no-any-return]


def extension_token_origin(home: Path, token: str) -> str | None:
    from artshade.pairing import PairingStore

    return PairingStore(home / "config" / "paired-origins.json").token_origin(token)


def test_pair_from_chrome_registers_origin_and_returns_token(
    host: HostProcess, isolated_home: Path, daemon_port: int
) -> None:
    reply = host.ask({"action": "pair", "request_id": "p"})
    origin = f"chrome-extension://{ids.CHROME_EXTENSION_ID}"
    assert reply["ok"] is True and reply["origin"] == origin
    assert reply["url"] == f"http://127.0.0.1:{daemon_port}"
    assert paired_origins(isolated_home) == [origin]
    assert extension_token_origin(isolated_home, reply["token"]) == origin and len(reply["token"]) >= 40
    assert not (isolated_home / "config" / "token").exists()  # the daemon's own token is not handed out
    # pairing again (with the origin spelled out, trailing slash and all) pairs nothing new; the extension
    # gets a fresh token and the one it had keeps working
    again = host.ask({"action": "pair", "origin": origin + "/"})
    assert again["ok"] is True and again["token"] != reply["token"]
    assert paired_origins(isolated_home) == [origin]
    for token in (reply["token"], again["token"]):
        assert extension_token_origin(isolated_home, token) == origin
    stored = (isolated_home / "config" / "paired-origins.json").read_text()
    assert reply["token"] not in stored and again["token"] not in stored  # hashes only
    assert host.finish() == 0


@pytest.mark.parametrize(
    "claim", ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MOZ_ORIGIN, "https://evil.example"]
)
def test_chrome_cannot_claim_another_origin(host: HostProcess, isolated_home: Path, claim: str) -> None:
    assert error_code(host.ask({"action": "pair", "origin": claim})) == 4
    assert not (isolated_home / "config" / "paired-origins.json").exists()
    assert host.finish() == 0


def test_an_unpaired_extension_is_not_paired_again_by_the_host(
    host: HostProcess, isolated_home: Path
) -> None:
    """`artshade unpair` revokes: the host's pair (what the extension asks on its next 401) is refused with
    error 10 until the artist pairs it by hand with a code, and no token is handed out meanwhile."""
    from artshade.pairing import PairingStore

    store = PairingStore(isolated_home / "config" / "paired-origins.json")
    first = host.ask({"action": "pair", "request_id": "p"})
    assert first["ok"] is True
    assert store.remove(first["origin"])
    refused = host.ask({"action": "pair"})
    assert error_code(refused) == 10 and "artshade pair" in refused["error"]["message"]
    assert "token" not in refused
    assert paired_origins(isolated_home) == [] and store.token_origin(first["token"]) is None
    store.issue_token(first["origin"])  # the artist pairs it by hand (POST /v1/pair with a code)
    again = host.ask({"action": "pair"})
    assert again["ok"] is True and store.token_origin(again["token"]) == first["origin"]


def test_pair_from_firefox_registers_claimed_moz_origin(start_host: Any, isolated_home: Path) -> None:
    host = start_host(FIREFOX_ARGS)
    reply = host.ask({"action": "pair", "origin": MOZ_ORIGIN + "/"})
    assert reply["ok"] is True and reply["origin"] == MOZ_ORIGIN
    assert paired_origins(isolated_home) == [MOZ_ORIGIN]
    assert extension_token_origin(isolated_home, reply["token"]) == MOZ_ORIGIN
    assert host.finish() == 0


@pytest.mark.parametrize(
    "claim",
    [
        None,
        42,
        "moz-extension://evil.example",
        "moz-extension://3C7B4A8E-2F1D-4E55-9A0B-6D2C1E9F8A47",
        MOZ_ORIGIN + "/path",
        "https://" + MOZ_ORIGIN[16:],
        f"chrome-extension://{ids.CHROME_EXTENSION_ID}",
    ],
    ids=["missing", "number", "host-name", "uppercase", "with-path", "web-scheme", "chrome-origin"],
)
def test_firefox_claim_must_be_a_moz_extension_uuid(start_host: Any, isolated_home: Path, claim: Any) -> None:
    host = start_host(FIREFOX_ARGS)
    request: dict[str, Any] = {"action": "pair"}
    if claim is not None:
        request["origin"] = claim
    assert error_code(host.ask(request)) == 8
    assert not (isolated_home / "config" / "paired-origins.json").exists()
    assert host.finish() == 0


def test_pair_that_cannot_write_gets_error_9(
    start_host: Any, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = isolated_home / "not-a-folder"
    blocker.write_text("a file where the config folder should be")
    monkeypatch.setenv("ARTSHADE_CONFIG_DIR", str(blocker / "config"))
    host = start_host()
    reply = host.ask({"action": "pair"})
    assert error_code(reply) == 9
    assert host.ask({"action": "hello", "protocol": 1})["ok"] is True
    assert host.finish() == 0
    assert host.stderr_text() == ""


# --- ensure_daemon argument checks (starting the daemon: test_ensure_daemon.py) ------------------------


@pytest.mark.parametrize("timeout", [0, -1, 121, "10", True, None])
def test_ensure_daemon_checks_timeout(host: HostProcess, timeout: Any) -> None:
    assert error_code(host.ask({"action": "ensure_daemon", "timeout_s": timeout})) == 8
    assert host.finish() == 0
