"""Every upload flow on an enabled site sends shaded bytes, never the original (real Chromium, real daemon).

The pages imitate real sites: a hidden file input with a delegated (React-style) change handler, an input
in an open shadow root, a drag-and-drop zone posting with XHR, paste into a composer posting a raw body,
and an in-page editor that hands a Blob straight to fetch / XHR.  Each posts to a sink that records bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    EXTENSION_ORIGIN,
    SHADE_TIMEOUT_S,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    decode,
    make_image,
)

from artshade import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=1)
JPEG = make_image("JPEG", seed=2)
TEXT = b"notes that are not an image\n"
ORIGINALS = (PNG, JPEG)


@pytest.fixture(scope="module")
def ready(browser: ExtensionBrowser, real_daemon: Daemon, site_server: SiteServer) -> ExtensionBrowser:
    """The extension paired with the daemon (stored token) and the test site added on the options page."""
    browser.storage_set({"daemonUrl": real_daemon.url, "token": real_daemon.token, "pairedBy": "test", "preset": "fast"})
    page = browser.context.new_page()
    page.goto(browser.page_url("options.html"))
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#add-site", site_server.host)
    page.click("#add-site-form button[type=submit]")
    row = page.locator(f'tr[data-site="{site_server.host}"]')
    row.wait_for()
    assert row.locator("input[type=checkbox]").is_checked()
    page.close()
    return browser


@pytest.fixture
def tab(ready: ExtensionBrowser, site_server: SiteServer) -> Iterator[Any]:
    site_server.clear()
    page = ready.context.new_page()
    yield page
    page.close()


def overlay_state(page: Any) -> tuple[str | None, str | None]:
    host = page.locator("[data-artshade-overlay]").last
    if not host.count():
        return None, None
    return host.get_attribute("data-state"), host.get_attribute("data-message")


def wait_overlay(page: Any, state: str) -> str:
    page.wait_for_selector(f"[data-artshade-overlay][data-state={state}]", state="attached", timeout=SHADE_TIMEOUT_S * 1000)
    return overlay_state(page)[1] or ""


def assert_shaded(sent: bytes, original: bytes, daemon: Daemon, media_type: str) -> None:
    assert sent != original, "the site received the original bytes"
    got, want = decode(sent), decode(original)
    assert got.size == want.size
    # The bytes are the daemon's own result for this image (answered from its cache, so no second shading).
    assert sent == daemon.protect_direct(original, media_type, preset="fast", site=_site(daemon))


_SITE: dict[str, str] = {}


def _site(_daemon: Daemon) -> str:
    return _SITE["site"]


@pytest.fixture(autouse=True, scope="module")
def _remember_site(site_server: SiteServer) -> None:
    _SITE["site"] = site_server.host


def test_extension_has_the_fixed_id(browser: ExtensionBrowser) -> None:
    assert browser.id == ids.CHROME_EXTENSION_ID
    assert EXTENSION_ORIGIN.endswith(browser.id)


def test_hidden_input_with_delegated_handler(tab: Any, site_server: SiteServer, real_daemon: Daemon, artifacts: Path) -> None:
    tab.goto(site_server.url("input.html"))
    tab.set_input_files("#file", files=[{"name": "painting.png", "mimeType": "image/png", "buffer": PNG}])
    wait_overlay(tab, "done")
    tab.screenshot(path=str(artifacts / "overlay-protected.png"))
    [upload] = site_server.wait_for("input")
    [part] = upload.files()
    assert part.filename == "painting.png" and part.content_type == "image/png"
    assert_shaded(part.data, PNG, real_daemon, "image/png")
    assert PNG not in site_server.all_bytes()
