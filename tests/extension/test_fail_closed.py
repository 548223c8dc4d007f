"""No path sends an original when protection was asked for (real Chromium, the real extension).

Each way page code can send an image (fetch with every body type, XHR, sendBeacon, WebSocket, dedicated,
module, nested and shared workers, a fresh same-origin frame, the file picker) and each way the artist hands
one over (file input, drop, paste) is tried with shading failing: nothing answers at the daemon's address,
and (for some paths) the daemon's queue is full, or it accepts the job and then fails it.  No original byte
may reach the site.  The same paths with the daemon up must deliver the shaded image (so the guards do not
just block everything), and an XHR the page sends again after a block goes through protection again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ext_harness import (
    PAGE_PATHS,
    TEXT_IN_REQUEST,
    TEXT_IN_REQUEST_WAYS,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    StandInDaemon,
    assert_no_original,
    assert_shaded,
    b64,
    free_port,
    make_image,
    wait_overlay,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PNG = make_image("PNG", seed=21)
JPEG = make_image("JPEG", seed=22)
FAILURES = ["down", *StandInDaemon.FAILING]
BLOCK_WAIT_S = 60

#: paths whose refusal shows in a frame's own overlay, not the page's.
OVERLAY_ELSEWHERE = {"iframe"}

# Stands in for the file dialog (automation cannot answer it): it returns a real file handle, from the
# origin-private file system, which the page filled first.  Runs before the extension's page script.
PICKER = """
if (location.pathname === '/paths.html') {
  window.showOpenFilePicker = async () => {
    const root = await navigator.storage.getDirectory();
    return [await root.getFileHandle('picked-image')];
  };
}
"""


@pytest.fixture(scope="module")
def failing_daemons() -> Iterator[dict[str, StandInDaemon]]:
    daemons = {mode: StandInDaemon(mode).start() for mode in StandInDaemon.FAILING}
    yield daemons
    for daemon in daemons.values():
        daemon.stop()


@pytest.fixture(scope="module")
def paths_browser(ready: ExtensionBrowser) -> ExtensionBrowser:
    ready.context.add_init_script(PICKER)
    return ready


def point_at(browser: ExtensionBrowser, url: str) -> None:
    browser.storage_set({"daemonUrl": url})


@pytest.fixture
def failure(
    request: pytest.FixtureRequest,
    paths_browser: ExtensionBrowser,
    real_daemon: Daemon,
    failing_daemons: dict[str, StandInDaemon],
) -> Iterator[str]:
    """The extension's daemon fails in one of three ways (``down`` unless the test picks another with
    indirect parametrisation); the real one is back afterwards."""
    mode = getattr(request, "param", "down")
    point_at(
        paths_browser, f"http://127.0.0.1:{free_port()}" if mode == "down" else failing_daemons[mode].url
    )
    yield mode
    point_at(paths_browser, real_daemon.url)


@pytest.fixture
def page(paths_browser: ExtensionBrowser, site_server: SiteServer) -> Iterator[Any]:
    site_server.clear()
    tab = paths_browser.context.new_page()
    tab.goto(site_server.url("paths.html"))
    yield tab
    tab.close()


def run(page: Any, path: str, data: bytes, media_type: str) -> None:
    """Start one upload path on the page (its outcome lands in the page's status line)."""
    page.evaluate("([n, b, t]) => { runPath(n, b, t); }", [path, b64(data), media_type])


def outcome(page: Any, timeout: float = BLOCK_WAIT_S) -> str:
    """What the page saw of its upload, once it saw anything."""
    page.wait_for_function(
        "() => !['', 'working'].includes(document.body.dataset.status || '')", timeout=timeout * 1000
    )
    return str(page.evaluate("document.body.dataset.status"))


def settle(server: SiteServer) -> None:
    """Give a request that slipped through time to arrive before asserting it did not."""
    time.sleep(1.0)
    assert_no_original(server, PNG, JPEG)


@pytest.mark.parametrize("path", list(PAGE_PATHS))
def test_page_code_sends_nothing_when_shading_fails(
    page: Any, site_server: SiteServer, failure: str, path: str
) -> None:
    run(page, path, PNG, "image/png")
    expected = PAGE_PATHS[path]
    if expected is not None:
        assert outcome(page).startswith(expected)
    if path not in OVERLAY_ELSEWHERE:
        assert "Upload blocked, nothing was sent" in wait_overlay(page, "error", timeout=BLOCK_WAIT_S)
    settle(site_server)
    if path == "websocket":
        assert [u.parts[0].data for u in site_server.received("websocket")] == [b"hello"]
    else:
        assert site_server.received(path) == []


@pytest.mark.parametrize("failure", FAILURES, indirect=True)
@pytest.mark.parametrize("path", ["fetch-file", "worker-fetch"])
def test_every_kind_of_failure_blocks(page: Any, site_server: SiteServer, failure: str, path: str) -> None:
    run(page, path, JPEG, "image/jpeg")
    assert outcome(page).startswith("failed: artshade blocked this upload")
    assert "Upload blocked, nothing was sent" in wait_overlay(page, "error", timeout=BLOCK_WAIT_S)
    settle(site_server)
    assert site_server.received(path) == []


@pytest.mark.parametrize("failure", FAILURES, indirect=True)
def test_an_xhr_sent_again_after_a_block_is_protected_again(
    page: Any, paths_browser: ExtensionBrowser, site_server: SiteServer, failure: str, real_daemon: Daemon
) -> None:
    run(page, "xhr-retry", JPEG, "image/jpeg")
    assert outcome(page) == "failed: xhr error"
    run(page, "xhr-retry-again", JPEG, "image/jpeg")  # the same XHR object, its send() called again
    assert outcome(page) == "failed: xhr error"
    assert page.locator("[data-artshade-overlay][data-state=error]").count() == 2  # refused twice
    settle(site_server)
    assert site_server.received("xhr-retry") == []

    point_at(paths_browser, real_daemon.url)  # the artist starts the app; the page retries once more
    run(page, "xhr-retry-again", JPEG, "image/jpeg")
    [upload] = site_server.wait_for("xhr-retry")
    assert_shaded(upload.parts[0].data, JPEG, real_daemon, "image/jpeg", site_server.host)
    assert upload.headers["X-Entity-Length"] == str(len(upload.parts[0].data))
    assert outcome(page) == "uploaded 200"


@pytest.mark.parametrize("failure", ["down", "job_error"], indirect=True)
@pytest.mark.parametrize("flow", ["input", "drop", "paste"])
def test_the_artists_own_hand_over_sends_nothing_when_shading_fails(
    paths_browser: ExtensionBrowser, site_server: SiteServer, failure: str, flow: str
) -> None:
    site_server.clear()
    tab = paths_browser.context.new_page()
    try:
        tab.goto(site_server.url(f"{flow}.html"))
        if flow == "input":
            tab.set_input_files("#file", files=[{"name": "a.png", "mimeType": "image/png", "buffer": PNG}])
        elif flow == "drop":
            tab.evaluate("(items) => dropFiles(items, 'title')", [[b64(PNG), "a.png", "image/png"]])
        else:
            tab.evaluate("(items) => pasteFiles(items)", [[b64(PNG), "a.png", "image/png"]])
        assert "Upload blocked, nothing was sent" in wait_overlay(tab, "error", timeout=BLOCK_WAIT_S)
        settle(site_server)
        assert site_server.uploads == []
        assert tab.locator("#status").inner_text() == "idle"  # the page never got the files
    finally:
        tab.close()


@pytest.mark.parametrize("how", TEXT_IN_REQUEST_WAYS)
def test_a_picture_written_into_a_request_body_is_not_sent_when_shading_fails(
    page: Any, site_server: SiteServer, failure: str, how: str
) -> None:
    seen = page.evaluate(TEXT_IN_REQUEST, [b64(PNG), how])
    assert str(seen).startswith("failed: artshade blocked this upload"), seen
    assert "Upload blocked, nothing was sent" in wait_overlay(page, "error", timeout=BLOCK_WAIT_S)
    settle(site_server)
    assert site_server.received(f"text-{how}") == []
    assert b64(PNG).encode() not in b"".join(site_server.all_bytes())


def image_part(server: SiteServer, path: str) -> bytes:
    """The bytes of the one image the site received on ``path`` (waiting for it)."""
    if path == "websocket":
        hello, image, bye = server.wait_for("websocket", count=3)
        assert (hello.parts[0].data, bye.parts[0].data) == (b"hello", b"bye")  # the order is kept
        return image.parts[0].data
    [upload] = server.wait_for(path)
    files = [p for p in upload.parts if p.name != "caption"]
    assert len(files) == 1
    return files[0].data


@pytest.mark.parametrize("path", list(PAGE_PATHS))
def test_page_code_sends_the_shaded_image_when_the_daemon_is_up(
    page: Any, site_server: SiteServer, real_daemon: Daemon, path: str
) -> None:
    run(page, path, PNG, "image/png")
    sent = image_part(site_server, path)
    assert_shaded(sent, PNG, real_daemon, "image/png", site_server.host)
    if PAGE_PATHS[path] is not None and not path.startswith("beacon"):
        assert outcome(page).startswith("uploaded")
    assert_no_original(site_server, PNG)


# -- a page whose policy refuses blob: workers (the guarded bootstrap cannot start there) -------------------

STRICT = "strict/paths.html"  # served with Content-Security-Policy: worker-src 'self'
TEXT = b"a plain text note, not an image\n"


def test_a_page_that_refuses_blob_workers_keeps_its_workers_and_guards_their_entrance(
    page: Any, site_server: SiteServer, failure: str
) -> None:
    page.goto(site_server.url(STRICT))
    run(page, "worker-fetch", TEXT, "text/plain")  # the site's own worker still runs
    assert outcome(page) == "uploaded 200"
    assert [u.parts[0].data for u in site_server.received("worker-fetch")] == [TEXT]

    run(page, "worker-blob", PNG, "image/png")  # an image handed into it is refused on the way in
    assert "Upload blocked, nothing was sent" in wait_overlay(page, "error", timeout=BLOCK_WAIT_S)
    settle(site_server)
    assert site_server.received("worker-blob") == []


def test_a_page_that_refuses_blob_workers_gets_images_into_its_workers_shaded(
    page: Any, site_server: SiteServer, real_daemon: Daemon
) -> None:
    page.goto(site_server.url(STRICT))
    run(page, "worker-blob", PNG, "image/png")
    assert_shaded(image_part(site_server, "worker-blob"), PNG, real_daemon, "image/png", site_server.host)
    assert outcome(page) == "uploaded 200"
