"""Pairing without the native host: the options page trades the code `artshade pair` prints for the token.
(With the host installed, pairing needs no step at all: test_native_host.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from ext_harness import (
    EXTENSION_ORIGIN,
    Daemon,
    ExtensionBrowser,
    LoopbackApp,
    make_image,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=1)  # as in test_uploads: the daemon's cache may already know it


def add_site(browser: ExtensionBrowser, site: str) -> None:
    page = browser.context.new_page()
    page.goto(browser.page_url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#preset", "fast")
    page.wait_for_function("() => document.body.dataset.updated")
    page.fill("#add-site", site)
    page.click("#add-site-form button[type=submit]")
    page.locator(f'tr[data-site="{site}"] input[type=checkbox]:checked').wait_for()
    page.close()


def test_pairing_code_from_the_options_page(
    browser: ExtensionBrowser, real_daemon: Daemon, artifacts: Path
) -> None:
    assert not browser.storage_get(["token"]).get("token")
    page = browser.context.new_page()
    page.goto(browser.page_url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#paired").inner_text() == "not yet"

    page.fill("#pair-code", f"{real_daemon.port}-AAAA-BBBB-CCCC")  # well-formed, never issued
    page.click("#pair-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#pair-error').textContent.length > 0")
    assert "wrong, used or expired" in page.locator("#pair-error").inner_text()

    printed = subprocess.run(
        [sys.executable, "-m", "artshade", "pair"],
        env={**os.environ, **real_daemon.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    code = printed.stdout.strip()
    assert code.startswith(f"{real_daemon.port}-")
    page.fill("#pair-code", code.lower())  # typed by hand, any case
    page.click("#pair-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#paired').textContent.startsWith('yes')")
    assert page.locator("#paired").inner_text() == "yes (pairing code)"
    stored = browser.storage_get(["token", "daemonUrl"])
    assert stored["daemonUrl"] == real_daemon.url
    # the extension's own token (only its hash is on disk), never the daemon's
    assert stored["token"] != real_daemon.token
    assert real_daemon.token_origin(stored["token"]) == EXTENSION_ORIGIN
    page.screenshot(path=str(artifacts / "options-paired.png"), full_page=True)
    page.close()


class HostilePairing(LoopbackApp):
    """Answers a pairing code with a token and a daemon URL that is not on this machine."""

    async def _pair(self, request: web.Request) -> web.Response:
        return web.json_response({"token": "t" * 43, "url": "http://192.0.2.7:47815"})

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/pair", self._pair)


def test_a_pairing_reply_naming_another_machine_is_refused(browser: ExtensionBrowser) -> None:
    """The URL in the daemon's reply passes the same loopback-only check as one typed on the options page:
    pairing fails and nothing is stored."""
    before = browser.storage_get(["daemonUrl", "token", "pairedBy"])
    hostile = HostilePairing().start()
    try:
        page = browser.context.new_page()
        page.goto(browser.page_url("options.html"))
        reply = page.evaluate(
            "(code) => chrome.runtime.sendMessage({action: 'pairWithCode', code})",
            f"{hostile.port}-ABCD-EFGH-JKLM",
        )
        page.close()
    finally:
        hostile.stop()
    assert reply["ok"] is False and "not on this machine" in reply["error"]["message"]
    assert browser.storage_get(["daemonUrl", "token", "pairedBy"]) == before
