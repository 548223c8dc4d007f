"""The installed native host answers ``hello`` without the engine: no torch, nothing of ``artshade.shading``,
and in well under the 300 ms the browser's first message may wait.

The host is run the way the browser runs it: the launcher named by the installed manifest, with the caller
on its command line and only the environment a browser would pass.  Which modules it imported comes from
Python's own ``-X importtime`` report (``PYTHONPROFILEIMPORTTIME``), read from the host's stderr and its log
(where stderr points once the host started), so the host needs no test hook.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install

from artshade import ids

ORIGIN_ARG = f"chrome-extension://{ids.CHROME_EXTENSION_ID}/"
HELLO = json.dumps({"action": "hello", "request_id": "startup", "protocol": 1}).encode()
#: the browser's budget for the host's first answer.
REPLY_BUDGET_S = 0.300


@pytest.fixture
def launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(install, "current_os", lambda: "linux")
    install.install(["chromium"], user_data_dir=str(tmp_path / "profile"))
    manifest = json.loads((tmp_path / "profile" / "NativeMessagingHosts" / install.MANIFEST_NAME).read_text())
    return Path(manifest["path"])


def browser_env(**extra: str) -> dict[str, str]:
    """What a browser passes: its own environment, none of artshade's (the launcher bakes those in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTSHADE_", "PYTHON"))}
    env.update(extra)
    return env


def hello_once(launcher: Path, env: dict[str, str]) -> tuple[dict[str, Any], float, float, str]:
    """Run the host for one ``hello``: (reply, seconds to the reply, CPU seconds of the process, stderr)."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(launcher), ORIGIN_ARG], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(struct.pack("=I", len(HELLO)) + HELLO)
        proc.stdin.flush()
        header = proc.stdout.read(4)
        (length,) = struct.unpack("=I", header)
        reply = json.loads(proc.stdout.read(length))
        elapsed = time.perf_counter() - started
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        assert proc.returncode == 0
        stderr.seek(0)
        return reply, elapsed, usage.ru_utime + usage.ru_stime, stderr.read().decode("utf-8", "replace")


def imported_modules(report: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in report.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def test_installed_host_answers_hello_without_the_engine(launcher: Path, isolated_home: Path) -> None:
    reply, _, _, stderr = hello_once(launcher, browser_env(PYTHONPROFILEIMPORTTIME="1"))
    assert reply["ok"] is True and reply["protocol"] == 1 and reply["request_id"] == "startup"
    log = (isolated_home / "log" / "native-host.log").read_text(encoding="utf-8")
    modules = imported_modules(stderr + "\n" + log)
    assert "artshade.native_messaging.host" in modules  # the report is really there
    assert "torch" not in modules
    assert not {m for m in modules if m.startswith(("torch.", "artshade.shading", "numpy", "PIL"))}
    assert "artshade.cli" not in modules  # the launcher does not go through the full command line


def test_installed_host_replies_within_300_ms(launcher: Path, record_property: Any) -> None:
    """Best of five runs, measured from process start to the reply.  CPU time is always bounded; the wall
    clock too unless the shared machine is busier than its cores (then it measures the queue, not us)."""
    runs = [hello_once(launcher, browser_env())[1:3] for _ in range(5)]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    record_property("hello_wall_ms", round(wall * 1000))
    record_property("hello_cpu_ms", round(cpu * 1000))
    print(f"native host hello: {wall * 1000:.0f} ms to the reply, {cpu * 1000:.0f} ms CPU (best of 5)")
    assert cpu < REPLY_BUDGET_S, f"the host used {cpu * 1000:.0f} ms of CPU to answer hello"
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert wall < REPLY_BUDGET_S, f"the host took {wall * 1000:.0f} ms to answer hello"


def test_launchers_of_older_versions_reach_the_host_just_as_directly(
    tmp_path: Path, isolated_home: Path
) -> None:
    """Launchers written before this version run ``python -m artshade native-host``: same host, no engine."""
    import shlex
    import sys

    old = tmp_path / "old-launcher"
    old.write_text(
        f"#!/bin/sh\nexport ARTSHADE_HOME={shlex.quote(str(isolated_home))}\n"
        f'exec {shlex.quote(sys.executable)} -m artshade native-host "$@"\n'
    )
    old.chmod(0o755)
    reply, _, _, stderr = hello_once(old, browser_env(PYTHONPROFILEIMPORTTIME="1"))
    assert reply["ok"] is True
    log = (isolated_home / "log" / "native-host.log").read_text(encoding="utf-8")
    modules = imported_modules(stderr + "\n" + log)
    assert "artshade.native_messaging.host" in modules
    assert not {m for m in modules if m.startswith(("torch", "artshade.shading", "artshade.daemon"))}
