"""``artshade install-browser-host``: every file and registry value, per browser and OS, and exact undo."""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from artshade.native_messaging import install

from artshade import ids
from artshade.cli import main

CHROME_ORIGIN = f"chrome-extension://{ids.CHROME_EXTENSION_ID}/"
MANIFEST = "app.artshade.host.json"
LINUX = {
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": ".mozilla/native-messaging-hosts",
}
MACOS = {
    "chrome": "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    "chromium": "Library/Application Support/Chromium/NativeMessagingHosts",
    "edge": "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "Library/Application Support/Mozilla/NativeMessagingHosts",
}
WINDOWS = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts\app.artshade.host",
    "chromium": r"Software\Chromium\NativeMessagingHosts\app.artshade.host",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts\app.artshade.host",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\app.artshade.host",
    "firefox": r"Software\Mozilla\NativeMessagingHosts\app.artshade.host",
}
BROWSERS = list(LINUX)


class FakeRegistry:
    """HKEY_CURRENT_USER in memory: key path (case-insensitive, like Windows) -> default value."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key.lower())

    def set(self, key: str, value: str) -> None:
        self.values[key.lower()] = value

    def delete(self, key: str) -> None:
        self.values.pop(key.lower(), None)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def use_os(monkeypatch: pytest.MonkeyPatch, os_name: str) -> None:
    monkeypatch.setattr(install, "current_os", lambda: os_name)


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under root: relative path -> 'dir' or the file's text."""
    result = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        result[rel] = "dir" if path.is_dir() else path.read_text(encoding="utf-8")
    return result


def host_dir(isolated_home: Path) -> Path:
    return isolated_home / "data" / "native-host"


def cli(*args: str) -> int:
    return main(["install-browser-host", *args])


def expected_manifest(browser: str, launcher: Path) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": ids.NATIVE_HOST_NAME,
        "description": install.DESCRIPTION,
        "path": str(launcher),
        "type": "stdio",
    }
    if browser == "firefox":
        data["allowed_extensions"] = [ids.GECKO_EXTENSION_ID]
    else:
        data["allowed_origins"] = [CHROME_ORIGIN]
    return data


# --- Linux and macOS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", ["linux", "darwin"])
@pytest.mark.parametrize("browser", BROWSERS)
def test_install_one_browser_writes_manifest_and_launcher(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, os_name: str, browser: str
) -> None:
    use_os(monkeypatch, os_name)
    assert cli("--browser", browser) == 0
    folder = (LINUX if os_name == "linux" else MACOS)[browser]
    manifest_path = home / folder / MANIFEST
    launcher = host_dir(isolated_home) / "artshade-native-host"
    # exactly one file in the fake home: the manifest (plus the folders leading to it)
    files = {k for k, v in tree(home).items() if v != "dir"}
    assert files == {f"{folder}/{MANIFEST}"}
    assert json.loads(manifest_path.read_text()) == expected_manifest(browser, launcher)
    assert stat.S_IMODE(manifest_path.stat().st_mode) == 0o644
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o755
    text = launcher.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert text.rstrip().endswith(f'exec {sys.executable} -m artshade.native_messaging "$@"')
    assert {p.name for p in host_dir(isolated_home).iterdir()} == {"artshade-native-host", "installed.json"}


@pytest.mark.parametrize("os_name", ["linux", "darwin"])
def test_install_all_then_uninstall_leaves_home_as_it_was(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, os_name: str
) -> None:
    use_os(monkeypatch, os_name)
    dirs = LINUX if os_name == "linux" else MACOS
    # a browser that is really installed already has its profile folder, with its own files
    existing = home / dirs["chromium"].rsplit("/", 1)[0]
    existing.mkdir(parents=True)
    (existing / "Local State").write_text("{}")
    before_home, before_data = tree(home), tree(isolated_home)

    assert cli() == 0  # --browser all is the default
    for browser in BROWSERS:
        manifest = json.loads((home / dirs[browser] / MANIFEST).read_text())
        assert manifest == expected_manifest(browser, host_dir(isolated_home) / "artshade-native-host")
    assert {k for k, v in tree(home).items() if v != "dir"} == {f"{d}/{MANIFEST}" for d in dirs.values()} | {
        f"{dirs['chromium'].rsplit('/', 1)[0]}/Local State"
    }

    assert cli("--uninstall") == 0
    assert tree(home) == before_home
    assert tree(isolated_home) == before_data


