"""Fixtures for the extension's browser tests: the built extension, real Chromium with it loaded, local
test pages with an upload sink, and the real daemon (``artshade serve`` on the real tiny weights).

One browser per test module (module-scoped); the page server and the daemon are shared by the session, so
the daemon's result cache answers an image a second module uploads again.  The daemon gets its own
ARTSHADE_HOME, pre-paired with the extension's fixed origin the way the daemon expects it
(``artshade.pairing.PairingStore`` and ``daemon.http.token``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ext_harness, for the test modules too

from ext_harness import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    EXTENSION,
    Daemon,
    ExtensionBrowser,
    SiteServer,
    chromium_with,
    configure,
)

# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def built_extension() -> dict[str, Path]:
    """Build extension/dist/{chromium,firefox} from the sources (dist is not committed)."""
    subprocess.run([sys.executable, str(EXTENSION / "build.py")], check=True, capture_output=True, timeout=60)
    return {name: EXTENSION / "dist" / name for name in ("chromium", "firefox")}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    server = SiteServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def real_daemon(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("daemon-home"), models_dir).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def browser(
    built_extension: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, unavailable: Any
) -> Iterator[ExtensionBrowser]:
    if not Path(CHROMIUM).exists():
        unavailable(f"needs Chromium at {CHROMIUM} (`apt install chromium`; .ci/run installs it)")
    with chromium_with(built_extension["chromium"], tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


@pytest.fixture(scope="module")
def ready(browser: ExtensionBrowser, real_daemon: Daemon, site_server: SiteServer) -> ExtensionBrowser:
    """The module's browser paired with the daemon, with the test site added on the options page."""
    configure(browser, real_daemon, site_server.host)
    return browser


@pytest.fixture
def tab(ready: ExtensionBrowser, site_server: SiteServer) -> Iterator[Any]:
    """A fresh tab; the sink starts empty."""
    if ready.closed:  # opening a page in it could wait forever
        pytest.fail("Chromium went away during this module (a crash?); see the tests before this one")
    site_server.clear()
    page = ready.context.new_page()
    yield page
    page.close()
