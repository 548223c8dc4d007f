"""Fixtures for the extension's browser tests: the built extension, real Chromium with it loaded, local
test pages with an upload sink, and the real daemon (``artshade serve`` on the real tiny weights).

One browser, one page server and one daemon per test module (module-scoped), so a module pays the start-up
once.  The daemon gets its own ARTSHADE_HOME, pre-paired with the extension's fixed origin the way the
daemon expects it (``daemon.pairing.PairingStore`` and ``daemon.token``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ext_harness, for the test modules too

from ext_harness import ARTIFACTS, EXTENSION, Daemon, ExtensionBrowser, SiteServer, chromium_with  # noqa: E402

# -- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built_extension() -> dict[str, Path]:
    """Build extension/dist/{chromium,firefox} from the sources (dist is not committed)."""
    subprocess.run([sys.executable, str(EXTENSION / "build.py")], check=True, capture_output=True, timeout=60)
    return {name: EXTENSION / "dist" / name for name in ("chromium", "firefox")}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def site_server() -> Iterator[SiteServer]:
    server = SiteServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def real_daemon(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("daemon-home"), models_dir).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def browser(built_extension: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtensionBrowser]:
    with chromium_with(built_extension["chromium"], tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b
