"""Real Chromium runs the installed host: the manifest in its ``--user-data-dir``, allowed_origins enforced.

A tiny probe extension (generated here, with the artshade manifest ``key`` so it gets the artshade id)
calls ``chrome.runtime.sendNativeMessage`` from its service worker. The full extension's end-to-end flow is in
test_e2e_browser.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install

from artshade import ids
from artshade.pairing import PairingStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEND = """async ([host, message]) => {
  try { return await chrome.runtime.sendNativeMessage(host, message); }
  catch (err) { return {browser_error: String(err && err.message || err)}; }
}"""


def send(worker: Any, message: dict[str, Any]) -> dict[str, Any]:
    """``chrome.runtime.sendNativeMessage`` from the extension's service worker."""
    return worker.evaluate(SEND, [ids.NATIVE_HOST_NAME, message])  # type: ignore[no-any-return]


def probe_extension(folder: Path, *, with_key: bool) -> Path:
    folder.mkdir()
    manifest: dict[str, Any] = {
        "manifest_version": 3,
        "name": "artshade native-messaging probe",
        "version": "0.0.1",
        "permissions": ["nativeMessaging"],
        "background": {"service_worker": "worker.js"},
    }
    if with_key:
        manifest["key"] = ids.CHROME_EXTENSION_KEY
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "worker.js").write_text("self.addEventListener('install', () => {});\n")
    return folder


def test_chromium_starts_the_host_and_pairs(
    tmp_path: Path, isolated_home: Path, daemon_port: int, chromium_with_extension: Any
) -> None:
    profile = tmp_path / "profile"
    install.install(["chromium"], user_data_dir=str(profile), os_name="linux")
    _context, worker = chromium_with_extension(probe_extension(tmp_path / "probe", with_key=True), profile)
    assert worker.url.startswith(f"chrome-extension://{ids.CHROME_EXTENSION_ID}/")

    hello = send(worker, {"action": "hello", "request_id": "h", "protocol": 1})
    assert hello["ok"] is True and hello["protocol"] == 1, hello
    paired = send(worker, {"action": "pair", "request_id": "p"})
    assert paired["ok"] is True, paired
    assert paired["origin"] == f"chrome-extension://{ids.CHROME_EXTENSION_ID}"
    assert paired["url"] == f"http://127.0.0.1:{daemon_port}"
    origins = json.loads((isolated_home / "config" / "paired-origins.json").read_text())["origins"]
    assert origins == [paired["origin"]]
    # Its own token, kept only as a hash; the daemon's token is not what an extension gets.
    store = PairingStore(isolated_home / "config" / "paired-origins.json")
    assert store.token_origin(paired["token"]) == paired["origin"]
    daemon_token = isolated_home / "config" / "token"
    assert not daemon_token.exists() or daemon_token.read_text().strip() != paired["token"]


def test_chromium_refuses_the_host_to_another_extension(
    tmp_path: Path, isolated_home: Path, chromium_with_extension: Any
) -> None:
    profile = tmp_path / "profile"
    install.install(["chromium"], user_data_dir=str(profile), os_name="linux")
    _context, worker = chromium_with_extension(probe_extension(tmp_path / "other", with_key=False), profile)
    assert ids.CHROME_EXTENSION_ID not in worker.url
    reply = send(worker, {"action": "pair", "request_id": "p"})
    assert "forbidden" in reply.get("browser_error", "").lower(), reply
    assert not (isolated_home / "config" / "paired-origins.json").exists()
