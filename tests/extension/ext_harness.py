"""Helpers for the extension's browser tests: local test pages with an upload sink, the real daemon
(``artshade serve`` on the real tiny weights) pre-paired with the extension, and Chromium with the unpacked
extension.  The fixtures that use them are in conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
from aiohttp import BodyPartReader, WSMsgType, web
from multidict import CIMultiDict
from PIL import Image

from artshade import ids

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "extension"
PAGES = Path(__file__).resolve().parent / "pages"
ARTIFACTS = REPO / "test-artifacts" / "extension"
CHROMIUM = "/usr/bin/chromium"
EXTENSION_ORIGIN = f"chrome-extension://{ids.CHROME_EXTENSION_ID}"
#: shading runs on a shared 2-core CPU in CI; waits are for a condition, this is only the give-up point
#: (below tests/conftest.py's BROWSER_TEST_TIMEOUT_S, so a wait that gives up says what it waited for).
SHADE_TIMEOUT_S = 240


def load_build() -> Any:
    """extension/build.py as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("artshade_extension_build", EXTENSION / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


# -- test images -----------------------------------------------------------------------------------------


def make_image(fmt: str, seed: int, size: int = 32) -> bytes:
    """A small, busy image (shading needs texture); PNG or JPEG bytes."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    img.save(out, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# -- the page server and its upload sink -----------------------------------------------------------------


@dataclass
class Part:
    name: str | None
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Upload:
    sink: str
    headers: CIMultiDict[str]  # case-insensitive, as HTTP headers are
    parts: list[Part] = field(default_factory=list)

    def files(self) -> list[Part]:
        return [p for p in self.parts if p.filename is not None or p.name is None]


class LoopbackApp:
    """An aiohttp app on 127.0.0.1 and a free port, on its own event loop in a thread (for synchronous
    tests).  Subclasses add their routes in ``routes``."""

    client_max_size = 1024**2

    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def _start(self) -> None:
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app.router)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class SiteServer(LoopbackApp):
    """Serves tests/extension/pages on 127.0.0.1 and records every POST /sink/{name}."""

    client_max_size = 64 * 2**20

    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[Upload] = []
        self._lock = threading.Lock()
        #: images served inline by GET /auto/{name}: a page that uploads as soon as it is parsed.
        self.images: dict[str, tuple[bytes, str]] = {}

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, page: str) -> str:
        return f"http://{self.host}/{page}"

    async def _sink(self, request: web.Request) -> web.Response:
        upload = Upload(request.match_info["name"], CIMultiDict(request.headers))
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)  # no nested multipart in the test pages
                data = await part.read(decode=False)
                upload.parts.append(
                    Part(part.name, part.filename, part.headers.get("Content-Type"), bytes(data))
                )
        else:
            upload.parts.append(Part(None, None, request.headers.get("Content-Type"), await request.read()))
        with self._lock:
            self.uploads.append(upload)
        return web.json_response({"ok": True})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Every message on ``/ws/{name}`` is recorded as an upload; each is acknowledged (``got <text>``)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                data, ack = bytes(message.data), f"got {len(message.data)} bytes"
            elif message.type == WSMsgType.TEXT:
                data, ack = str(message.data).encode(), f"got {message.data}"
            else:
                continue
            upload = Upload(
                request.match_info["name"], CIMultiDict(request.headers), [Part(None, None, None, data)]
            )
            with self._lock:
                self.uploads.append(upload)
            await ws.send_str(ack)
        return ws

    async def _strict(self, request: web.Request) -> web.FileResponse:
        """``/strict/{name}``: a page file served with a policy that allows workers only from the site
        itself (no ``blob:``), as some sites' Content-Security-Policy does."""
        path = (PAGES / request.match_info["name"]).resolve()
        if path.parent != PAGES.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(path)
        response.headers["Content-Security-Policy"] = "worker-src 'self'"
        return response

    async def _auto(self, request: web.Request) -> web.Response:
        data, media_type = self.images[request.match_info["name"]]
        html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Upload on load</title></head>
<body><p id="status">idle</p><script src="/common.js"></script><script>
  // Uploads as the page loads: at parse time and again one task later.
  const upload = () => fetch('/sink/auto', {{ method: 'POST',
    body: fileFrom('{b64(data)}', 'early', '{media_type}') }})
    .then((r) => report(r.ok ? 'uploaded' : 'failed ' + r.status), (e) => report('failed: ' + e.message));
  upload();
  setTimeout(upload, 0);
  setTimeout(upload, 5);
</script></body></html>"""
        return web.Response(text=html, content_type="text/html")

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/sink/{name}", self._sink)
        router.add_get("/auto/{name}", self._auto)
        router.add_get("/ws/{name}", self._websocket)
        router.add_get("/strict/{name}", self._strict)
        router.add_static("/", PAGES)

    def received(self, sink: str) -> list[Upload]:
        with self._lock:
            return [u for u in self.uploads if u.sink == sink]

    def all_bytes(self) -> list[bytes]:
        with self._lock:
            return [p.data for u in self.uploads for p in u.parts]

    def wait_for(self, sink: str, count: int = 1, timeout: float = SHADE_TIMEOUT_S) -> list[Upload]:
        return wait_until(
            lambda: len(self.received(sink)) >= count and self.received(sink),
            timeout,
            f"{count} upload(s) at /sink/{sink}",
        )

    def clear(self) -> None:
        with self._lock:
            self.uploads.clear()


# -- the real daemon ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def artshade_env(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Daemon:
    """``artshade serve`` in a subprocess with its own ARTSHADE_HOME, pre-paired with the Chromium extension
    unless ``pair_extension`` is false (then the extension pairs itself, through the native host)."""

    def __init__(self, home: Path, models: Path, *, pair_extension: bool = True) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            "ARTSHADE_HOME": str(home),
            "ARTSHADE_MODELS": str(models),
            "HF_HUB_OFFLINE": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        with artshade_env(self.env):
            from artshade.daemon.http.token import get_or_create_token

            from artshade.pairing import PairingStore

            self.token = get_or_create_token()
            if pair_extension:
                PairingStore().add(EXTENSION_ORIGIN)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def move_to_a_new_port(self) -> None:
        """The next start listens elsewhere (as when the old port is taken after a restart)."""
        self.port = free_port()

    def token_origin(self, token: str) -> str | None:
        """The extension origin ``token`` was issued to by pairing (None for the daemon's own token)."""
        with artshade_env(self.env):
            from artshade.pairing import PairingStore

            return PairingStore().token_origin(token)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/health", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def start(self) -> Daemon:
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "artshade", "serve", "--port", str(self.port), "--no-watch"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"artshade serve exited: {(self.home / 'serve.log').read_text()[-2000:]}"
                )
            return self.healthy()

        wait_until(up, 300, "the daemon to answer /v1/health", interval=0.3)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def protect_direct(self, data: bytes, media_type: str, **params: str) -> bytes:
        """The daemon's own answer for ``data`` (served from its result cache once the extension
        shaded it)."""
        query = "&".join(f"{k}={v}" for k, v in {**params, "wait": "1"}.items())
        req = urllib.request.Request(
            f"{self.url}/v1/protect?{query}",
            data=data,
            method="POST",
            headers={"Content-Type": media_type, "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=SHADE_TIMEOUT_S) as r:
            return bytes(r.read())


class StandInDaemon(LoopbackApp):
    """Answers like the daemon without shading anything, to put the extension in situations the real one
    gets into only by chance.

    ``mode``: ``queue_full`` (``POST /v1/protect`` -> 503 with Retry-After), ``job_error`` (the job is
    accepted, then its event stream reports an error), or ``slow`` (the job reports progress every second
    for ``seconds``, then its result is ``result``: a long job, as the default preset on a CPU).
    ``/v1/health`` is fine, so the extension does not go looking for another daemon.
    """

    FAILING = ("queue_full", "job_error")

    def __init__(self, mode: str, *, seconds: float = 0, result: tuple[bytes, str] | None = None) -> None:
        if mode not in (*self.FAILING, "slow"):
            raise ValueError(f"unknown mode {mode!r}")
        super().__init__()
        self.mode = mode
        self.seconds = seconds
        self.result = result
        self.protect_calls = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": "artshade", "version": "0.1.0"})

    async def _protect(self, request: web.Request) -> web.Response:
        await request.read()
        self.protect_calls += 1
        if self.mode == "queue_full":
            return web.json_response(
                {"error": "queue_full", "detail": "the queue is full; try again in a minute"},
                status=503,
                headers={"Retry-After": "60"},
            )
        return web.json_response({"id": f"job-{self.protect_calls}", "state": "queued"}, status=202)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.mode == "job_error":
            await response.write(b'event: error\ndata: {"error": "internal", "detail": "shading failed"}\n\n')
            return response
        steps = max(1, round(self.seconds))
        for step in range(steps):
            await asyncio.sleep(self.seconds / steps)
            data = json.dumps({"progress": (step + 1) / steps, "stage": "optimising"})
            await response.write(f"event: progress\ndata: {data}\n\n".encode())
        await response.write(b'event: done\ndata: {"state": "done"}\n\n')
        return response

    async def _result(self, request: web.Request) -> web.Response:
        assert self.result is not None
        data, media_type = self.result
        return web.Response(body=data, content_type=media_type)

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/health", self._health)
        router.add_post("/v1/protect", self._protect)
        router.add_get("/v1/jobs/{id}/events", self._events)
        router.add_get("/v1/jobs/{id}/result", self._result)


# -- the browser ---------------------------------------------------------------------------------------------


class ExtensionBrowser:
    """Chromium with the unpacked extension, plus helpers to drive its pages."""

    def __init__(self, context: Any, worker: Any) -> None:
        self.context = context
        self.id = worker.url.split("/")[2]  # only its address: see evaluate
        #: set when the browser goes away (it crashed, or was closed) so the next test says so at once
        self.closed = False
        context.on("close", lambda _: setattr(self, "closed", True))

    def page_url(self, name: str) -> str:
        return f"chrome-extension://{self.id}/{name}"

    def evaluate(self, script: str, arg: Any = None) -> Any:
        """Run ``script`` (a function of ``arg``) with the extension's APIs, in a short-lived extension page.

        Not in the service worker: Chromium may stop an idle MV3 worker (after ~30 s), and Playwright's
        ``evaluate`` on a stopped worker waits for it to start again (playwright#39475), which nothing
        would ask of it.  An extension page has the same APIs and is there when it is asked for."""
        page = self.context.new_page()
        try:
            page.goto(self.page_url("options.html"))
            return page.evaluate(script, arg)
        finally:
            page.close()

    def storage_set(self, values: dict[str, Any]) -> None:
        self.evaluate("(values) => chrome.storage.local.set(values)", values)

    def storage_get(self, keys: list[str]) -> dict[str, Any]:
        return self.evaluate("(keys) => chrome.storage.local.get(keys)", keys)  # type: ignore[no-any-return]

    def call(self, action: str, **fields: Any) -> Any:
        """Send a request to the background the way the options page does (from an extension page)."""
        reply = self.evaluate("(m) => chrome.runtime.sendMessage(m)", {"action": action, **fields})
        if not reply.get("ok"):
            raise AssertionError(f"{action} failed: {reply}")
        return reply["value"]


def launch_args(dist: Path) -> list[str]:
    return [
        "--headless=new",
        f"--disable-extensions-except={dist}",
        f"--load-extension={dist}",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]


@contextlib.contextmanager
def chromium_with(dist: Path, profile: Path, env: dict[str, str] | None = None) -> Iterator[ExtensionBrowser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=False,
            args=launch_args(dist),
            viewport={"width": 900, "height": 640},
            env={**os.environ, **(env or {})},
        )
        try:
            workers = context.service_workers
            worker = workers[0] if workers else context.wait_for_event("serviceworker", timeout=30_000)
            yield ExtensionBrowser(context, worker)
        finally:
            context.close()


# -- assertions and page helpers shared by the test modules -------------------------------------------------


def configure(browser: ExtensionBrowser, daemon: Daemon, site: str) -> None:
    """Pair the extension with ``daemon`` (stored URL + token) and add ``site`` on the options page."""
    browser.storage_set(
        {"daemonUrl": daemon.url, "token": daemon.token, "pairedBy": "test", "preset": "fast"}
    )
    page = browser.context.new_page()
    try:
        page.goto(browser.page_url("options.html"))
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#add-site", site)
        page.click("#add-site-form button[type=submit]")
        row = page.locator(f'tr[data-site="{site}"]')
        row.wait_for()
        assert row.locator("input[type=checkbox]").is_checked()
    finally:
        page.close()


def overlay(page: Any) -> tuple[str | None, str]:
    """(state, message) of the newest artshade overlay on ``page``."""
    host = page.locator("[data-artshade-overlay]").last
    if not host.count():
        return None, ""
    return host.get_attribute("data-state"), host.get_attribute("data-message") or ""


def wait_overlay(page: Any, state: str, timeout: float = SHADE_TIMEOUT_S) -> str:
    page.wait_for_selector(
        f"[data-artshade-overlay][data-state={state}]", state="attached", timeout=timeout * 1000
    )
    return overlay(page)[1]


def wait_status(page: Any, prefix: str, timeout: float = SHADE_TIMEOUT_S) -> str:
    """Wait for the test page's own status line (what the page saw of its upload)."""
    page.wait_for_function(
        "(p) => (document.body.dataset.status || '').startsWith(p)", arg=prefix, timeout=timeout * 1000
    )
    return str(page.evaluate("document.body.dataset.status"))


def assert_shaded(
    sent: bytes, original: bytes, daemon: Daemon, media_type: str, site: str, **params: str
) -> None:
    """``sent`` is the daemon's shaded version of ``original``: different bytes, same size, decodes.
    ``params`` are settings the extension sent besides the preset (``platform=...``)."""
    assert sent != original, "the site received the original bytes"
    got, want = decode(sent), decode(original)
    assert got.size == want.size
    # Byte-for-byte the daemon's own result for this image (answered from its cache: no second shading).
    assert sent == daemon.protect_direct(original, media_type, preset="fast", site=site, **params)


#: The upload paths of pages/paths.js -> what the page reports when the upload is refused (None: the page is
#: never told, e.g. for a message into a shared worker; the overlay says it).
PAGE_PATHS: dict[str, str | None] = {
    "fetch-file": "failed: artshade blocked this upload",
    "fetch-mislabelled": "failed: artshade blocked this upload",
    "fetch-text-typed": "failed: artshade blocked this upload",
    "fetch-request": "failed: artshade blocked this upload",
    "fetch-buffer": "failed: artshade blocked this upload",
    "fetch-view": "failed: artshade blocked this upload",
    "fetch-formdata": "failed: artshade blocked this upload",
    "fetch-stream": "failed: artshade blocked this upload",
    "xhr-blob": "failed: xhr error",
    "xhr-formdata": "failed: xhr error",
    "beacon-blob": "queued true",
    "beacon-formdata": "queued true",
    "websocket": "failed: closed",
    "worker-fetch": "failed: artshade blocked this upload",
    "worker-xhr": "failed: xhr error",
    "worker-blob": "failed: artshade blocked this upload",
    "module-worker": "failed: artshade blocked this upload",
    "nested-worker": "failed: artshade blocked this upload",
    "shared-worker": None,
    "iframe": "failed: artshade blocked this upload",
    "picker": "failed: artshade blocked this upload",
}


def assert_no_original(server: SiteServer, *originals: bytes) -> None:
    """No part of anything the site received contains any byte string of ``originals``."""
    for upload in list(server.uploads):
        for part in upload.parts:
            for original in originals:
                assert original not in part.data, f"the original image reached /{upload.sink} of the site"


RECORD_OVERLAY = """() => {
  window.__overlayStates = [];
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.hasAttribute && r.target.hasAttribute('data-artshade-overlay') &&
        r.attributeName === 'data-message') {
        window.__overlayStates.push([r.target.getAttribute('data-state'),
          r.target.getAttribute('data-message')]);
      }
    }
  }).observe(document.documentElement, { subtree: true, attributes: true,
    attributeFilter: ['data-message'] });
}"""


def record_overlay(page: Any) -> None:
    """Start recording every (state, message) the overlay shows on ``page``."""
    page.evaluate(RECORD_OVERLAY)


def recorded_overlay(page: Any) -> list[tuple[str, str]]:
    return [tuple(x) for x in page.evaluate("window.__overlayStates")]


#: Where the ask card's buttons are (its shadow root is closed: a person clicks them by sight, and so do the
#: tests): the newest ask card's "Cancel upload" and "Upload unprotected" centres, in page coordinates.
ASK_BUTTONS = """() => {
  const host = [...document.querySelectorAll('[data-artshade-overlay][data-state=ask]')].pop();
  if (!host) return null;
  const r = host.getBoundingClientRect();
  const y = r.bottom - 24;
  return { no: [r.right - 230, y], yes: [r.right - 88, y], open: host.shadowRoot !== null };
}"""


#: Page code that writes a picture into a text body and hands it to fetch inside a ``Request`` object (or a
#: FormData text field): ``json`` (a data: URL in JSON), ``params`` (a URLSearchParams field),
#: ``request-and-init`` (a Request with its own body, and an init without one), ``form-text``.  Takes
#: ``[base64 of a PNG, how]``; answers the site's status, or ``failed: <why>``.
TEXT_IN_REQUEST = """async ([b, how]) => {
  const url = '/sink/text-' + how;
  const dataUrl = 'data:image/png;base64,' + b;
  const json = JSON.stringify({ caption: 'hi', image: dataUrl });
  let response;
  if (how === 'json') {
    response = fetch(new Request(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json }));
  } else if (how === 'params') {
    response = fetch(new Request(url, {
      method: 'POST', body: new URLSearchParams({ title: 't', image: b }) }));
  } else if (how === 'request-and-init') {
    response = fetch(new Request(url, { method: 'POST', body: json }), { headers: { 'X-Note': 'folded' } });
  } else {
    const form = new FormData();
    form.append('title', 't');
    form.append('image', dataUrl);
    response = fetch(url, { method: 'POST', body: form });
  }
  return Promise.resolve(response).then((r) => r.status, (e) => `failed: ${e.message}`);
}"""
TEXT_IN_REQUEST_WAYS = ("json", "params", "request-and-init", "form-text")


def picture_in_text(upload: Upload, how: str) -> bytes:
    """The picture's bytes written into an upload sent by ``TEXT_IN_REQUEST`` (the other fields checked)."""
    from urllib.parse import parse_qs

    if how == "form-text":
        fields = {p.name: p.data.decode() for p in upload.parts}
        assert fields["title"] == "t"
        text = fields["image"]
    elif how == "params":
        query = parse_qs(upload.parts[0].data.decode())
        assert query["title"] == ["t"]
        return base64.b64decode(query["image"][0])
    else:
        sent = json.loads(upload.parts[0].data)
        assert sent["caption"] == "hi"
        text = sent["image"]
        if how == "request-and-init":
            assert upload.headers["X-Note"] == "folded"
    prefix, _, data = text.partition(",")
    assert prefix == "data:image/png;base64"
    return base64.b64decode(data)
