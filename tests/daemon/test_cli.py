"""``artshade serve`` / ``token`` / ``pair`` as a person runs them: real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from daemon_helpers import CHROME_ORIGIN

from artshade.runtime import read_runtime, remove_runtime, runtime_path, write_runtime


def artshade(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artshade", *args], capture_output=True, text=True, timeout=timeout
    )


def test_token_prints_the_same_token_each_time() -> None:
    first = artshade("token")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert len(token) >= 43
    assert artshade("token").stdout.strip() == token


def test_pair_without_a_daemon_says_what_to_do() -> None:
    result = artshade("pair")
    assert result.returncode == 2
    assert "artshade serve" in result.stderr and len(result.stderr.strip().splitlines()) == 1


class RecordingProxy:
    """A proxy on loopback that records every byte sent to it and answers 502: nothing should reach it."""

    def __init__(self) -> None:
        import socket
        import threading

        self.received = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_pair_never_sends_the_token_through_a_proxy(threaded_daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RecordingProxy()
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    try:
        with threaded_daemon(token=None) as server:
            write_runtime(server.port)
            try:
                paired = artshade("pair")
            finally:
                remove_runtime()
    finally:
        proxy.close()
    assert proxy.received == b"", proxy.received[:200]
    assert paired.returncode == 0, paired.stderr
    assert paired.stdout.strip().startswith(f"{server.port}-")


def test_serve_runtime_file_pair_and_graceful_stop(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "artshade", "serve", "--port", "0", "--no-watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while (info := read_runtime()) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.2)
        assert info["pid"] == proc.pid and info["url"] == f"http://127.0.0.1:{info['port']}"
        assert stat.S_IMODE(runtime_path().stat().st_mode) == 0o600
        with urllib.request.urlopen(f"{info['url']}/v1/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"

        paired = artshade("pair")
        assert paired.returncode == 0, paired.stderr
        code = paired.stdout.strip()
        assert code.startswith(f"{info['port']}-")
        request = urllib.request.Request(f"{info['url']}/v1/pair", data=json.dumps({"code": code}).encode(),
                                         headers={"Origin": CHROME_ORIGIN,
                                                  "Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            extension_token = json.loads(response.read())["token"]
        assert extension_token != artshade("token").stdout.strip()  # its own token, not the daemon's
        status = urllib.request.Request(f"{info['url']}/v1/status", headers={
            "Origin": CHROME_ORIGIN, "Authorization": f"Bearer {extension_token}"})  # fmt: skip
        with urllib.request.urlopen(status, timeout=60) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert not runtime_path().exists()
        log_file = Path(os.environ["ARTSHADE_HOME"]) / "log" / "daemon.log"
        assert "listening" in log_file.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_on_a_busy_port_fails_with_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = artshade("serve", "--port", str(busy.getsockname()[1]), "--no-watch")
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert read_runtime() is None


def test_unpair_revokes_an_extension_and_its_tokens_in_a_running_daemon(threaded_daemon) -> None:
    from artshade.loopback import OPENER
    from artshade.pairing import PairingStore

    store = PairingStore()  # the one in ARTSHADE_HOME, as the native host writes it
    token = store.issue_token(CHROME_ORIGIN)

    def status(**headers: str) -> int:
        request = urllib.request.Request(f"{server.url}/v1/status", headers=headers)
        try:
            with OPENER.open(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return err.code

    with threaded_daemon(config_dir=store.path.parent) as server:
        assert status(Authorization=f"Bearer {token}", Origin=CHROME_ORIGIN) == 200
        assert status(Authorization=f"Bearer {token}") == 200
        listed = artshade("unpair")
        assert listed.returncode == 0 and listed.stdout.split() == [CHROME_ORIGIN]
        done = artshade("unpair", CHROME_ORIGIN + "/")
        assert done.returncode == 0, done.stderr
        assert status(Authorization=f"Bearer {token}", Origin=CHROME_ORIGIN) == 403  # not paired any more
        assert status(Authorization=f"Bearer {token}") == 401  # and the token is gone
    again = artshade("unpair", CHROME_ORIGIN)
    assert again.returncode == 2 and "is not paired" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert artshade("unpair", "--all").returncode == 0


def test_serve_limits_are_flags_of_the_artist(monkeypatch) -> None:
    """--max-megapixels, --max-body-mb and --queue-length reach the daemon's config; nonsense is refused."""
    import artshade.daemon.http.server
    from artshade.daemon.config import MB

    from artshade.cli import main

    seen = []
    monkeypatch.setattr(artshade.daemon.http.server, "serve", lambda config: seen.append(config) or 0)
    monkeypatch.setattr("artshade.daemon.http.cli.setup_logging", lambda **_: None)
    flags = ["--max-megapixels", "80", "--max-body-mb", "200", "--queue-length", "4", "--no-watch"]
    assert main(["serve", *flags]) == 0
    (config,) = seen
    assert (config.max_pixels, config.max_body, config.queue_size) == (80_000_000, 200 * MB, 4)
    assert main(["serve", "--queue-length", "0"]) == 2 and len(seen) == 1


@pytest.mark.parametrize("command", [["serve"], ["watch", "--once"]])
def test_limits_past_what_the_decoder_opens_are_refused_as_protect_refuses_them(
    command: list[str], monkeypatch, capsys, tmp_path: Path
) -> None:
    """``serve --max-megapixels`` has the same hard maximum as ``protect`` and ``watch``: one line, exit 2,
    and nothing started."""
    import artshade.daemon.http.server
    from artshade.shading.io import hard_max_megapixels

    from artshade.cli import main

    started = []
    monkeypatch.setattr(artshade.daemon.http.server, "serve", lambda config: started.append(config) or 0)
    monkeypatch.setattr("artshade.daemon.http.cli.setup_logging", lambda **_: None)
    over = str(round(hard_max_megapixels()) + 10)
    if command[0] == "watch":
        command = [*command, str(tmp_path / "inbox"), "--out", str(tmp_path / "outbox")]
    assert main([*command, "--max-megapixels", over]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"artshade: error: --max-megapixels can be at most {hard_max_megapixels():.0f}: the image "
                   "decoder opens nothing larger"]  # fmt: skip
    assert started == [] and not (tmp_path / "outbox").exists()


def test_serve_limits_default_to_the_engines(monkeypatch) -> None:
    """``artshade serve`` without limit flags takes the engine's own defaults (``shading.io.Limits``)."""
    import artshade.daemon.http.server
    from artshade.shading.io import Limits

    from artshade.cli import main

    seen = []
    monkeypatch.setattr(artshade.daemon.http.server, "serve", lambda config: seen.append(config) or 0)
    monkeypatch.setattr("artshade.daemon.http.cli.setup_logging", lambda **_: None)
    assert main(["serve", "--no-watch"]) == 0
    (config,) = seen
    engine = Limits()
    assert (config.max_pixels, config.max_body) == (engine.max_pixels, engine.max_bytes)
    limits = config.input_limits()
    assert (limits.max_pixels, limits.max_bytes) == (engine.max_pixels, engine.max_bytes)
    assert limits.pixels_setting == "`artshade serve --max-megapixels N`"
