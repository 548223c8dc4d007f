#!/usr/bin/env python3
"""Build the unpacked extension for each browser: ``extension/dist/chromium`` and ``extension/dist/firefox``.

uBlock Origin Lite style, no bundler: every file under ``src/`` is copied as is, and the manifest is
``src/manifest.json`` deep-merged with ``platform/<browser>/manifest.json``.  Placeholders ``@NAME@`` in the
overrides are filled from ``artshade/ids.py`` (the Chromium ``key`` that fixes the extension id, the
gecko id).  Written at build time, each from its one definition:

* ``js/common/ids.js`` from ``artshade/ids.py``;
* ``js/common/profiles.js`` from ``artshade/upload_profiles.json`` (the sites and what each platform does to
  an upload, which the engine reads too);
* ``js/common/settings.js`` from ``shading/settings.py`` (the presets, intensities, modes and platforms the
  popup and options page offer, and their defaults: the engine's own lists);
* in ``js/content/main-world.js``, which runs in the page's own world and cannot load another script, each
  ``// @inline content/common.js: NAME`` line becomes the block ``content/common.js`` marks
  ``// >>> NAME`` ... ``// <<< NAME`` (picture sniffing, base64).

    python3 extension/build.py                # both browsers
    python3 extension/build.py chromium       # one
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
PLATFORMS = HERE / "platform"
DIST = HERE / "dist"
IDS_FILE = HERE.parent / "artshade" / "ids.py"
PROFILES_FILE = HERE.parent / "artshade" / "upload_profiles.json"
SETTINGS_FILE = HERE.parent / "shading" / "settings.py"
#: the extension's name for a shading choice -> the tuple of shading/settings.py that lists its values
CHOICE_LISTS = {"preset": "PRESETS", "intensity": "INTENSITIES", "mode": "MODES", "platform": "PLATFORMS"}
BROWSERS = ("chromium", "firefox")
COMMON_JS = Path("js") / "content" / "common.js"
_INLINE = re.compile(r"^(?P<indent>[ \t]*)// @inline content/common\.js: (?P<name>\S.*?)[ \t]*$", re.M)
_BLOCK = re.compile(r"^[ \t]*// (?P<end>>>>|<<<) (?P<name>\S.*?)[ \t]*$")


def shared_ids(path: Path = IDS_FILE) -> dict[str, Any]:
    """The constants of artshade/ids.py, read without importing the package (stdlib only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ids: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    ids[target.id] = ast.literal_eval(node.value)
    return ids


def shading_settings(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    """The choices of shading/settings.py (``CHOICE_LISTS``) and their defaults (the ``Settings`` fields of
    the same names), read without importing the engine (stdlib only).  Each must be written as literals."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
        elif isinstance(node, ast.ClassDef) and node.name == "Settings":
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value:
                    defaults[item.target.id] = item.value

    def literal(name: str, node: ast.expr | None) -> Any:
        if node is None:
            raise SystemExit(
                f"build.py: {path.name} has no {name} (the extension's choices are read from it)"
            )
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise SystemExit(
                f"build.py: {path.name}: {name} must be written as literals (the build reads it)"
            ) from None

    choices: dict[str, list[str]] = {}
    for key, name in CHOICE_LISTS.items():
        listed = literal(name, values.get(name))
        if not isinstance(listed, tuple) or not listed or not all(isinstance(v, str) for v in listed):
            raise SystemExit(f"build.py: {path.name}: {name} must be a tuple of strings (the build reads it)")
        choices[key] = list(listed)
    default = {key: literal(f"Settings.{key}", defaults.get(key)) for key in CHOICE_LISTS}
    for key, value in default.items():
        if value not in choices[key]:
            raise SystemExit(
                f"build.py: {path.name}: Settings.{key} = {value!r} is not in {CHOICE_LISTS[key]}"
            )
    return {"choices": choices, "defaults": default}


def check_platforms(settings: dict[str, Any], profiles: dict[str, Any]) -> None:
    """The platforms the engine takes (settings.PLATFORMS) are the ones upload_profiles.json describes."""
    listed, described = settings["choices"]["platform"], list(profiles["platforms"])
    if listed != described:
        raise SystemExit(
            f"build.py: shading/settings.py PLATFORMS {listed} differ from the platforms of "
            f"{PROFILES_FILE.name} {described} (same names, same order)"
        )


def settings_js(settings: dict[str, Any]) -> str:
    """js/common/settings.js: the shading choices and their defaults."""
    return (
        "// Generated by extension/build.py from shading/settings.py; do not edit.\n"
        f"export const CHOICES = {json.dumps(settings['choices'], indent=2)};\n"
        f"export const DEFAULTS = {json.dumps(settings['defaults'], indent=2)};\n"
    )


def deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("@") and value.endswith("@"):
        name = value[1:-1]
        if name not in ids:
            raise SystemExit(f"build.py: unknown placeholder {value} (not in {IDS_FILE.name})")
        return ids[name]
    return value


def manifest_for(browser: str, ids: dict[str, Any]) -> dict[str, Any]:
    base = json.loads((SRC / "manifest.json").read_text(encoding="utf-8"))
    override = json.loads((PLATFORMS / browser / "manifest.json").read_text(encoding="utf-8"))
    return fill(deep_merge(base, override), ids)


def constants_js(ids: dict[str, Any]) -> str:
    """js/common/ids.js: the shared names the extension needs at run time (the same in both builds)."""
    names = {"NATIVE_HOST_NAME": ids["NATIVE_HOST_NAME"], "DEFAULT_PORT": ids["DEFAULT_PORT"]}
    lines = ["// Generated by extension/build.py from artshade/ids.py; do not edit.\n"]
    lines += [f"export const {k} = {json.dumps(v)};\n" for k, v in names.items()]
    return "".join(lines)


def upload_profiles(path: Path = PROFILES_FILE) -> dict[str, Any]:
    """The platforms and sites of upload_profiles.json, checked: every site names a known platform."""
    data = json.loads(path.read_text(encoding="utf-8"))
    platforms, sites = data["platforms"], data["sites"]
    if "none" not in platforms:
        raise SystemExit(f"build.py: {path.name} must define the platform 'none'")
    for entry in sites:
        if entry["platform"] not in platforms:
            raise SystemExit(
                f"build.py: {path.name}: {entry['site']} names unknown platform {entry['platform']!r}"
            )
    return {"platforms": platforms, "sites": sites}


def site_patterns(site: str) -> list[str]:
    """The host-permission patterns that cover ``site`` (as js/common/sites.js ``patternsFor`` makes them)."""
    return [f"https://*.{site}/*"]


def check_default_sites(manifest: dict[str, Any], profiles: dict[str, Any]) -> None:
    """Sites protected by default need their host permissions granted at install."""
    granted = set(manifest.get("host_permissions", []))
    for entry in profiles["sites"]:
        missing = [p for p in site_patterns(entry["site"]) if p not in granted]
        if entry["protected_by_default"] and missing:
            raise SystemExit(
                f"build.py: {entry['site']} is protected by default but the manifest lacks {missing}"
            )


def profiles_js(profiles: dict[str, Any]) -> str:
    """js/common/profiles.js: the platforms (name -> processing) and the sites, in the file's order."""
    return (
        "// Generated by extension/build.py from artshade/upload_profiles.json; do not edit.\n"
        f"export const PLATFORMS = {json.dumps(profiles['platforms'], indent=2)};\n"
        f"export const SITES = {json.dumps(profiles['sites'], indent=2)};\n"
    )


def common_blocks(common: str) -> dict[str, str]:
    """The blocks of content/common.js marked ``// >>> NAME`` ... ``// <<< NAME`` (markers kept), dedented."""
    blocks: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in common.splitlines(keepends=True):
        mark = _BLOCK.match(line)
        if mark and mark["end"] == ">>>":
            if name is not None:
                raise SystemExit(f"build.py: {COMMON_JS}: block {mark['name']!r} opens inside {name!r}")
            name, lines = mark["name"], []
        if name is not None:
            lines.append(line)
        if mark and mark["end"] == "<<<":
            if name is None or mark["name"] != name:
                raise SystemExit(f"build.py: {COMMON_JS}: '// <<< {mark['name']}' closes no open block")
            blocks[name] = textwrap.dedent("".join(lines))
            name = None
    if name is not None:
        raise SystemExit(f"build.py: {COMMON_JS}: block {name!r} is never closed ('// <<< {name}')")
    return blocks


def inline_common(text: str, blocks: dict[str, str], where: str) -> str:
    """``text`` with every ``// @inline content/common.js: NAME`` line replaced by that block, indented as the
    line was.  Refuses a name content/common.js does not mark."""

    def block(m: re.Match[str]) -> str:
        if m["name"] not in blocks:
            raise SystemExit(
                f"build.py: {where} inlines {m['name']!r}, which {COMMON_JS} does not mark "
                f"('// >>> {m['name']}' ... '// <<< {m['name']}')"
            )
        return textwrap.indent(blocks[m["name"]], m["indent"]).rstrip("\n")

    return _INLINE.sub(block, text)


def inline_scripts(root: Path) -> None:
    """Fill the ``// @inline`` lines of the scripts under ``root`` (a copy of src/) from content/common.js."""
    blocks = common_blocks((root / COMMON_JS).read_text(encoding="utf-8"))
    for path in sorted((root / "js").rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        if _INLINE.search(text):
            where = str(path.relative_to(root))
            path.write_text(inline_common(text, blocks, where), encoding="utf-8")


def build(browser: str, out_root: Path = DIST) -> Path:
    if browser not in BROWSERS:
        raise SystemExit(f"build.py: unknown browser {browser!r}; choose from {', '.join(BROWSERS)}")
    ids = shared_ids()
    profiles = upload_profiles()
    settings = shading_settings()
    check_platforms(settings, profiles)
    out = out_root / browser
    out_root.mkdir(parents=True, exist_ok=True)
    # Built beside the target, then swapped in: a concurrent build (another test session) never sees half.
    tmp = Path(tempfile.mkdtemp(prefix=f".{browser}-", dir=out_root))
    try:
        shutil.copytree(SRC, tmp, ignore=shutil.ignore_patterns("manifest.json", ".*"), dirs_exist_ok=True)
        inline_scripts(tmp)
        manifest = manifest_for(browser, ids)
        check_default_sites(manifest, profiles)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (tmp / "js" / "common" / "ids.js").write_text(constants_js(ids), encoding="utf-8")
        (tmp / "js" / "common" / "profiles.js").write_text(profiles_js(profiles), encoding="utf-8")
        (tmp / "js" / "common" / "settings.js").write_text(settings_js(settings), encoding="utf-8")
        old = out_root / f".{browser}-old-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            out.rename(old)
        with contextlib.suppress(OSError):  # another build put an identical tree there first
            tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    for browser in argv or list(BROWSERS):
        print(build(browser))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
