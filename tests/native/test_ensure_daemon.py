"""``ensure_daemon`` really starts ``artshade serve`` (detached) when nothing answers, and reports
failures."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_processes import serve_processes, stop_processes

HostProcess = Any  # tests/native/conftest.py
START_TIMEOUT = 120  # a cold `artshade serve` imports torch; the test machine's CPUs are shared


@pytest.fixture
def stop_daemon(daemon_port: int) -> Iterator[None]:
    """After the test, stop the daemon this test's host started (by its pid), so nothing outlives the test."""
    yield
    stop_processes(serve_processes(port=daemon_port))


def test_ensure_daemon_starts_a_stopped_daemon(
    host: HostProcess, daemon_port: int, isolated_home: Path, stop_daemon: None, daemon_health: Any
) -> None:
    assert daemon_health(daemon_port) is None
    reply = host.ask(
        {"action": "ensure_daemon", "request_id": "e1", "timeout_s": START_TIMEOUT},
        timeout=START_TIMEOUT + 30,
    )
    assert reply["ok"] is True, reply
    assert reply["started"] is True and reply["url"] == f"http://127.0.0.1:{daemon_port}"
    body = daemon_health(daemon_port)
    assert body is not None and reply["version"] == body.get("version")

    # it is detached: its own session, stdin not the browser's pipe, stdout/stderr in the console log
    (pid,) = serve_processes(port=daemon_port)
    assert os.getsid(pid) != os.getsid(host.proc.pid)
    assert os.readlink(f"/proc/{pid}/fd/0") == os.devnull
    assert os.readlink(f"/proc/{pid}/fd/1") == str(isolated_home / "log" / "daemon-console.log")

    again = host.ask({"action": "ensure_daemon", "request_id": "e2"})
    assert again["ok"] is True and again["started"] is False
    status = host.ask({"action": "status"})
    assert status["daemon"]["running"] is True and status["daemon"]["version"] == reply["version"]

    assert host.finish() == 0  # the browser closes the port: the host goes, the daemon stays
    assert daemon_health(daemon_port) is not None
    assert serve_processes(port=daemon_port) == [pid]


def test_ensure_daemon_reports_a_daemon_that_cannot_start(
    host: HostProcess, daemon_port: int, isolated_home: Path, stop_daemon: None
) -> None:
    # something else holds the port and never answers HTTP: `artshade serve` cannot listen there
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", daemon_port))
        squatter.listen(1)
        reply = host.ask({"action": "ensure_daemon", "timeout_s": START_TIMEOUT}, timeout=START_TIMEOUT + 30)
        assert reply["ok"] is False and reply["error"]["code"] == 5, reply
        assert "daemon-console.log" in reply["error"]["message"]
        assert host.ask({"action": "hello", "protocol": 1})["ok"] is True
    assert host.finish() == 0


def test_another_program_on_the_port_is_not_taken_for_the_daemon(host: HostProcess, daemon_port: int) -> None:
    class Impostor(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = b'{"status": "ok", "version": "9.9"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", daemon_port), Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status = host.ask({"action": "status"})
        assert status["daemon"] == {
            "running": False,
            "url": f"http://127.0.0.1:{daemon_port}",
            "version": None,
        }
    finally:
        server.shutdown()
        server.server_close()
    assert host.finish() == 0
