"""Daemon unreachable: by default the upload is blocked with a clear message and nothing is sent (fail
closed); "ask" lets the artist decide in the overlay; "allow" lets it through unshaded, saying so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    ASK_BUTTONS,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    b64,
    make_image,
    wait_overlay,
    wait_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=3)


@pytest.fixture(scope="module", autouse=True)
def daemon_stopped(ready: ExtensionBrowser, real_daemon: Daemon) -> Iterator[None]:
    real_daemon.stop()
    assert not real_daemon.healthy()
    yield
    real_daemon.start()


def set_policy(browser: ExtensionBrowser, policy: str) -> None:
    page = browser.context.new_page()
    page.goto(browser.page_url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    page.check(f"input[name=policy][value={policy}]")
    page.wait_for_function(
        "(p) => document.querySelector(`input[name=policy][value=${p}]`).checked"
        " && document.body.dataset.updated",
        arg=policy,
    )
    page.close()
    assert browser.storage_get(["policy"])["policy"] == policy


def test_blocked_with_a_message_and_nothing_sent(tab: Any, site_server: SiteServer, artifacts: Path) -> None:
    tab.goto(site_server.url("input.html"))
    tab.set_input_files("#file", files=[{"name": "art.png", "mimeType": "image/png", "buffer": PNG}])
    message = wait_overlay(tab, "error", timeout=60)
    assert "Upload blocked, nothing was sent" in message
    assert "not answering" in message and "artshade install-browser-host" in message
    tab.screenshot(path=str(artifacts / "overlay-blocked.png"))
    assert tab.evaluate("document.querySelector('#file').files.length") == 0  # the pick is withdrawn
    assert tab.locator("#status").inner_text() == "idle"  # the page's handler never ran

    tab.goto(site_server.url("editor.html"))  # the MAIN-world path (fetch of a Blob) is held the same way
    tab.evaluate("(b) => uploadEdited(b, 'image/png')", b64(PNG))
    assert wait_status(tab, "failed", timeout=60).startswith("failed: artshade blocked this upload")
    assert site_server.all_bytes() == []


def test_ask_lets_the_artist_decide(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer, artifacts: Path
) -> None:
    set_policy(ready, "ask")
    try:
        tab.goto(site_server.url("drop.html"))
        tab.evaluate("([items, text]) => dropFiles(items, text)", [[[b64(PNG), "a.png", "image/png"]], "t"])
        wait_overlay(tab, "ask", timeout=60)
        tab.screenshot(path=str(artifacts / "overlay-ask.png"))
        click_ask(tab, "no")
        assert "cancelled" in wait_overlay(tab, "error", timeout=30)
        assert site_server.all_bytes() == []

        tab.evaluate("([items, text]) => dropFiles(items, text)", [[[b64(PNG), "a.png", "image/png"]], "t"])
        tab.wait_for_selector(
            "[data-artshade-overlay][data-state=ask] >> nth=-1", state="attached", timeout=60_000
        )
        time.sleep(1)  # the card must have been on screen for a moment
        click_ask(tab, "yes")
        [upload] = site_server.wait_for("drop", timeout=60)
        assert {p.name: p.data for p in upload.parts}["artwork"] == PNG  # the artist said so
        assert "WITHOUT protection" in wait_overlay(tab, "warn", timeout=30)
    finally:
        set_policy(ready, "block")


#: a page script that changes the card's box every 50 ms (a moving target under the cursor)
FIDGET = (
    "() => { let i = 0; "
    "window.fidget = setInterval(() => { HOST.style.outlineWidth = `${i++ % 2}px`; }, 50); }"
)


def click_ask(tab: Any, button: str) -> None:
    """A real click on the newest ask card's button, where a person sees it."""
    where = tab.evaluate(ASK_BUTTONS)
    assert where is not None and where["open"] is False  # a closed shadow root
    tab.mouse.click(*where[button])


def test_the_ask_card_cannot_be_clickjacked(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer
) -> None:
    """The page cannot reach into the card (closed root), and a real click on "Upload unprotected" counts
    only when the card is really visible and has been for a moment: not the instant it appears, not while
    the page has made it transparent (a decoy drawn under it), not right after the page changed it."""
    set_policy(ready, "ask")
    try:
        tab.goto(site_server.url("drop.html"))
        tab.evaluate("([items, text]) => dropFiles(items, text)", [[[b64(PNG), "j.png", "image/png"]], "t"])
        tab.wait_for_selector("[data-artshade-overlay][data-state=ask]", state="attached", timeout=60_000)
        host = "[...document.querySelectorAll('[data-artshade-overlay]')].pop()"
        assert tab.evaluate(f"() => {host}.shadowRoot") is None
        # a page that keeps changing the card: never on screen unchanged for long enough
        tab.evaluate(FIDGET.replace("HOST", host))
        time.sleep(1)
        click_ask(tab, "yes")  # too soon after the last change
        tab.evaluate("() => { clearInterval(window.fidget); }")
        tab.evaluate(f"() => {host}.style.setProperty('opacity', '0', 'important')")
        time.sleep(1)
        click_ask(tab, "yes")  # invisible: a click meant for whatever the page drew beneath
        tab.evaluate(f"() => {{ {host}.style.setProperty('opacity', '1', 'important'); }}")
        tab.evaluate("() => { document.body.style.opacity = '0.05'; }")
        time.sleep(1)
        click_ask(tab, "yes")  # the whole page, card included, made nearly transparent
        time.sleep(0.5)
        assert site_server.all_bytes() == []
        assert tab.evaluate(f"() => {host}.dataset.state") == "ask"
        tab.evaluate("() => { document.body.style.opacity = ''; }")
        time.sleep(1)
        click_ask(tab, "yes")  # seen, and clicked: the artist's own decision
        [upload] = site_server.wait_for("drop", timeout=60)
        assert {p.name: p.data for p in upload.parts}["artwork"] == PNG
    finally:
        set_policy(ready, "block")


def test_allow_lets_it_through_and_says_so(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer
) -> None:
    set_policy(ready, "allow")
    try:
        tab.goto(site_server.url("paste.html"))
        tab.evaluate("(items) => pasteFiles(items)", [[b64(PNG), "p.png", "image/png"]])
        [upload] = site_server.wait_for("paste", timeout=60)
        assert upload.parts[0].data == PNG
        assert "WITHOUT protection" in wait_overlay(tab, "warn", timeout=30)
    finally:
        set_policy(ready, "block")
