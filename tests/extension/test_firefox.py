"""The Firefox build, run for real: system Firefox ESR (headless) over WebDriver BiDi, the extension
installed as a temporary add-on, the native host installed where Firefox looks for it
(``$HOME/.mozilla/native-messaging-hosts``, with a HOME of the test's own).

The same uploads as in Chromium: Instagram-like and ArtStation-like uploads arrive shaded, a site that was
never added gets the original, and with the daemon down (and no host to start it) the upload is blocked and
nothing is sent.  Page code's other exits (fetch, XHR, beacon, WebSocket, workers, frames) are refused when
shading fails, as in Chromium.  Nothing is pre-paired: the extension pairs itself through the host, with
the ``moz-extension://`` origin of this profile (pinned here so the test knows it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install
from ext_harness import (
    ASK_BUTTONS,
    PAGE_PATHS,
    SHADE_TIMEOUT_S,
    TEXT_IN_REQUEST,
    TEXT_IN_REQUEST_WAYS,
    Daemon,
    SiteServer,
    StandInDaemon,
    artshade_env,
    assert_no_original,
    assert_shaded,
    b64,
    free_port,
    make_image,
    picture_in_text,
    wait_until,
)

from artshade import ids
from artshade.pairing import PairingStore

try:
    from bidi import Firefox, Tab
except ModuleNotFoundError as err:  # websockets, a [test] dependency
    NO_BIDI: str | None = f"needs the websockets package for WebDriver BiDi ({err}; pip install -e '.[test]')"
else:
    NO_BIDI = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JPEG = make_image("JPEG", seed=70)
PNG = make_image("PNG", seed=71)
FIREFOX_BIN = Path(os.environ.get("ARTSHADE_TEST_FIREFOX", "/usr/bin/firefox-esr"))
#: Firefox stops an idle event page after 30 s; shortened here so that a job outliving it takes less time.
#: The extension's keepalive (an API call every 5 s while a job is in flight) must still beat it.
IDLE_TIMEOUT_S = 10


class FirefoxExtension:
    """Firefox with the artshade add-on, its options page open in a tab to talk to the background."""

    def __init__(self, browser: Firefox, origin: str, home: Path) -> None:
        self.browser = browser
        self.origin = origin
        self.home = home
        self.options = browser.new_tab(f"{origin}/options.html")

    def call(self, action: str, **fields: Any) -> Any:
        """A request to the background, sent the way the options page sends it."""
        reply = self.options.call("(m) => browser.runtime.sendMessage(m)", {"action": action, **fields})
        assert reply and reply.get("ok"), f"{action} failed: {reply}"
        return reply["value"]

    def storage(self, keys: list[str]) -> dict[str, Any]:
        return self.options.call("(keys) => browser.storage.local.get(keys)", keys)

    def set_storage(self, values: dict[str, Any]) -> None:
        self.options.call("(values) => browser.storage.local.set(values)", values)

    @property
    def host_manifest(self) -> Path:
        return self.home / ".mozilla" / "native-messaging-hosts" / f"{ids.NATIVE_HOST_NAME}.json"


@pytest.fixture(scope="module")
def firefox(
    built_extension: dict[str, Path],
    real_daemon: Daemon,
    site_server: SiteServer,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts: Path,
    unavailable: Any,
) -> Iterator[FirefoxExtension]:
    if not FIREFOX_BIN.exists():
        unavailable(f"needs Firefox ESR at {FIREFOX_BIN} (`apt install firefox-esr`; .ci/run installs it)")
    if NO_BIDI:
        unavailable(NO_BIDI)
    home = tmp_path_factory.mktemp("firefox-home")  # Firefox's HOME: where it reads host manifests
    env = {**real_daemon.env, "ARTSHADE_PORT": str(real_daemon.port)}
    with artshade_env({**env, "HOME": str(home)}):
        install.install(["firefox"], os_name="linux")  # $HOME/.mozilla/native-messaging-hosts
    pinned = str(uuid.uuid4())
    browser = Firefox(
        tmp_path_factory.mktemp("firefox-profile"),
        env={**os.environ, **env, "HOME": str(home)},
        log=artifacts / "firefox.log",
        extension_uuids={ids.GECKO_EXTENSION_ID: pinned},
        prefs={"extensions.background.idle.timeout": IDLE_TIMEOUT_S * 1000},
    )
    try:
        assert browser.install_extension(built_extension["firefox"]) == ids.GECKO_EXTENSION_ID
        extension = FirefoxExtension(browser, f"moz-extension://{pinned}", home)
        yield extension
    finally:
        browser.close()


@pytest.fixture(scope="module")
def ready(firefox: FirefoxExtension, real_daemon: Daemon, site_server: SiteServer) -> FirefoxExtension:
    """Paired on its own through the host; the two local sites added with their platform profiles."""

    def paired() -> bool:
        stored = firefox.storage(["pairedBy", "daemonUrl", "token"])
        return (
            stored.get("pairedBy") == "native host"
            and stored.get("daemonUrl") == real_daemon.url
            and bool(stored.get("token"))
        )

    wait_until(paired, 120, "the Firefox extension to pair through the native host")
    # its own token (only the hash is on disk), issued to this profile's moz-extension origin; never the
    # daemon's token
    token = firefox.storage(["token"])["token"]
    assert token != real_daemon.token
    assert real_daemon.token_origin(token) == firefox.origin
    firefox.call("setOptions", preset="fast")
    for site, platform in ((site_server.host, "instagram"), (f"localhost:{site_server.port}", "artstation")):
        firefox.call("addSite", site=site)
        assert firefox.call("setSiteState", site=site, platform=platform)["platform"] == platform
    return firefox


@pytest.fixture
def tab(ready: FirefoxExtension, site_server: SiteServer) -> Iterator[Tab]:
    site_server.clear()
    page = ready.browser.new_tab()
    yield page
    page.close()


def status(tab: Tab, prefix: str, timeout: float = SHADE_TIMEOUT_S) -> str:
    return str(
        tab.wait_for(
            "(p) => (document.body.dataset.status || '').startsWith(p) && document.body.dataset.status",
            prefix,
            timeout=timeout,
        )
    )


def overlay_state(tab: Tab, state: str, timeout: float = 60) -> str:
    """The message of the newest overlay once it shows ``state``."""
    return str(
        tab.wait_for(
            "(s) => { const o = [...document.querySelectorAll('[data-artshade-overlay]')].pop();"
            " return o && o.dataset.state === s && o.dataset.message; }",
            state,
            timeout=timeout,
        )
    )


def test_the_extension_paired_itself_with_its_moz_extension_origin(
    ready: FirefoxExtension, real_daemon: Daemon
) -> None:
    with artshade_env(real_daemon.env):
        assert ready.origin in PairingStore().origins()
    state = ready.call("getOptions")
    assert state["paired"] is True and state["pairedBy"] == "native host"
    assert ready.call("daemonStatus")["running"] is True


def test_pairing_with_a_code_from_the_options_page(ready: FirefoxExtension, real_daemon: Daemon) -> None:
    """Without the host's help: the daemon learns the moz-extension origin from the pairing request."""
    with artshade_env(real_daemon.env):
        PairingStore().remove(ready.origin)
    ready.set_storage({"token": "", "pairedBy": ""})
    printed = subprocess.run(
        [sys.executable, "-m", "artshade", "pair"],
        env={**os.environ, **real_daemon.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status = ready.call("pairWithCode", code=printed.stdout.strip())
    assert status["running"] is True and status["status"]["version"]  # a token-protected call went through
    stored = ready.storage(["token", "pairedBy", "daemonUrl"])
    assert stored["pairedBy"] == "pairing code" and stored["daemonUrl"] == real_daemon.url
    assert stored["token"] != real_daemon.token
    assert real_daemon.token_origin(stored["token"]) == ready.origin
    with artshade_env(real_daemon.env):
        assert ready.origin in PairingStore().origins()


def test_instagram_like_upload_arrives_shaded(
    tab: Tab, ready: FirefoxExtension, site_server: SiteServer, real_daemon: Daemon, tmp_path: Path
) -> None:
    picked = tmp_path / "painting.jpg"
    picked.write_bytes(JPEG)
    tab.goto(site_server.url("instagram.html"))
    tab.set_files("#file", [picked])
    assert status(tab, "picked") == "picked"
    tab.call("() => document.querySelector('#share').click()")
    [upload] = site_server.wait_for("rupload")
    sent = upload.parts[0].data
    assert_shaded(sent, JPEG, real_daemon, "image/jpeg", site_server.host, platform="instagram")
    assert upload.headers["X-Entity-Length"] == str(len(sent))
    assert status(tab, "uploaded") == "uploaded 1"
    assert_no_original(site_server, JPEG)


def test_artstation_like_upload_arrives_shaded(
    tab: Tab, site_server: SiteServer, real_daemon: Daemon
) -> None:
    site = f"localhost:{site_server.port}"
    tab.goto(f"http://{site}/artstation.html")
    tab.call("(items) => dropFiles(items)", [[b64(PNG), "sketch.png", "image/png"]])
    [upload] = site_server.wait_for("artstation")
    fields = {p.name: p for p in upload.parts}
    assert fields["file"].filename == "sketch.png"
    assert_shaded(fields["file"].data, PNG, real_daemon, "image/png", site, platform="artstation")
    assert status(tab, "uploaded") == "uploaded 1"
    assert_no_original(site_server, PNG)


def test_a_site_never_added_gets_the_original(tab: Tab, tmp_path: Path) -> None:
    other = SiteServer().start()  # 127.0.0.1 on another port: a site the artist never added
    try:
        picked = tmp_path / "x.jpg"
        picked.write_bytes(JPEG)
        tab.goto(other.url("input.html"))
        tab.set_files("#file", [picked])
        [upload] = other.wait_for("input", timeout=60)
        assert upload.files()[0].data == JPEG
        assert tab.call("() => document.querySelectorAll('[data-artshade-overlay]').length") == 0
    finally:
        other.stop()


@pytest.fixture
def daemon_down(ready: FirefoxExtension, real_daemon: Daemon) -> Iterator[None]:
    """Nothing answers where the extension looks, and there is no native host to start a daemon."""
    hidden = ready.host_manifest.with_suffix(".hidden")
    ready.host_manifest.rename(hidden)
    ready.set_storage({"daemonUrl": f"http://127.0.0.1:{free_port()}"})
    try:
        yield
    finally:
        hidden.rename(ready.host_manifest)
        ready.set_storage({"daemonUrl": real_daemon.url})


def test_daemon_down_blocks_the_upload_and_sends_nothing(
    tab: Tab, site_server: SiteServer, daemon_down: None, tmp_path: Path
) -> None:
    picked = tmp_path / "art.jpg"
    picked.write_bytes(JPEG)
    tab.goto(site_server.url("instagram.html"))
    tab.set_files("#file", [picked])
    message = overlay_state(tab, "error")
    assert "Upload blocked, nothing was sent" in message and "artshade install-browser-host" in message
    assert tab.call("() => document.querySelector('#file').files.length") == 0  # the pick is withdrawn
    assert tab.call("() => document.body.dataset.status || 'idle'") == "idle"  # the page never saw it
    tab.goto(f"http://localhost:{site_server.port}/artstation.html")
    tab.call("(items) => dropFiles(items)", [[b64(PNG), "sketch.png", "image/png"]])
    assert "Upload blocked" in overlay_state(tab, "error")
    assert site_server.uploads == []


# -- every exit page code can send an image through (as tests/extension/test_fail_closed.py in Chromium) --

#: Firefox has no showOpenFilePicker.
FIREFOX_PATHS = [p for p in PAGE_PATHS if p != "picker"]


def run_path(tab: Tab, path: str, data: bytes, media_type: str) -> str | None:
    """Run one upload path of pages/paths.js; the page's outcome, once it has one (None if it is never
    told, as for a message into a shared worker)."""
    tab.call("(n, b, t) => { runPath(n, b, t); }", path, b64(data), media_type)
    if PAGE_PATHS[path] is None:
        return None
    return str(
        tab.wait_for(
            "() => { const s = document.body.dataset.status || ''; return s !== 'working' && s; }",
            timeout=SHADE_TIMEOUT_S,
        )
    )


@pytest.mark.parametrize("path", FIREFOX_PATHS)
def test_page_code_sends_nothing_when_the_daemon_is_down(
    tab: Tab, site_server: SiteServer, daemon_down: None, path: str
) -> None:
    tab.goto(site_server.url("paths.html"))
    seen = run_path(tab, path, PNG, "image/png")
    expected = PAGE_PATHS[path]
    assert seen is None or expected is not None and seen.startswith(expected), seen
    if path != "iframe":
        assert "Upload blocked, nothing was sent" in overlay_state(tab, "error")
    time.sleep(1.0)  # time for a request that slipped through to arrive
    assert_no_original(site_server, PNG)
    sent = [u.parts[0].data for u in site_server.received(path)]
    assert sent == ([b"hello"] if path == "websocket" else [])


@pytest.mark.parametrize("path", FIREFOX_PATHS)
def test_page_code_sends_the_shaded_image(
    tab: Tab, site_server: SiteServer, real_daemon: Daemon, path: str
) -> None:
    tab.goto(site_server.url("paths.html"))
    seen = run_path(tab, path, PNG, "image/png")
    if path == "websocket":
        hello, image, bye = site_server.wait_for("websocket", count=3)
        assert (hello.parts[0].data, bye.parts[0].data) == (b"hello", b"bye")
        sent = image.parts[0].data
    else:
        [upload] = site_server.wait_for(path)
        [sent] = [p.data for p in upload.parts if p.name != "caption"]
    assert_shaded(sent, PNG, real_daemon, "image/png", site_server.host, platform="instagram")
    assert seen is None or seen.startswith(("uploaded", "queued true")), seen
    assert_no_original(site_server, PNG)


@pytest.mark.parametrize("how", TEXT_IN_REQUEST_WAYS)
def test_pictures_written_into_request_bodies_are_shaded(
    tab: Tab, site_server: SiteServer, real_daemon: Daemon, how: str
) -> None:
    tab.goto(site_server.url("editor.html"))
    assert tab.call(TEXT_IN_REQUEST, [b64(PNG), how], timeout=SHADE_TIMEOUT_S) == 200
    [upload] = site_server.wait_for(f"text-{how}")
    sent = picture_in_text(upload, how)
    assert_shaded(sent, PNG, real_daemon, "image/png", site_server.host, platform="instagram")
    assert b64(PNG).encode() not in b"".join(site_server.all_bytes())


@pytest.mark.parametrize("how", TEXT_IN_REQUEST_WAYS)
def test_a_picture_written_into_a_request_body_is_not_sent_when_the_daemon_is_down(
    tab: Tab, site_server: SiteServer, daemon_down: None, how: str
) -> None:
    tab.goto(site_server.url("editor.html"))
    seen = tab.call(TEXT_IN_REQUEST, [b64(PNG), how], timeout=SHADE_TIMEOUT_S)
    assert str(seen).startswith("failed: artshade blocked this upload"), seen
    assert "Upload blocked, nothing was sent" in overlay_state(tab, "error")
    time.sleep(1.0)
    assert site_server.received(f"text-{how}") == []
    assert b64(PNG).encode() not in b"".join(site_server.all_bytes())


# -- a tab open before its site was enabled; an uploader in a frame of another site -------------------------

RELOAD = "reload this tab to protect uploads in it"


def test_a_tab_open_before_enabling_is_blocked_until_reloaded(
    tab: Tab, ready: FirefoxExtension, site_server: SiteServer, real_daemon: Daemon
) -> None:
    """As in Chromium: the page (it ran first) would take the handshake port, say "not protected" and
    answer "pass"; no port is offered there, its picture is refused with "reload this tab", and after the
    reload the same upload arrives shaded."""
    site = f"localhost:{site_server.port}"
    ready.call("removeSite", site=site)
    try:
        tab.goto(f"http://{site}/thief.html")
        ready.call("addSite", site=site)  # puts the scripts into this open tab, marked late
        tab.call("(b) => { sendPicture(b); }", b64(JPEG))
        seen = tab.wait_for("() => document.body.dataset.status", timeout=60)
        assert tab.call("() => window.stolen") == 0  # nothing to take
        assert RELOAD in seen
        assert RELOAD in overlay_state(tab, "error")
        time.sleep(1.0)
        assert site_server.received("thief") == []
        assert_no_original(site_server, JPEG)

        tab.reload()
        tab.call("(b) => { sendPicture(b); }", b64(JPEG))
        [upload] = site_server.wait_for("thief")
        assert_shaded(upload.parts[0].data, JPEG, real_daemon, "image/jpeg", site)
        assert tab.call("() => window.stolen") == 0
        assert_no_original(site_server, JPEG)
    finally:
        ready.call("addSite", site=site)
        ready.call("setSiteState", site=site, platform="artstation")


def test_an_upload_widget_in_a_frame_of_another_site_once_granted(
    tab: Tab, ready: FirefoxExtension, site_server: SiteServer, real_daemon: Daemon, tmp_path: Path
) -> None:
    """As in Chromium (tests/extension/test_frames.py, which also drives the popup): not protected until
    granted, then shaded for the enabled site.  Here the frame's site is 127.0.0.1 on another port, which
    the scripts registered for this module's sites already reach (loopback match patterns have no port):
    what is tried is the background's choice, from the frame's tab, to guard that frame."""
    other = SiteServer().start()  # 127.0.0.1 on another port: another origin, not an enabled site
    frame_site = other.host
    try:
        picked = tmp_path / "framed.png"
        picked.write_bytes(PNG)
        tab.goto(site_server.url(f"xframe.html?frame={other.url('input.html')}"))
        tab.wait_for("() => document.querySelector('iframe').contentWindow !== null")
        time.sleep(0.5)
        [frame] = tab.frames()
        frame.set_files("#file", [picked])
        [upload] = other.wait_for("input", timeout=60)
        assert upload.files()[0].data == PNG  # not granted: as on a site that is off

        assert ready.call("protectFrames", site=site_server.host, frame=frame_site)["frames"] == [frame_site]
        other.clear()
        tab.reload()
        [frame] = tab.frames()
        frame.wait_for("() => document.readyState === 'complete'")
        frame.set_files("#file", [picked])
        [upload] = other.wait_for("input")
        assert_shaded(
            upload.files()[0].data, PNG, real_daemon, "image/png", site_server.host, platform="instagram"
        )
        assert_no_original(other, PNG)
    finally:
        other.stop()


# -- a long job ---------------------------------------------------------------------------------------------


@pytest.fixture
def slow_daemon(ready: FirefoxExtension, real_daemon: Daemon) -> Iterator[StandInDaemon]:
    """A daemon whose job takes twice as long as Firefox lets an idle event page live."""
    daemon = StandInDaemon(
        "slow", seconds=2 * IDLE_TIMEOUT_S, result=(make_image("PNG", seed=79), "image/png")
    ).start()
    ready.set_storage({"daemonUrl": daemon.url})
    try:
        yield daemon
    finally:
        ready.set_storage({"daemonUrl": real_daemon.url})
        daemon.stop()


def test_a_job_longer_than_the_idle_timeout_still_arrives(
    tab: Tab, site_server: SiteServer, slow_daemon: StandInDaemon
) -> None:
    tab.goto(f"http://localhost:{site_server.port}/artstation.html")
    tab.call("(items) => dropFiles(items)", [[b64(PNG), "long.png", "image/png"]])
    [upload] = site_server.wait_for("artstation", timeout=6 * IDLE_TIMEOUT_S)
    assert {p.name: p.data for p in upload.parts}["file"] == slow_daemon.result[0]  # type: ignore[index]
    assert status(tab, "uploaded") == "uploaded 1"


@pytest.mark.parametrize(("how", "seed"), [("click", 91), ("submit", 92)])
def test_a_plain_form_sent_while_its_pick_is_shaded_sends_the_shaded_image(
    tab: Tab, site_server: SiteServer, real_daemon: Daemon, tmp_path: Path, how: str, seed: int
) -> None:
    original = make_image("PNG", seed=seed)
    picked = tmp_path / "new.png"
    picked.write_bytes(original)
    tab.goto(site_server.url("form.html"))
    tab.set_files("#file", [picked])
    assert tab.call("() => document.querySelector('#file').files.length") == 0  # nothing to read
    tab.call("(how) => sendForm(how)", how)
    [upload] = site_server.wait_for("form")
    fields = {p.name: p for p in upload.parts}
    assert fields["title"].data == b"my painting"
    assert_shaded(fields["picture"].data, original, real_daemon, "image/png", site_server.host,
                  platform="instagram")  # fmt: skip
    assert_no_original(site_server, original)


#: a page script that changes the card's box every 50 ms (a moving target under the cursor)
FIDGET = (
    "() => { let i = 0; "
    "window.fidget = setInterval(() => { HOST.style.outlineWidth = `${i++ % 2}px`; }, 50); }"
)


def test_the_ask_card_cannot_be_clickjacked(
    tab: Tab, ready: FirefoxExtension, site_server: SiteServer, daemon_down: None
) -> None:
    """As in Chromium: a closed root, and "Upload unprotected" counts only when really visible, for a
    moment; then the artist's own click lets it through."""
    ready.call("setOptions", policy="ask")
    try:
        tab.goto(f"http://localhost:{site_server.port}/artstation.html")
        tab.call("(items) => dropFiles(items)", [[b64(PNG), "ask.png", "image/png"]])
        overlay_state(tab, "ask")
        host = "[...document.querySelectorAll('[data-artshade-overlay]')].pop()"
        assert tab.call(f"() => {host}.shadowRoot") is None

        def click_yes() -> None:
            where = tab.call(ASK_BUTTONS)
            assert where and where["open"] is False
            tab.click_at(*where["yes"])

        # a page that keeps changing the card: never on screen unchanged for long enough
        tab.call(FIDGET.replace("HOST", host))
        time.sleep(1)
        click_yes()  # too soon after the last change
        tab.call("() => { clearInterval(window.fidget); }")
        tab.call(f"() => {{ {host}.style.setProperty('opacity', '0', 'important'); }}")
        time.sleep(1)
        click_yes()  # invisible
        tab.call("() => { document.body.style.opacity = '0.05'; }")
        tab.call(f"() => {{ {host}.style.setProperty('opacity', '1', 'important'); }}")
        time.sleep(1)
        click_yes()  # the page made nearly transparent
        time.sleep(0.5)
        assert site_server.uploads == []
        assert tab.call(f"() => {host}.dataset.state") == "ask"
        tab.call("() => { document.body.style.opacity = ''; }")
        time.sleep(1)
        click_yes()
        [upload] = site_server.wait_for("artstation", timeout=60)
        assert PNG in [p.data for p in upload.parts]
    finally:
        ready.call("setOptions", policy="block")


def test_a_format_the_engine_cannot_shade_is_blocked_saying_so(
    tab: Tab, site_server: SiteServer, tmp_path: Path
) -> None:
    picked = tmp_path / "anim.gif"
    picked.write_bytes(make_image("GIF", seed=93))
    tab.goto(site_server.url("instagram.html"))
    tab.set_files("#file", [picked])
    message = overlay_state(tab, "error")
    assert "not protected: this format (GIF)" in message
    assert tab.call("() => document.body.dataset.status || 'idle'") == "idle"
    assert site_server.uploads == []


def test_check_card_for_a_picture_saved_from_the_site(
    tab: Tab, ready: FirefoxExtension, site_server: SiteServer, tmp_path: Path
) -> None:
    """The options page's "Check a posted picture", in Firefox: the picture the site got, saved back from
    it (re-encoded at Instagram's quality), checked against this extension's own upload."""
    import io

    from PIL import Image

    picked = tmp_path / "painting.jpg"
    picked.write_bytes(make_image("JPEG", seed=72, size=256))
    tab.goto(site_server.url("instagram.html"))
    tab.set_files("#file", [picked])
    assert status(tab, "picked") == "picked"
    tab.call("() => document.querySelector('#share').click()")
    [upload] = site_server.wait_for("rupload")
    saved = io.BytesIO()
    Image.open(io.BytesIO(upload.parts[0].data)).convert("RGB").save(saved, "JPEG", quality=75)
    posted = tmp_path / "from-the-site.jpg"
    posted.write_bytes(saved.getvalue())

    options = ready.options
    options.set_files("#check-file", [posted])
    headline = options.wait_for(
        "() => !document.querySelector('#check-card').hidden"
        " && document.querySelector('#check-headline').textContent",
        timeout=SHADE_TIMEOUT_S,
    )
    facts = options.call(
        "() => [...document.querySelectorAll('#check-facts li')].map((li) => li.textContent)"
    )
    assert headline.startswith("Kept ") or headline in ("Protection found", "No protection found"), headline
    assert facts[:3] == ["Kept its size (256 x 256)", "JPEG quality ≈ 75", "Not cropped"], facts
    assert facts[4] == "The site fits the instagram profile", facts  # the profile this site was protected for
