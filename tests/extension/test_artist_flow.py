"""The artist's own set-up, as they meet it (real Chromium, the extension, the installed native host).

Nothing is pre-paired: a fresh browser profile with the native host installed where Chromium looks for it.

- The artist already runs ``artshade serve`` before the browser starts: the extension pairs through the host,
  which finds that daemon (from the runtime file it writes), and uploads arrive shaded.
- The artist already runs the watch folder (``artshade watch``): the host starts the daemon beside it; both
  the browser's uploads and a picture dropped in the inbox come out shaded.
- The daemon is restarted while the browser stays open, on the same port and then on another one: the
  next uploads, in the same open tabs, arrive shaded (the extension re-pairs through the host by itself).

Each case has an Instagram-like upload (hidden input, raw-body resumable upload) and an ArtStation-like one
(drag and drop, multipart XHR to a storage bucket), on two local sites with those platform profiles.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install
from ext_harness import (
    EXTENSION_ORIGIN,
    SHADE_TIMEOUT_S,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    Upload,
    assert_no_original,
    assert_shaded,
    b64,
    chromium_with,
    decode,
    make_image,
    overlay,
    wait_status,
    wait_until,
)
from serve_processes import serve_processes, stop_processes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAIR_WAIT_S = 120


@contextlib.contextmanager
def environment(values: dict[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """``os.environ`` with ``values`` set and ``unset`` removed, restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    for key in unset:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def install_host(profile: Path, env: dict[str, str]) -> None:
    """``artshade install-browser-host --browser chromium --user-data-dir profile`` with ``env`` baked in."""
    with environment(env, unset=() if "ARTSHADE_PORT" in env else ("ARTSHADE_PORT",)):
        install.install(["chromium"], user_data_dir=str(profile), os_name="linux")


def wait_paired(browser: ExtensionBrowser, daemon: Daemon) -> None:
    """The extension paired through the host on its own, with ``daemon`` where it now listens, and holds
    its own token (issued to its origin, only the hash on disk), never the daemon's."""

    def paired() -> bool:
        stored = browser.storage_get(["pairedBy", "daemonUrl", "token"])
        return (
            stored.get("pairedBy") == "native host"
            and stored.get("daemonUrl") == daemon.url
            and bool(stored.get("token"))
        )

    wait_until(paired, PAIR_WAIT_S, f"the extension to pair through the native host with {daemon.url}")
    token = browser.storage_get(["token"])["token"]
    assert token != daemon.token
    assert daemon.token_origin(token) == EXTENSION_ORIGIN


class Sites:
    """The two local sites: ``127.0.0.1:P`` set to the Instagram profile, ``localhost:P`` to ArtStation."""

    def __init__(self, server: SiteServer) -> None:
        self.server = server
        self.instagram = server.host
        self.artstation = f"localhost:{server.port}"

    def set_up(self, browser: ExtensionBrowser) -> None:
        browser.call("setOptions", preset="fast")
        for site, platform in ((self.instagram, "instagram"), (self.artstation, "artstation")):
            browser.call("addSite", site=site)
            state = browser.call("setSiteState", site=site, platform=platform)
            assert state["enabled"] and state["platform"] == platform

    def open(self, browser: ExtensionBrowser) -> tuple[Any, Any]:
        instagram = browser.context.new_page()
        instagram.goto(f"http://{self.instagram}/instagram.html")
        artstation = browser.context.new_page()
        artstation.goto(f"http://{self.artstation}/artstation.html")
        return instagram, artstation

    def arrived(self, tab: Any, sink: str) -> Upload:
        """The one upload at ``sink``; fails at once if the extension blocked it (its overlay says why)
        rather than at the give-up point."""

        def check() -> list[Upload] | None:
            if got := self.server.received(sink):
                return got
            state, message = overlay(tab)
            if state == "error":
                raise AssertionError(f"the upload to /sink/{sink} was blocked: {message}")
            return None

        [upload] = wait_until(check, SHADE_TIMEOUT_S, f"an upload at /sink/{sink}")
        return upload

    def upload_both(self, tabs: tuple[Any, Any], daemon: Daemon, seed: int) -> None:
        """An Instagram-like and an ArtStation-like upload, in the open tabs; both must arrive shaded."""
        instagram, artstation = tabs
        jpeg, png = make_image("JPEG", seed=seed), make_image("PNG", seed=seed + 1)
        self.server.clear()

        instagram.set_input_files(
            "#file", files=[{"name": "painting.jpg", "mimeType": "image/jpeg", "buffer": jpeg}]
        )
        assert wait_status(instagram, "picked") == "picked"
        instagram.click("#share")
        upload = self.arrived(instagram, "rupload")
        sent = upload.parts[0].data
        assert_shaded(sent, jpeg, daemon, "image/jpeg", self.instagram, platform="instagram")
        assert upload.headers["X-Entity-Length"] == str(len(sent))
        assert wait_status(instagram, "uploaded") == "uploaded 1"

        artstation.evaluate("(items) => dropFiles(items)", [[b64(png), "sketch.png", "image/png"]])
        upload = self.arrived(artstation, "artstation")
        fields = {p.name: p for p in upload.parts}
        assert fields["file"].filename == "sketch.png"
        assert_shaded(fields["file"].data, png, daemon, "image/png", self.artstation, platform="artstation")
        assert wait_status(artstation, "uploaded") == "uploaded 1"
        assert_no_original(self.server, jpeg, png)


