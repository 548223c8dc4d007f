"""A small WebDriver BiDi client for the system Firefox, for the extension's Firefox tests.

Firefox has WebDriver BiDi built in: started with ``--remote-debugging-port=0`` it prints
``WebDriver BiDi listening on ws://127.0.0.1:PORT`` on stderr, and a session is opened on
``ws://127.0.0.1:PORT/session``.  No geckodriver, no Node: this module needs only ``websockets``.  (Playwright
cannot drive a stock Firefox: it needs its own patched build.)

What the tests need and nothing more:

- :class:`Firefox` starts ``firefox-esr --headless`` on a fresh profile (``user.js`` preferences, a chosen
  ``HOME`` so that Firefox reads native-messaging manifests from ``$HOME/.mozilla/native-messaging-hosts``),
  installs an unpacked extension as a temporary add-on (``webExtension.install``), and closes everything.
- :class:`Tab` navigates, runs JavaScript in the page (``script.callFunction``; arguments and results travel
  as JSON), waits for a condition, and sets the files of an ``<input type=file>`` (``input.setFiles``).

Commands are sent one at a time and answered in order; events are not subscribed to.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

FIREFOX = os.environ.get("ARTSHADE_TEST_FIREFOX", "/usr/bin/firefox-esr")

#: Quiet, offline start-up.  Firefox's remote agent adds its own recommended preferences on top.
DEFAULT_PREFS: dict[str, Any] = {
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "services.settings.server": "http://127.0.0.1:1/unused",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # extension and page console messages go to stdout (the log file), for diagnosing failures
    "devtools.console.stdout.chrome": True,
    "devtools.console.stdout.content": True,
}

_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


class BiDiError(RuntimeError):
    """A command failed, or JavaScript run in the page threw."""


def user_js(prefs: Mapping[str, Any]) -> str:
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


class Firefox:
    """Headless Firefox on ``profile`` (created if needed), driven over WebDriver BiDi.

    ``env`` is the whole environment of the browser process (pass a ``HOME`` to choose where it reads its
    native-messaging manifests).  ``extension_uuids`` pins the ``moz-extension://<uuid>`` origin of add-ons
    by gecko id (otherwise random per profile).  Firefox's own output goes to ``log``.
    """

    def __init__(
        self,
        profile: Path,
        *,
        env: Mapping[str, str],
        log: Path,
        prefs: Mapping[str, Any] | None = None,
        extension_uuids: Mapping[str, str] | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        self.profile = profile
        self.log = log
        all_prefs = dict(DEFAULT_PREFS)
        if extension_uuids:
            all_prefs["extensions.webextensions.uuids"] = json.dumps(dict(extension_uuids))
        all_prefs.update(prefs or {})
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(user_js(all_prefs), encoding="utf-8")
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [
                FIREFOX,
                "--headless",
                "--no-remote",
                "--profile",
                str(profile),
                "--remote-debugging-port=0",
                "--remote-allow-system-access",
            ]
            + ["about:blank"],
            stdout=self._log_file,
            stderr=subprocess.PIPE,
            env=dict(env),
        )
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        try:
            url = self._wait_for_listening(startup_timeout)
            self._ws = connect(url.rstrip("/") + "/session", max_size=None, open_timeout=30).__enter__()
            self.command("session.new", {"capabilities": {}})
        except BaseException:
            self.close()
            raise

    def _wait_for_listening(self, timeout: float) -> str:
        """Copy Firefox's stderr to the log (on a thread, for its whole life) until it names the BiDi URL."""
        found: queue.Queue[str] = queue.Queue()
        stderr = self.proc.stderr
        assert stderr is not None

        def pump() -> None:
            for line in iter(stderr.readline, b""):
                self._log_file.write(line)
                self._log_file.flush()
                match = _LISTENING.search(line.decode("utf-8", "replace"))
                if match:
                    found.put(match.group(1))

        threading.Thread(target=pump, name="firefox-stderr", daemon=True).start()
        try:
            return found.get(timeout=timeout)
        except queue.Empty:
            raise BiDiError(
                f"Firefox did not start WebDriver BiDi in {timeout:.0f} s; see {self.log}"
            ) from None

    # -- protocol --------------------------------------------------------------------------------------------

    def command(self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 60.0) -> Any:
        """Send one command and return its ``result`` (events that arrive meanwhile are dropped)."""
        if self._ws is None:
            raise BiDiError("the browser is closed")
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": dict(params or {})}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BiDiError(f"{method}: no answer in {timeout:.0f} s")
            message = json.loads(self._ws.recv(timeout=left))
            if message.get("id") != ident:
                continue
            if message.get("type") == "error":
                raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    # -- browser-level helpers -------------------------------------------------------------------------------

    def install_extension(self, path: Path) -> str:
        """Install the unpacked extension in ``path`` as a temporary add-on; returns its gecko id."""
        result = self.command("webExtension.install", {"extensionData": {"type": "path", "path": str(path)}})
        return str(result["extension"])

    def uninstall_extension(self, extension_id: str) -> None:
        self.command("webExtension.uninstall", {"extension": extension_id})

    def new_tab(self, url: str | None = None) -> Tab:
        context = self.command("browsingContext.create", {"type": "tab"})["context"]
        tab = Tab(self, str(context))
        if url:
            tab.goto(url)
        return tab

    def close(self) -> None:
        """Close the browser (``browser.close``), wait for the process, and stop copying its output."""
        try:
            if self._ws is not None:
                with contextlib.suppress(Exception):  # the process is ended below either way
                    self.command("browser.close", timeout=15)
                self._ws.close()
                self._ws = None
        finally:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
            self._log_file.close()

    def __enter__(self) -> Firefox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Tab:
    """One top-level browsing context."""

    def __init__(self, browser: Firefox, context: str) -> None:
        self.browser = browser
        self.context = context

    def goto(self, url: str, wait: str = "complete") -> None:
        self.browser.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": wait})

    def reload(self) -> None:
        self.browser.command("browsingContext.reload", {"context": self.context, "wait": "complete"})

    def close(self) -> None:
        self.browser.command("browsingContext.close", {"context": self.context})

    def frames(self) -> list[Tab]:
        """The frames of this document (its child browsing contexts), in document order; each is driven
        like a tab (``call``, ``set_files``)."""
        tree = self.browser.command("browsingContext.getTree", {"root": self.context, "maxDepth": 1})
        children = tree["contexts"][0].get("children") or []
        return [Tab(self.browser, str(child["context"])) for child in children]

    def call(self, function: str, *args: Any, timeout: float = 60.0) -> Any:
        """Run ``function`` (JavaScript source of a function, may be async) in the page with ``args``.

        Arguments and the result cross as JSON; a thrown error becomes :class:`BiDiError`.
        """
        wrapper = f"async (json) => JSON.stringify(await ({function})(...JSON.parse(json)) ?? null)"
        result = self.browser.command(
            "script.callFunction",
            {
                "functionDeclaration": wrapper,
                "arguments": [{"type": "string", "value": json.dumps(list(args))}],
                "target": {"context": self.context},
                "awaitPromise": True,
            },
            timeout=timeout,
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BiDiError(f"in the page: {details.get('text') or json.dumps(details)[:2000]}")
        value = result["result"]
        return json.loads(value["value"]) if value.get("type") == "string" else None

    def wait_for(self, predicate: str, *args: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
        """Poll ``predicate`` (a JavaScript function) until it returns something truthy; returns that."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.call(predicate, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {timeout:.0f} s waiting for {predicate}")
            time.sleep(interval)

    def click_at(self, x: float, y: float) -> None:
        """A real (trusted) mouse click at viewport coordinates ``x``, ``y``, as a person's."""
        self.browser.command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [
                            {"type": "pointerMove", "x": round(x), "y": round(y)},
                            {"type": "pointerDown", "button": 0},
                            {"type": "pointerUp", "button": 0},
                        ],
                    }
                ],
            },
        )

    def set_files(self, selector: str, paths: Sequence[Path]) -> None:
        """Give the ``<input type=file>`` at ``selector`` these files, as a person picking them would
        (Firefox fires ``input`` and ``change``)."""
        found = self.browser.command(
            "script.evaluate",
            {
                "expression": f"document.querySelector({json.dumps(selector)})",
                "target": {"context": self.context},
                "awaitPromise": False,
                "resultOwnership": "root",
            },
        )
        node = found.get("result", {})
        if node.get("type") != "node" or "sharedId" not in node:
            raise BiDiError(f"no element matches {selector!r}")
        self.browser.command(
            "input.setFiles",
            {
                "context": self.context,
                "element": {"sharedId": node["sharedId"]},
                "files": [str(p) for p in paths],
            },
        )
