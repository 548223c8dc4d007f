"""An upload widget in a frame of another site, on an enabled site (real Chromium, the real extension).

The content scripts registered for an enabled site do not reach a frame of another origin.  The popup
lists such frames as not protected and offers to extend protection to them (a host permission asked for on
the artist's click); then the guard runs in frames of that origin, for the enabled site's tab only, with the
enabled site's settings, and stays inert anywhere else.  The frames' own site here is localhost on another
port: another origin, not an enabled site, and one the enabled site's scripts are not registered for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    Daemon,
    ExtensionBrowser,
    SiteServer,
    assert_no_original,
    assert_shaded,
    make_image,
    overlay,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=101)
JPEG = make_image("JPEG", seed=102)


@pytest.fixture(scope="module")
def frame_server() -> Iterator[SiteServer]:
    server = SiteServer().start()
    yield server
    server.stop()


def frame_url(server: SiteServer, page: str) -> str:
    return f"http://localhost:{server.port}/{page}"


def open_popup(browser: ExtensionBrowser, site: str, page: Any) -> Any:
    found = "(url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url).id)"
    tab_id = int(browser.evaluate(found, page.url))
    popup = browser.context.new_page()
    popup.set_viewport_size({"width": 384, "height": 560})
    popup.goto(browser.page_url(f"popup.html?site={site}&tab={tab_id}"))
    popup.wait_for_selector("body[data-tab-checked=true]", state="attached")
    return popup


def pick_in_frame(tab: Any, name: str, data: bytes, media_type: str) -> None:
    frame = tab.frame_locator("iframe")
    frame.locator("#file").set_input_files(files=[{"name": name, "mimeType": media_type, "buffer": data}])


def test_an_upload_widget_in_a_frame_of_another_site(
    tab: Any,
    ready: ExtensionBrowser,
    site_server: SiteServer,
    frame_server: SiteServer,
    real_daemon: Daemon,
    artifacts: Path,
) -> None:
    site, frame_site = site_server.host, f"localhost:{frame_server.port}"
    frame_server.clear()
    tab.goto(site_server.url(f"xframe.html?frame={frame_url(frame_server, 'input.html')}"))
    tab.frame_locator("iframe").locator("#file").wait_for(state="attached")

    # Not protected yet, and the popup says so, offering to extend protection to that frame's site.
    popup = open_popup(ready, site, tab)
    note = popup.locator(f'#frame-notes li[data-frame="{frame_site}"]')
    assert note.get_attribute("data-state") == "unprotected"
    assert "are not protected" in note.inner_text()
    popup.screenshot(path=str(artifacts / "popup-frame-not-protected.png"))
    pick_in_frame(tab, "before.jpg", JPEG, "image/jpeg")
    [upload] = frame_server.wait_for("input", timeout=60)
    assert upload.files()[0].data == JPEG  # what the artist is warned about

    note.locator("button").click()  # the artist's click: the browser asks for that site, then it is granted
    popup.wait_for_selector(f'#frame-notes li[data-frame="{frame_site}"][data-state=reload]')
    assert popup.locator("#reload-note").is_visible()
    popup.close()
    assert ready.storage_get(["frameSites"])["frameSites"] == {site: [frame_site]}

    tab.reload()
    frame_server.clear()
    pick_in_frame(tab, "after.png", PNG, "image/png")
    [upload] = frame_server.wait_for("input")
    # shaded for the enabled site (its settings), never the original
    assert_shaded(upload.files()[0].data, PNG, real_daemon, "image/png", site)
    assert_no_original(frame_server, PNG)
    popup = open_popup(ready, site, tab)
    assert (
        popup.locator(f'#frame-notes li[data-frame="{frame_site}"]').get_attribute("data-state")
        == "protected"
    )
    assert popup.locator("#reload-note").is_hidden()
    popup.close()


def test_the_frame_guard_stays_inert_outside_the_enabled_sites_tabs(
    tab: Any, ready: ExtensionBrowser, site_server: SiteServer, frame_server: SiteServer, real_daemon: Daemon
) -> None:
    """The same uploader opened on its own (its site is not enabled): the scripts registered for its origin
    do nothing there, the site gets what the artist picked, as on any site that is off."""
    ready.call("protectFrames", site=site_server.host, frame=f"localhost:{frame_server.port}")
    frame_server.clear()
    tab.goto(frame_url(frame_server, "input.html"))
    tab.set_input_files("#file", files=[{"name": "own.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
    [upload] = frame_server.wait_for("input", timeout=60)
    assert upload.files()[0].data == JPEG
    time.sleep(0.5)
    assert overlay(tab)[0] is None


def test_a_frame_site_is_granted_only_for_an_enabled_site(
    ready: ExtensionBrowser, frame_server: SiteServer
) -> None:
    with pytest.raises(AssertionError, match="protection is not on for x.com"):
        ready.call("protectFrames", site="x.com", frame=f"localhost:{frame_server.port}")
    with pytest.raises(AssertionError, match="not a site"):
        ready.call("protectFrames", site="x.com", frame="not a site!")


def test_the_options_page_lists_the_frame_sites_and_stops_protecting_them(
    ready: ExtensionBrowser, site_server: SiteServer, frame_server: SiteServer
) -> None:
    site, frame_site = site_server.host, f"localhost:{frame_server.port}"
    ready.call("protectFrames", site=site, frame=frame_site)
    page = ready.context.new_page()
    try:
        page.goto(ready.page_url("options.html"))
        page.wait_for_selector("body[data-ready=true]")
        line = page.locator(f'tr[data-site="{site}"] .frame-site[data-frame="{frame_site}"]')
        assert frame_site in line.inner_text()
        line.locator("button").click()
        line.wait_for(state="detached")
    finally:
        page.close()
    assert ready.storage_get(["frameSites"])["frameSites"] == {}
    registered = ready.evaluate(
        "() => chrome.scripting.getRegisteredContentScripts().then((s) => s.flatMap((x) => x.matches))"
    )
    assert "http://localhost/*" not in registered
