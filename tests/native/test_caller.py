"""Who may use the host: what the browser passes on the command line, and the origins a caller may pair."""

from __future__ import annotations

import pytest
from artshade.native_messaging.caller import identify
from artshade.native_messaging.errors import HostError

from artshade import ids
from artshade.cli import build_parser

CHROME = f"chrome-extension://{ids.CHROME_EXTENSION_ID}"
MOZ = "moz-extension://3c7b4a8e-2f1d-4e55-9a0b-6d2c1e9f8a47"


def test_chrome_caller_is_taken_from_argv() -> None:
    caller = identify([CHROME + "/"])
    assert (caller.browser, caller.allowed, caller.origin) == ("chrome", True, CHROME)
    assert caller.paired_origin(None) == CHROME
    assert caller.paired_origin(CHROME) == CHROME
    assert caller.paired_origin(CHROME + "/") == CHROME
    for claim in (CHROME + "//", CHROME.upper(), MOZ, CHROME + "/x"):
        with pytest.raises(HostError) as err:
            caller.paired_origin(claim)
        assert err.value.code == 4


def test_windows_parent_window_flag_is_skipped() -> None:
    assert identify([CHROME + "/", "--parent-window=0"]).allowed
    assert identify(["--parent-window=0", CHROME + "/"]).allowed


def test_firefox_caller_is_the_gecko_id_in_argv2() -> None:
    caller = identify(["/some/manifest.json", ids.GECKO_EXTENSION_ID])
    assert (caller.browser, caller.allowed) == ("firefox", True)
    assert caller.paired_origin(MOZ) == MOZ
    assert caller.paired_origin(MOZ + "/") == MOZ
    assert not identify(["/some/manifest.json", "evil@example.org"]).allowed


@pytest.mark.parametrize(
    "argv",
    [
        [],
        [""],
        ["chrome-extension://"],
        [f"chrome-extension://{'a' * 32}/"],
        ["x", "y", ids.GECKO_EXTENSION_ID],
        [ids.GECKO_EXTENSION_ID],
    ],
)
def test_everything_else_is_not_allowed(argv: list[str]) -> None:
    caller = identify(argv)
    assert not caller.allowed
    with pytest.raises(HostError) as err:
        caller.paired_origin(MOZ)
    assert err.value.code == 4


def test_native_host_subcommand_is_hidden_from_help() -> None:
    text = build_parser().format_help()
    assert "install-browser-host" in text and "native-host" not in text.replace("install-browser-host", "")
