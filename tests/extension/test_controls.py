"""The artist's controls: the popup's switch takes effect without a reload and shows the confirmed state;
sites that are off (or were never added) get the original bytes; the popup shows the daemon's status."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    Daemon,
    ExtensionBrowser,
    SiteServer,
    assert_shaded,
    b64,
    make_image,
    overlay,
    wait_overlay,
    wait_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JPEG = make_image("JPEG", seed=2)  # the same image as test_uploads: the daemon's cache answers it


def open_popup(browser: ExtensionBrowser, site: str, tab_id: int | None = None) -> Any:
    """The popup as for ``site`` (and for the tab ``tab_id``, whose notes it shows, once it has checked)."""
    popup = browser.context.new_page()
    popup.set_viewport_size({"width": 384, "height": 560})
    popup.goto(browser.page_url(f"popup.html?site={site}" + (f"&tab={tab_id}" if tab_id is not None else "")))
    popup.wait_for_selector("body[data-ready=true]")
    if tab_id is not None:
        popup.wait_for_selector("body[data-tab-checked=true]", state="attached")
    return popup


def tab_id_of(browser: ExtensionBrowser, page: Any) -> int:
    found = "(url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url).id)"
    return int(browser.evaluate(found, page.url))


def flip(popup: Any, want: bool) -> None:
    """Click the switch and wait until the popup shows what the background confirmed."""
    switch = popup.locator("#site-switch")
    switch.click()
    popup.wait_for_selector(f'#site-switch[aria-busy=false][data-confirmed="{str(want).lower()}"]')
    assert switch.get_attribute("aria-checked") == str(want).lower()


def test_popup_switch_takes_effect_without_reload(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer, real_daemon: Daemon, artifacts: Path
) -> None:
    tab.goto(site_server.url("editor.html"))
    popup = open_popup(ready, site_server.host)
    assert popup.locator("#site-switch").get_attribute("aria-checked") == "true"
    assert popup.locator("#daemon-state").inner_text() == "running"
    assert "CPU" in popup.locator("#daemon-device").inner_text()
    assert popup.locator("#daemon-queue").inner_text() == "empty"
    assert popup.locator("#host-state").inner_text() == "not installed"
    assert popup.locator("#install-command").inner_text() == "artshade install-browser-host"
    popup.screenshot(path=str(artifacts / "popup-on.png"))

    flip(popup, False)
    assert site_server.host not in ready.storage_get(["enabledSites"])["enabledSites"]
    popup.screenshot(path=str(artifacts / "popup-off.png"))
    tab.evaluate("(b) => uploadEdited(b, 'image/jpeg')", b64(JPEG))  # same tab, never reloaded
    [upload] = site_server.wait_for("raw")
    assert upload.parts[0].data == JPEG  # protection is off: the original, as the artist chose
    assert overlay(tab)[0] is None

    flip(popup, True)
    site_server.clear()
    tab.evaluate("(b) => uploadEdited(b, 'image/jpeg')", b64(JPEG))
    [upload] = site_server.wait_for("raw")
    assert_shaded(upload.parts[0].data, JPEG, real_daemon, "image/jpeg", site_server.host)
    popup.close()


def test_popup_intensity_is_per_site_and_confirmed(ready: ExtensionBrowser, site_server: SiteServer) -> None:
    popup = open_popup(ready, site_server.host)
    popup.select_option("#intensity", "high")
    popup.wait_for_selector("#site-switch[aria-busy=false]")
    profiles = ready.storage_get(["siteProfiles"])["siteProfiles"]
    assert profiles[site_server.host]["intensity"] == "high"
    popup.reload()
    popup.wait_for_selector("body[data-ready=true]")
    assert popup.locator("#intensity").input_value() == "high"
    popup.select_option("#intensity", "default")  # back, so other tests hit the daemon's cache
    popup.wait_for_selector("#site-switch[aria-busy=false]")
    assert ready.storage_get(["siteProfiles"])["siteProfiles"][site_server.host]["intensity"] == "default"
    popup.close()


def test_a_site_never_added_gets_the_original(tab: Any, site_server: SiteServer) -> None:
    # Same server, reached as localhost: not in the site list, so artshade does not touch it at all.
    tab.goto(f"http://localhost:{site_server.port}/input.html")
    tab.set_input_files("#file", files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    assert wait_status(tab, "uploaded", timeout=60) == "uploaded 1"
    [upload] = site_server.received("input")
    assert upload.files()[0].data == JPEG
    assert overlay(tab)[0] is None


RELOAD = "reload this tab to protect uploads in it"


def test_enabling_a_site_in_the_popup_asks_to_reload_its_open_tab(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer, real_daemon: Daemon, artifacts: Path
) -> None:
    """A tab open before its site is enabled cannot be guarded (the page's code ran first): the popup says
    "reload this tab", and until then an image upload in it is blocked with that message, never sent.
    After the reload the same upload arrives shaded."""
    site = f"localhost:{site_server.port}"
    tab.goto(f"http://{site}/editor.html")  # open before the site is enabled: no content scripts yet
    popup = open_popup(ready, site, tab_id_of(ready, tab))
    assert popup.locator("#site-switch").get_attribute("aria-checked") == "false"
    assert popup.locator("#reload-note").is_hidden()
    flip(popup, True)  # registers the content scripts; this open tab gets them marked late
    popup.wait_for_selector("#reload-note:not([hidden])")
    assert popup.locator("#reload-tab").is_visible()
    popup.screenshot(path=str(artifacts / "popup-reload-this-tab.png"))
    popup.close()
    try:
        tab.evaluate("(b) => uploadEdited(b, 'image/jpeg')", b64(JPEG))  # no reload
        assert RELOAD in wait_status(tab, "failed", timeout=60)
        assert RELOAD in wait_overlay(tab, "error", timeout=60)
        time.sleep(1)
        assert site_server.uploads == []

        tab.reload()
        popup = open_popup(ready, site, tab_id_of(ready, tab))
        assert popup.locator("#reload-note").is_hidden()
        popup.close()
        tab.evaluate("(b) => uploadEdited(b, 'image/jpeg')", b64(JPEG))
        [upload] = site_server.wait_for("raw")
        assert_shaded(upload.parts[0].data, JPEG, real_daemon, "image/jpeg", site)
        assert JPEG not in site_server.all_bytes()
    finally:
        ready.call("removeSite", site=site)
    assert site not in ready.storage_get(["knownSites"])["knownSites"]


def test_options_page_lists_default_and_offered_sites(ready: ExtensionBrowser, artifacts: Path) -> None:
    page = ready.context.new_page()
    page.goto(ready.page_url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    rows = {r.get_attribute("data-site"): r for r in page.locator("tr[data-site]").all()}
    for site in (
        "instagram.com",
        "artstation.com",
        "deviantart.com",
        "x.com",
        "bsky.app",
        "tumblr.com",
        "behance.net",
        "cara.app",
        "pinterest.com",
    ):
        assert site in rows
    assert rows["instagram.com"].locator("input[type=checkbox]").is_checked()
    assert rows["artstation.com"].locator("input[type=checkbox]").is_checked()
    assert not rows["x.com"].locator("input[type=checkbox]").is_checked()
    assert rows["instagram.com"].locator("select").input_value() == "instagram"
    assert rows["x.com"].locator("select").input_value() == "x"
    assert rows["artstation.com"].locator("select").input_value() == "artstation"
    assert rows["cara.app"].locator("select").input_value() == "none"
    assert page.locator("input[name=policy][value=block]").is_checked()  # fail closed by default
    page.fill("#add-site", "not a site!")
    page.click("#add-site-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#sites-error').textContent.length > 0")
    assert "not a site" in page.locator("#sites-error").inner_text()
    page.screenshot(path=str(artifacts / "options.png"), full_page=True)
    page.close()


def test_a_page_open_before_enabling_cannot_switch_the_guards_off(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer
) -> None:
    """In a tab open before its site was enabled the page's code runs before the MAIN-world script: this
    page waits for the handshake port, would say "not protected" on it and answer every shading request
    with "pass".  No port is offered there at all, and an image it sends is refused with "reload this tab",
    never sent."""
    site = f"localhost:{site_server.port}"
    tab.goto(f"http://{site}/thief.html")
    popup = open_popup(ready, site)
    flip(popup, True)  # puts the scripts into this open tab, marked late
    popup.close()
    try:
        tab.evaluate("(b) => sendPicture(b)", b64(JPEG))
        tab.wait_for_function("() => document.body.dataset.status", timeout=60_000)
        assert tab.evaluate("window.stolen") == 0  # nothing to take
        assert RELOAD in tab.evaluate("document.body.dataset.status")
        time.sleep(1)
        assert site_server.received("thief") == [] and JPEG not in site_server.all_bytes()
    finally:
        ready.call("removeSite", site=site)