def test_install_is_idempotent(home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_os(monkeypatch, "linux")
    assert cli() == 0
    first_home, first_data = tree(home), tree(isolated_home)
    assert cli() == 0
    assert cli("--browser", "chrome") == 0
    assert tree(home) == first_home
    assert tree(isolated_home) == first_data
    assert cli("--uninstall") == 0
    assert tree(home) == {}


def test_install_repairs_a_damaged_manifest(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_os(monkeypatch, "linux")
    assert cli("--browser", "chromium") == 0
    manifest = home / LINUX["chromium"] / MANIFEST
    good = manifest.read_text()
    manifest.write_text("{}")
    launcher = host_dir(isolated_home) / "artshade-native-host"
    launcher.chmod(0o644)
    assert cli("--browser", "chromium") == 0
    assert manifest.read_text() == good
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o755


def test_uninstall_one_browser_keeps_the_others(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_os(monkeypatch, "linux")
    assert cli("--browser", "chrome") == 0
    assert cli("--browser", "firefox") == 0
    launcher = host_dir(isolated_home) / "artshade-native-host"
    assert cli("--uninstall", "--browser", "chrome") == 0
    assert not (home / ".config").exists()  # created for chrome only, so removed with it
    assert (home / LINUX["firefox"] / MANIFEST).exists()
    assert launcher.exists()  # firefox still needs it
    assert cli("--uninstall", "--browser", "firefox") == 0
    assert tree(home) == {}
    assert not launcher.exists()
    assert not (isolated_home / "data").exists()


def test_uninstall_never_removes_what_it_did_not_write(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_os(monkeypatch, "linux")
    # a manifest already there from elsewhere, and another host's manifest in the same folder
    folder = home / LINUX["chrome"]
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text('{"name": "app.artshade.host", "path": "/opt/other"}')
    (folder / "org.other.host.json").write_text("{}")
    assert cli("--uninstall") == 0  # nothing recorded: nothing removed
    assert "nothing to remove" in capsys.readouterr().out
    assert (folder / MANIFEST).exists()

    assert cli("--browser", "chrome", "--browser", "edge") == 0  # last --browser wins: edge
    assert cli("--browser", "chromium") == 0
    edited = home / LINUX["chromium"] / MANIFEST
    edited.write_text(edited.read_text().replace("stdio", "stdio "))  # the user changed it since
    capsys.readouterr()
    assert cli("--uninstall") == 0
    out = capsys.readouterr().out
    assert f"kept {edited} (changed since artshade wrote it)" in out
    assert edited.exists()
    assert (folder / MANIFEST).read_text() == '{"name": "app.artshade.host", "path": "/opt/other"}'
    assert (folder / "org.other.host.json").exists()
    assert not (home / LINUX["edge"]).exists()


def test_user_data_dir_writes_into_its_native_messaging_hosts(
    home: Path, tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_os(monkeypatch, "linux")
    profile = tmp_path / "chromium-profile"
    assert cli("--browser", "chromium", "--user-data-dir", str(profile)) == 0
    manifest = profile / "NativeMessagingHosts" / MANIFEST
    launcher = host_dir(isolated_home) / "artshade-native-host"
    assert json.loads(manifest.read_text()) == expected_manifest("chromium", launcher)
    assert tree(home) == {}
    assert cli("--uninstall", "--browser", "chromium") == 0
    assert not profile.exists()


@pytest.mark.parametrize("args", [["--browser", "firefox", "--user-data-dir", "x"], ["--user-data-dir", "x"]])
def test_user_data_dir_is_refused_where_browsers_do_not_read_it(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    use_os(monkeypatch, "linux")
    assert cli(*args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--user-data-dir works only for Chrome-family" in err
    assert tree(home) == {}


def test_unknown_browser_is_a_usage_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("--browser", "netscape")
    assert exit_info.value.code == 2
    assert tree(home) == {}


def test_launcher_bakes_artshade_settings_as_defaults(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_os(monkeypatch, "linux")
    monkeypatch.setenv("ARTSHADE_PORT", "50123")
    assert cli("--browser", "chromium") == 0
    text = (host_dir(isolated_home) / "artshade-native-host").read_text()
    assert f': "${{ARTSHADE_HOME:={isolated_home}}}"; export ARTSHADE_HOME' in text
    assert ': "${ARTSHADE_PORT:=50123}"; export ARTSHADE_PORT' in text


def test_installed_launcher_runs_the_host(
    home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the browser does: read the manifest, run its ``path`` with the origin, speak the protocol."""
    use_os(monkeypatch, "linux")
    assert cli("--browser", "chromium") == 0
    manifest = json.loads((home / LINUX["chromium"] / MANIFEST).read_text())
    request = json.dumps({"action": "hello", "request_id": "via-launcher", "protocol": 1}).encode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTSHADE_")}  # as a browser would have
    done = subprocess.run(
        [manifest["path"], manifest["allowed_origins"][0]],
        input=struct.pack("=I", len(request)) + request,
        capture_output=True,
        env=env,
        timeout=60,
        check=True,
    )
    (length,) = struct.unpack("=I", done.stdout[:4])
    assert len(done.stdout) == 4 + length
    reply = json.loads(done.stdout[4:])
    assert reply["ok"] is True and reply["request_id"] == "via-launcher"
    assert (isolated_home / "log" / "native-host.log").exists()  # ARTSHADE_HOME came from the launcher


# --- Windows (registry faked) --------------------------------------------------------------------------


def test_windows_writes_manifests_launcher_and_registry(home: Path, isolated_home: Path) -> None:
    registry = FakeRegistry()
    written = install.install(install.BROWSERS, os_name="windows", registry=registry)
    launcher = host_dir(isolated_home) / "artshade-native-host.bat"
    text = launcher.read_bytes().decode()
    assert text.startswith("@echo off\r\n")
    assert f'"{sys.executable}" -m artshade.native_messaging %*\r\n' in text
    assert f'if not defined ARTSHADE_HOME set "ARTSHADE_HOME={isolated_home}"' in text
    for browser in BROWSERS:
        manifest_path = host_dir(isolated_home) / browser / MANIFEST
        assert json.loads(manifest_path.read_text()) == expected_manifest(browser, launcher)
        assert registry.get(WINDOWS[browser]) == str(manifest_path)
        assert f"{browser} registry HKCU\\{WINDOWS[browser]}" in written
    assert len(registry.values) == len(BROWSERS)
    assert tree(home) == {}

    # idempotent
    before = tree(isolated_home)
    install.install(install.BROWSERS, os_name="windows", registry=registry)
    assert tree(isolated_home) == before and len(registry.values) == len(BROWSERS)

    removed, kept = install.uninstall(["chrome"], os_name="windows", registry=registry)
    assert f"registry HKCU\\{WINDOWS['chrome']}" in removed and kept == []
    assert registry.get(WINDOWS["chrome"]) is None and registry.get(WINDOWS["edge"]) is not None

    registry.set(WINDOWS["edge"], r"C:\Other\host.json")  # someone else took the key over
    removed, kept = install.uninstall(install.BROWSERS, os_name="windows", registry=registry)
    assert kept == [f"registry HKCU\\{WINDOWS['edge']} (changed since: now C:\\Other\\host.json)"]
    assert registry.values == {WINDOWS["edge"].lower(): r"C:\Other\host.json"}
    assert not (isolated_home / "data").exists()


def test_windows_refuses_user_data_dir(home: Path) -> None:
    with pytest.raises(install.InstallError):
        install.install(["chromium"], os_name="windows", registry=FakeRegistry(), user_data_dir="x")
