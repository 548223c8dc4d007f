"""Issue 7 end to end: real Chromium with its own --user-data-dir whose NativeMessagingHosts folder has the
installed host manifest.  The unpacked extension pairs with no manual step, the host starts the stopped
daemon, and an upload on a test page comes out shaded.  (Its own module: it launches its own browser.)"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ext_harness import (
    Daemon,
    ExtensionBrowser,
    SiteServer,
    artshade_env,
    assert_shaded,
    chromium_with,
    make_image,
    wait_overlay,
    wait_until,
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


@pytest.fixture
def daemon_down(real_daemon: Daemon) -> Iterator[Daemon]:
    """The session daemon stopped; afterwards whatever the host started is stopped and ours restarted."""
    real_daemon.stop()
    yield real_daemon
    runtime = real_daemon.home / "data" / "daemon.json"
    if real_daemon.healthy() and runtime.exists():
        os.kill(json.loads(runtime.read_text())["pid"], signal.SIGTERM)
        wait_until(lambda: not real_daemon.healthy(), 60, "the host-started daemon to stop")
    real_daemon.start()


def test_native_host_pairs_and_starts_the_daemon(
    daemon_down: Daemon, built_extension: dict[str, Path], site_server: SiteServer,
    tmp_path: Path, artifacts: Path,
) -> None:
    from native_messaging import install

    daemon = daemon_down
    assert not daemon.healthy()
    env = {**daemon.env, "ARTSHADE_PORT": str(daemon.port)}
    profile = tmp_path / "profile"
    with artshade_env(env):  # ARTSHADE_* at install time become the launcher's defaults
        install.install(["chromium"], user_data_dir=str(profile), os_name="linux")

    with chromium_with(built_extension["chromium"], profile, env=env) as browser:
        # Installed -> the background asks the host: hello, pair, ensure_daemon.  No manual step.
        stored = wait_until(lambda: (s := browser.storage_get(["token", "daemonUrl", "pairedBy"])).get("token") and s,
                            180, "the extension to pair through the native host")
        assert stored == {"token": daemon.token, "daemonUrl": daemon.url, "pairedBy": "native host"}
        assert daemon.healthy()  # started by the host
        started_pid = json.loads((daemon.home / "data" / "daemon.json").read_text())["pid"]
        assert started_pid != os.getpid()

        paired = json.loads((daemon.home / "config" / "paired-origins.json").read_text())["origins"]
        assert f"chrome-extension://{browser.id}" in paired

        popup = browser.context.new_page()
        popup.set_viewport_size({"width": 384, "height": 480})
        popup.goto(browser.page_url(f"popup.html?site={site_server.host}"))
        popup.wait_for_selector("body[data-ready=true]")
        assert popup.locator("#host-state").inner_text() == "installed"
        assert popup.locator("#daemon-state").inner_text() == "running"
        assert popup.locator("#host-install").is_hidden()
        popup.screenshot(path=str(artifacts / "popup-helper-installed.png"))
        popup.close()

        add_site(browser, site_server.host)
        site_server.clear()
        tab: Any = browser.context.new_page()
        tab.goto(site_server.url("input.html"))
        tab.set_input_files("#file", files=[{"name": "n.png", "mimeType": "image/png", "buffer": PNG}])
        [upload] = site_server.wait_for("input")
        assert_shaded(upload.files()[0].data, PNG, daemon, "image/png", site_server.host)
        wait_overlay(tab, "done")
