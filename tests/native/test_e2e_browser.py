"""End to end, nothing set up by hand: real Chromium, the unpacked artshade extension, the installed host.

Chromium runs with its own ``--user-data-dir`` whose ``NativeMessagingHosts`` folder holds the manifest that
``install-browser-host --user-data-dir`` wrote. The daemon is not running. The extension pairs through the
host on its own (no token typed anywhere) and the host starts the daemon; an upload on a local test page
then reaches the page's server shaded. The daemon is then stopped, and the next upload brings it back
through the host again.
"""

from __future__ import annotations

import http.server
import importlib.util
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install
from PIL import Image
from serve_processes import serve_processes, stop_processes

from artshade import ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ORIGIN = f"chrome-extension://{ids.CHROME_EXTENSION_ID}"
DAEMON_WAIT_S = 180  # cold start of `artshade serve` on a shared 2-core machine
UPLOAD_WAIT_S = 480  # the first shading of a fresh ARTSHADE_HOME builds caches; the CPUs are shared

PAGE = b"""<!doctype html><meta charset="utf-8"><title>upload test</title>
<input type="file" id="file" accept="image/*">
<p id="state">idle</p>
<script>
  document.getElementById('file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    document.getElementById('state').textContent = 'uploading';
    const response = await fetch('/sink', {method: 'POST', body: file, headers: {'Content-Type': file.type}});
    document.getElementById('state').textContent = response.ok ? 'uploaded' : 'failed';
  });
</script>
"""


class Sink:
    """A local site: serves the test page, records every upload's bytes."""

    def __init__(self) -> None:
        self.uploads: list[bytes] = []
        self.arrived = threading.Condition()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._reply(200, PAGE, "text/html; charset=utf-8")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.arrived:
                    sink.uploads.append(body)
                    sink.arrived.notify_all()
                self._reply(200, b"ok", "text/plain")

            def _reply(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float) -> bytes:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.uploads) >= count, timeout):
                raise AssertionError(f"upload {count} never reached the site within {timeout} s")
            return self.uploads[count - 1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@pytest.fixture
def sink() -> Iterator[Sink]:
    site = Sink()
    yield site
    site.close()


@pytest.fixture
def daemon_cleanup(daemon_port: int) -> Iterator[None]:
    yield
    stop_processes(serve_processes(port=daemon_port))


@pytest.fixture
def built_extension(tmp_path: Path) -> Path:
    """``extension/build.py chromium`` into a temporary folder (the checkout's dist/ is left alone)."""
    spec = importlib.util.spec_from_file_location("artshade_extension_build", REPO / "extension" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.build("chromium", tmp_path / "extension")  # type: ignore[no-any-return]


def png(size: int = 64) -> bytes:
    image = Image.new("RGB", (size, size))
    image.putdata(
        [((x * 4) % 256, (y * 4) % 256, ((x + y) * 2) % 256) for y in range(size) for x in range(size)]
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def call_background(page: Any, request: dict[str, Any]) -> Any:
    reply = page.evaluate("(request) => chrome.runtime.sendMessage(request)", request)
    assert reply["ok"] is True, reply
    return reply["value"]


def assert_shaded(sent: bytes, original: bytes) -> None:
    assert sent != original, "the site received the original"
    with Image.open(io.BytesIO(sent)) as image:
        image.load()
        assert image.size == Image.open(io.BytesIO(original)).size


@pytest.mark.usefixtures("models_dir")  # the daemon the host starts shades with the real weights
def test_extension_pairs_starts_daemon_and_shades_upload(
    tmp_path: Path,
    isolated_home: Path,
    daemon_port: int,
    daemon_health: Any,
    built_extension: Path,
    sink: Sink,
    daemon_cleanup: None,
    chromium_with_extension: Any,
) -> None:
    profile = tmp_path / "profile"
    install.install(["chromium"], user_data_dir=str(profile), os_name="linux")
    assert daemon_health(daemon_port) is None, "a daemon is already running on the test's port"

    context, _worker = chromium_with_extension(built_extension, profile)

    # 1. with no manual step the extension pairs through the host, and the host starts the daemon
    paired = isolated_home / "config" / "paired-origins.json"
    wait_until(
        "pairing through the native host",
        lambda: paired.exists() and ORIGIN in paired.read_text(),
        DAEMON_WAIT_S,
    )
    health = wait_until("the daemon answering", lambda: daemon_health(daemon_port), DAEMON_WAIT_S)
    assert health["service"] == "artshade"
    assert serve_processes(port=daemon_port), "the daemon is not the one the host started on the test's port"

    # 2. enable the local test site (and the fast preset: CPU) the way the options page does
    options = context.new_page()
    options.goto(f"{ORIGIN}/options.html")
    call_background(options, {"action": "setOptions", "preset": "fast"})
    call_background(options, {"action": "addSite", "site": f"127.0.0.1:{sink.port}"})
    state = call_background(options, {"action": "getOptions"})
    assert state["paired"] is True and state["pairedBy"] == "native host"
    assert state["daemonUrl"] == f"http://127.0.0.1:{daemon_port}"

    # 3. an upload on the site comes out shaded
    original = png()
    source = tmp_path / "art.png"
    source.write_bytes(original)
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{sink.port}/")
    page.set_input_files("#file", str(source))
    assert_shaded(sink.wait_for(1, UPLOAD_WAIT_S), original)
    page.wait_for_function("document.getElementById('state').textContent === 'uploaded'", timeout=30_000)

    # 4. the daemon stops; the next upload has the host start it again, and is still shaded
    stop_processes(serve_processes(port=daemon_port))
    assert daemon_health(daemon_port) is None
    page.reload()
    page.set_input_files("#file", str(source))
    assert_shaded(sink.wait_for(2, UPLOAD_WAIT_S), original)
    assert daemon_health(daemon_port) is not None
    assert all(upload != original for upload in sink.uploads)
