"""Helpers for the native-messaging tests: a host subprocess spoken to with the real framing."""

from __future__ import annotations

import json
import queue
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from artshade import ids

CHROME_ORIGIN_ARG = f"chrome-extension://{ids.CHROME_EXTENSION_ID}/"
TIMEOUT = 20.0  # generous: the machine is shared; a hang still fails instead of blocking forever


def probe_health(port: int) -> dict[str, Any] | None:
    """The daemon's /v1/health body on 127.0.0.1:port, or None if nothing answers (no proxies)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/v1/health", timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except OSError:
        return None


@pytest.fixture
def daemon_health() -> Any:
    """``probe_health`` for test modules."""
    return probe_health


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HostProcess:
    """``python -m artshade native-host <args>`` with a thread that splits its stdout into frames."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "artshade", "native-host", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.garbage = b""  # bytes on stdout that were not a complete frame of JSON: must stay empty
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout
        while True:
            header = out.read(4)
            if len(header) < 4:
                self.garbage += header
                return
            (length,) = struct.unpack("=I", header)
            assert length < 1024 * 1024, "reply over the browser's 1 MB limit"
            payload = out.read(length)
            try:
                message = json.loads(payload.decode("utf-8"))
            except ValueError:
                self.garbage += header + payload
                return
            self.frames.put(message)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send_payload(self, payload: bytes) -> None:
        self.send_raw(struct.pack("=I", len(payload)) + payload)

    def send(self, message: dict[str, Any]) -> None:
        self.send_payload(json.dumps(message).encode("utf-8"))

    def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reply within {timeout} s; stderr: {self.stderr_text()}") from None

    def ask(self, message: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
        self.send(message)
        return self.recv(timeout)

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"host did not exit within {timeout} s") from None

    def stderr_text(self) -> str:
        """What reached the real stderr (the host sends its own to its log, so normally nothing)."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def finish(self) -> int:
        """Close the stream, wait for a clean exit, and check stdout held nothing but frames."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.close_stdin()
        status = self.wait()
        self._reader.join(TIMEOUT)
        assert self.garbage == b"", f"non-frame bytes on stdout: {self.garbage[:200]!r}"
        assert self.frames.empty(), "unexpected extra replies"
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream and not stream.closed:
                stream.close()
        self._stderr.close()


@pytest.fixture(autouse=True)
def daemon_port(monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test looks for (and starts) the daemon on its own unused port, never the real one."""
    port = free_port()
    monkeypatch.setenv("ARTSHADE_PORT", str(port))
    return port


@pytest.fixture
def start_host() -> Iterator[Any]:
    started: list[HostProcess] = []

    def start(args: list[str] | None = None, env: dict[str, str] | None = None) -> HostProcess:
        host = HostProcess([CHROME_ORIGIN_ARG] if args is None else args, env)
        started.append(host)
        return host

    yield start
    for host in started:
        host.kill()


@pytest.fixture
def host(start_host: Any) -> HostProcess:
    """A host started the way Chrome starts it for the artshade extension."""
    return start_host()  # type: ignore[no-any-return]


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def chromium_with_extension(tmp_path: Path, unavailable: Callable[[str], NoReturn]) -> Iterator[Any]:
    """Start real Chromium (own ``--user-data-dir``) with an unpacked extension; yields a starter.

    ``start(extension_dir, profile_dir)`` returns ``(context, service_worker)``; everything is closed after
    the test.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        unavailable(f"needs Chromium at {CHROMIUM} (`apt install chromium`; .ci/run installs it)")
    manager = sync_playwright()
    playwright = manager.start()
    contexts: list[Any] = []

    def start(extension_dir: Path, profile_dir: Path) -> tuple[Any, Any]:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=[f"--disable-extensions-except={extension_dir}", f"--load-extension={extension_dir}"],
        )
        contexts.append(context)
        workers = context.service_workers
        worker = workers[0] if workers else context.wait_for_event("serviceworker", timeout=60_000)
        return context, worker

    try:
        yield start
    finally:
        for context in contexts:
            context.close()
        manager.__exit__(None, None, None)
