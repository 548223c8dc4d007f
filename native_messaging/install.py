"""Register the native-messaging host with the browsers, per user, and undo exactly that.

For each browser: a host manifest named ``<NATIVE_HOST_NAME>.json`` in the folder that browser reads (Linux,
macOS), or anywhere plus a registry key pointing at it (Windows). The manifest's ``path`` is a launcher,
written once into the artshade data folder, that runs this Python with ``-m artshade.native_messaging``
(the host alone: not the command line, not the engine).

Everything written is listed in a record (``<data dir>/native-host/installed.json``) with a hash of its
content; uninstall removes an entry only if it is still what was written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artshade import ids, paths
from artshade.errors import ShadingError
from artshade.files import write_atomic

from .registry import Registry, WindowsRegistry

BROWSERS = ("chrome", "chromium", "edge", "brave", "firefox")
CHROME_FAMILY = frozenset(BROWSERS[:4])
MANIFEST_NAME = f"{ids.NATIVE_HOST_NAME}.json"
DESCRIPTION = "artshade: finds, pairs with and starts the local artshade daemon"

#: per-user manifest folders, relative to the home folder.
LINUX_DIRS = {
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": ".mozilla/native-messaging-hosts",
}
MACOS_DIRS = {
    "chrome": "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    "chromium": "Library/Application Support/Chromium/NativeMessagingHosts",
    "edge": "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "Library/Application Support/Mozilla/NativeMessagingHosts",
}
#: HKEY_CURRENT_USER keys (the host's own key goes below); default value = manifest path.
WINDOWS_KEYS = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
    "firefox": r"Software\Mozilla\NativeMessagingHosts",
}
#: the launcher and the manifest files on Windows are shared by every browser ("*" in the record).
SHARED = "*"


class InstallError(ShadingError):
    code = "install_error"


def current_os() -> str:
    """``linux``, ``darwin`` or ``windows`` (other Unixes are treated like Linux)."""
    if sys.platform.startswith("win"):
        return "windows"
    return "darwin" if sys.platform == "darwin" else "linux"


def host_dir() -> Path:
    """Where the launcher, the Windows manifests and the install record live."""
    return paths.data_dir() / "native-host"


def record_path() -> Path:
    return host_dir() / "installed.json"


def launcher_path(os_name: str) -> Path:
    return host_dir() / ("artshade-native-host.bat" if os_name == "windows" else "artshade-native-host")


def _baked_env() -> dict[str, str]:
    """ARTSHADE_* settings at install time become the launcher's defaults (the browser won't have them)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("ARTSHADE_") and v}


def launcher_text(os_name: str) -> str:
    env = _baked_env()
    if os_name == "windows":
        lines = ["@echo off", "rem artshade native-messaging host launcher (artshade install-browser-host)"]
        for key, value in env.items():
            lines.append(f'if not defined {key} set "{key}={value.replace("%", "%%")}"')
        lines.append(f'"{sys.executable}" -m artshade.native_messaging %*')
        return "\r\n".join(lines) + "\r\n"
    lines = ["#!/bin/sh", "# artshade native-messaging host launcher (artshade install-browser-host)"]
    for key, value in env.items():
        lines.append(f': "${{{key}:={shlex.quote(value)}}}"; export {key}')
    lines.append(f'exec {shlex.quote(sys.executable)} -m artshade.native_messaging "$@"')
    return "\n".join(lines) + "\n"


def manifest(browser: str, launcher: Path) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": ids.NATIVE_HOST_NAME,
        "description": DESCRIPTION,
        "path": str(launcher),
        "type": "stdio",
    }
    if browser == "firefox":
        data["allowed_extensions"] = [ids.GECKO_EXTENSION_ID]
    else:
        data["allowed_origins"] = [f"chrome-extension://{ids.CHROME_EXTENSION_ID}/"]
    return data


@dataclass(frozen=True)
class Target:
    browser: str
    manifest_path: Path
    registry_key: str | None = None


def targets(browsers: Iterable[str], os_name: str, user_data_dir: str | None = None) -> list[Target]:
    """Where each browser's manifest (and on Windows its registry key) goes."""
    home = Path.home()
    result = []
    for browser in browsers:
        if browser not in BROWSERS:
            raise InstallError(f"unknown browser {browser!r}; choose from {', '.join(BROWSERS)} or all")
        if user_data_dir is not None:
            if browser not in CHROME_FAMILY or os_name == "windows":
                raise InstallError("--user-data-dir works only for Chrome-family browsers on Linux and macOS")
            folder = Path(user_data_dir).expanduser().resolve() / "NativeMessagingHosts"
            result.append(Target(browser, folder / MANIFEST_NAME))
        elif os_name == "windows":
            key = WINDOWS_KEYS[browser] + "\\" + ids.NATIVE_HOST_NAME
            result.append(Target(browser, host_dir() / browser / MANIFEST_NAME, key))
        else:
            folder = home / (MACOS_DIRS if os_name == "darwin" else LINUX_DIRS)[browser]
            result.append(Target(browser, folder / MANIFEST_NAME))
    return result


# --- the record of what was written -------------------------------------------------------------------