@pytest.fixture
def sites(site_server: SiteServer) -> Sites:
    return Sites(site_server)


@pytest.fixture
def artist_home(tmp_path: Path) -> Iterator[Path]:
    """The artist's ARTSHADE_HOME; every daemon the test caused there is stopped afterwards."""
    home = tmp_path / "artshade-home"
    home.mkdir()
    yield home
    stop_processes(serve_processes(home=home))


def test_daemon_already_running_before_the_browser(
    tmp_path: Path, artist_home: Path, models_dir: Path, built_extension: dict[str, Path], sites: Sites
) -> None:
    daemon = Daemon(artist_home, models_dir, pair_extension=False).start()  # `artshade serve`, by hand
    try:
        profile = tmp_path / "chromium"
        install_host(profile, daemon.env)  # no port baked in: the host reads the daemon's runtime file
        with chromium_with(built_extension["chromium"], profile, env=daemon.env) as browser:
            wait_paired(browser, daemon)
            assert daemon.proc is not None and daemon.proc.poll() is None
            assert serve_processes(home=artist_home) == [daemon.proc.pid]  # the host started no second daemon
            sites.set_up(browser)
            sites.upload_both(sites.open(browser), daemon, seed=40)
    finally:
        daemon.stop()


def test_watch_folder_already_running_before_the_browser(
    tmp_path: Path, artist_home: Path, models_dir: Path, built_extension: dict[str, Path], sites: Sites
) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "protected"
    inbox.mkdir()
    daemon = Daemon(artist_home, models_dir, pair_extension=False)  # not started: the host will start it
    env = {**daemon.env, "ARTSHADE_PORT": str(daemon.port)}
    log = open(tmp_path / "watch.log", "wb")  # noqa: SIM115 - closed below
    watcher = subprocess.Popen(
        [sys.executable, "-m", "artshade", "watch", str(inbox), "--out", str(outbox), "--preset", "fast"],
        env={**os.environ, **daemon.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: b"watching" in (tmp_path / "watch.log").read_bytes(), 120, "the watcher to start")
        profile = tmp_path / "chromium"
        install_host(profile, env)
        with chromium_with(built_extension["chromium"], profile, env=env) as browser:
            wait_paired(browser, daemon)
            assert len(serve_processes(home=artist_home)) == 1  # started by the host, beside the watcher
            sites.set_up(browser)
            sites.upload_both(sites.open(browser), daemon, seed=50)

            original = make_image("PNG", seed=52)
            (inbox / "dropped.png").write_bytes(original)  # the other door, still open
            done = wait_until(
                lambda: list(outbox.glob("dropped*")), SHADE_TIMEOUT_S, "the watch folder's copy"
            )
            shaded = done[0].read_bytes()
            assert shaded != original and decode(shaded).size == decode(original).size
            assert watcher.poll() is None
    finally:
        watcher.terminate()
        watcher.wait(30)
        log.close()


def test_daemon_restarted_while_the_browser_stays_open(
    tmp_path: Path, artist_home: Path, models_dir: Path, built_extension: dict[str, Path], sites: Sites
) -> None:
    daemon = Daemon(artist_home, models_dir, pair_extension=False).start()
    try:
        profile = tmp_path / "chromium"
        install_host(profile, daemon.env)
        with chromium_with(built_extension["chromium"], profile, env=daemon.env) as browser:
            wait_paired(browser, daemon)
            sites.set_up(browser)
            tabs = sites.open(browser)
            sites.upload_both(tabs, daemon, seed=60)

            daemon.stop()  # restarted on the same port: the stored address and token still work
            daemon.start()
            sites.upload_both(tabs, daemon, seed=62)

            daemon.stop()  # restarted elsewhere: the stored address is dead; the host knows the new one
            daemon.move_to_a_new_port()
            daemon.start()
            sites.upload_both(tabs, daemon, seed=64)
            wait_paired(browser, daemon)
            assert serve_processes(home=artist_home) == [daemon.proc.pid if daemon.proc else -1]
    finally:
        daemon.stop()
