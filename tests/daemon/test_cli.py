"""``artshade serve`` / ``token`` / ``pair`` as a person runs them: real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from artshade.daemon.runtime import read_runtime, runtime_path
from daemon_helpers import CHROME_ORIGIN


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
            assert json.loads(response.read())["token"] == artshade("token").stdout.strip()

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


def test_serve_limits_are_flags_of_the_artist(monkeypatch) -> None:
    """--max-megapixels, --max-body-mb and --queue-length reach the daemon's config; nonsense is refused."""
    import artshade.daemon.server
    from artshade.daemon.config import MB

    from artshade.cli import main

    seen = []
    monkeypatch.setattr(artshade.daemon.server, "serve", lambda config: seen.append(config) or 0)
    monkeypatch.setattr("artshade.daemon.cli.setup_logging", lambda **_: None)
    flags = ["--max-megapixels", "80", "--max-body-mb", "200", "--queue-length", "4", "--no-watch"]
    assert main(["serve", *flags]) == 0
    (config,) = seen
    assert (config.max_pixels, config.max_body, config.queue_size) == (80_000_000, 200 * MB, 4)
    assert main(["serve", "--queue-length", "0"]) == 2 and len(seen) == 1