def _load_record() -> dict[str, Any]:
    try:
        data = json.loads(record_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"files": {}, "registry": {}, "dirs": []}
    except (OSError, ValueError) as err:
        raise InstallError(
            f"the install record {record_path()} is unreadable ({err}); fix or delete it"
        ) from err
    return {
        "files": dict(data.get("files", {})),
        "registry": dict(data.get("registry", {})),
        "dirs": list(data.get("dirs", [])),
    }


def _save_record(record: dict[str, Any]) -> None:
    write_atomic(
        record_path(), (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode=0o600
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_hash(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _make_dirs(folder: Path, record: dict[str, Any]) -> None:
    """Create ``folder`` and its missing parents, recording each one created (to remove it when empty)."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        path.mkdir(mode=0o755)
        if str(path) not in record["dirs"]:
            record["dirs"].append(str(path))


def _write_file(path: Path, data: bytes, mode: int, browser: str, record: dict[str, Any]) -> None:
    _make_dirs(path.parent, record)
    if _file_hash(path) != _sha256(data) or (path.stat().st_mode & 0o777) != mode:
        write_atomic(path, data, mode=mode)
    entry = record["files"].setdefault(str(path), {"browsers": []})
    entry["sha256"] = _sha256(data)
    if browser not in entry["browsers"]:
        entry["browsers"] = sorted({*entry["browsers"], browser})


# --- install / uninstall ------------------------------------------------------------------------------


def install(
    browsers: Sequence[str],
    *,
    user_data_dir: str | None = None,
    os_name: str | None = None,
    registry: Registry | None = None,
) -> list[str]:
    """Write the launcher, the manifests and (Windows) the registry values; returns what was written."""
    os_name = os_name or current_os()
    chosen = targets(browsers, os_name, user_data_dir)
    if os_name == "windows" and registry is None:
        registry = WindowsRegistry()
    record = _load_record()
    _make_dirs(host_dir(), record)
    written: list[str] = []
    try:
        launcher = launcher_path(os_name)
        _write_file(launcher, launcher_text(os_name).encode("utf-8"), 0o755, SHARED, record)
        written.append(f"launcher {launcher}")
        for target in chosen:
            data = (json.dumps(manifest(target.browser, launcher), indent=2) + "\n").encode("utf-8")
            _write_file(target.manifest_path, data, 0o644, target.browser, record)
            written.append(f"{target.browser} manifest {target.manifest_path}")
            if target.registry_key is not None:
                assert registry is not None
                registry.set(target.registry_key, str(target.manifest_path))
                record["registry"][target.registry_key] = {
                    "value": str(target.manifest_path),
                    "browser": target.browser,
                }
                written.append(f"{target.browser} registry HKCU\\{target.registry_key}")
    finally:
        _save_record(record)
    return written


def uninstall(
    browsers: Sequence[str], *, os_name: str | None = None, registry: Registry | None = None
) -> tuple[list[str], list[str]]:
    """Remove what ``install`` wrote for these browsers; returns (removed, kept-with-reason)."""
    unknown = set(browsers) - set(BROWSERS)
    if unknown:
        raise InstallError(
            f"unknown browser {sorted(unknown)[0]!r}; choose from {', '.join(BROWSERS)} or all"
        )
    record = _load_record()
    removed: list[str] = []
    kept: list[str] = []
    for key, entry in list(record["registry"].items()):
        if entry.get("browser") not in browsers:
            continue
        if registry is None:
            registry = WindowsRegistry()
        current = registry.get(key)
        if current == entry.get("value"):
            registry.delete(key)
            removed.append(f"registry HKCU\\{key}")
        elif current is not None:
            kept.append(f"registry HKCU\\{key} (changed since: now {current})")
        del record["registry"][key]
    for path_text, entry in list(record["files"].items()):
        if entry["browsers"] == [SHARED]:
            continue
        entry["browsers"] = [b for b in entry["browsers"] if b not in browsers]
        if not entry["browsers"]:
            _remove_file(Path(path_text), entry["sha256"], removed, kept)
            del record["files"][path_text]
    still_used = record["registry"] or any(e["browsers"] != [SHARED] for e in record["files"].values())
    if not still_used:  # the launcher goes with the last browser
        for path_text, entry in list(record["files"].items()):
            _remove_file(Path(path_text), entry["sha256"], removed, kept)
            del record["files"][path_text]
    if not record["files"] and not record["registry"]:
        # Nothing of ours is left but folders: remove the empty ones; any that are not empty now hold
        # someone else's files and are no longer ours to track.
        record_path().unlink(missing_ok=True)
        _remove_empty_dirs(record["dirs"], removed)
    else:
        _remove_empty_dirs(record["dirs"], removed)
        _save_record(record)
    return removed, kept


def _remove_file(path: Path, sha256: str, removed: list[str], kept: list[str]) -> None:
    current = _file_hash(path)
    if current is None:
        return  # already gone
    if current != sha256:
        kept.append(f"{path} (changed since artshade wrote it)")
        return
    path.unlink()
    removed.append(str(path))


def _remove_empty_dirs(dirs: list[str], removed: list[str]) -> None:
    """Remove the folders the installer created that are empty now (deepest first); forget removed ones."""
    for path_text in sorted(dirs, key=len, reverse=True):
        try:
            Path(path_text).rmdir()
            removed.append(f"{path_text}{os.sep}")
        except FileNotFoundError:
            pass
        except OSError:
            continue  # not empty: keep it and its entry
        dirs.remove(path_text)
