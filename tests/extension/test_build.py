"""The build: both manifests from one source tree, minimal permissions, the fixed Chromium id, the Firefox
build passing `web-ext lint`, and the extension's pure modules (sites, bytes) checked under node."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from ext_harness import EXTENSION, make_image

from artshade import ids

PERMISSIONS = ["storage", "nativeMessaging", "scripting", "activeTab"]
HOSTS = [
    "http://127.0.0.1/*",
    "http://localhost/*",
    "https://*.instagram.com/*",
    "https://*.artstation.com/*",
]


def manifest(dist: Path) -> dict:
    return json.loads((dist / "manifest.json").read_text())


def test_chromium_manifest(built_extension: dict[str, Path]) -> None:
    m = manifest(built_extension["chromium"])
    assert m["manifest_version"] == 3
    assert m["key"] == ids.CHROME_EXTENSION_KEY
    assert m["background"] == {"service_worker": "js/background.js", "type": "module"}
    assert m["permissions"] == PERMISSIONS and m["host_permissions"] == HOSTS
    assert m["optional_host_permissions"] == ["https://*/*"]  # asked for per site the artist adds
    assert "browser_specific_settings" not in m and "content_scripts" not in m  # registered at run time
    generated = (built_extension["chromium"] / "js" / "ids.js").read_text()
    assert f'NATIVE_HOST_NAME = "{ids.NATIVE_HOST_NAME}"' in generated
    assert f"DEFAULT_PORT = {ids.DEFAULT_PORT}" in generated


def test_firefox_manifest(built_extension: dict[str, Path]) -> None:
    m = manifest(built_extension["firefox"])
    assert m["browser_specific_settings"]["gecko"]["id"] == ids.GECKO_EXTENSION_ID
    assert m["background"] == {"scripts": ["js/background.js"], "type": "module"}
    assert "key" not in m
    assert m["permissions"] == PERMISSIONS and m["host_permissions"] == HOSTS


def test_manifest_key_fixes_the_chromium_id() -> None:
    digest = hashlib.sha256(base64.b64decode(ids.CHROME_EXTENSION_KEY)).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == ids.CHROME_EXTENSION_ID


def test_both_builds_carry_the_same_sources(built_extension: dict[str, Path]) -> None:
    def files(d: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(d)): p.read_bytes()
            for p in d.rglob("*")
            if p.is_file() and p.name not in {"manifest.json", "ids.js"}
        }

    assert files(built_extension["chromium"]) == files(built_extension["firefox"])


def test_firefox_build_passes_web_ext_lint(built_extension: dict[str, Path], unavailable) -> None:
    if not (EXTENSION / "node_modules" / "web-ext").is_dir():
        unavailable("needs web-ext: run `npm ci` in extension/ (.ci/run does)")
    proc = subprocess.run(
        [
            "npx",
            "--no-install",
            "web-ext",
            "lint",
            "--source-dir",
            str(built_extension["firefox"]),
            "--output",
            "json",
        ],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    problems = [(m["code"], m["message"]) for m in report["errors"] + report["warnings"]]
    assert problems == [], problems
    assert report["summary"]["errors"] == 0
    assert proc.returncode == 0


def test_pure_modules_under_node() -> None:
    node = shutil.which("node")
    assert node, "node is needed for the extension (web-ext) and its tests"
    png, jpeg = make_image("PNG", 5), make_image("JPEG", 5)
    cases = {
        "normalise": [
            "https://www.Cara.app/some/page",
            "127.0.0.1:8123",
            "localhost",
            "http://localhost:9000/x",
            "x.com",
            "not a site!",
            "",
            "exa_mple.com",
        ],
        "siteFor": [
            ["www.instagram.com", ["instagram.com"]],
            ["instagram.com", ["instagram.com"]],
            ["evilinstagram.com", ["instagram.com"]],
            ["127.0.0.1:8123", ["127.0.0.1:8123"]],
            ["127.0.0.1:9999", ["127.0.0.1:8123"]],
            ["localhost:5000", ["localhost"]],
        ],
        "patterns": ["instagram.com", "127.0.0.1:8123", "localhost"],
        "rename": [
            ["art.png", "image/jpeg"],
            ["art.jpeg", "image/jpeg"],
            ["scan.TIF", "image/tiff"],
            ["x", "image/png"],
        ],
        "sniff": [
            base64.b64encode(b).decode() for b in (png, jpeg, b"GIF89a-not-supported", b"II*\x00rest-of-tiff")
        ],
    }
    proc = subprocess.run(
        [
            node,
            str(Path(__file__).parent / "js" / "logic.mjs"),
            str(EXTENSION / "src" / "js"),
            json.dumps(cases),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["normalise"] == [
        "cara.app",
        "127.0.0.1:8123",
        "localhost",
        "localhost:9000",
        "x.com",
        None,
        None,
        None,
    ]
    assert out["siteFor"] == ["instagram.com", "instagram.com", None, "127.0.0.1:8123", None, "localhost"]
    assert out["patterns"] == [["https://*.instagram.com/*"], ["http://127.0.0.1/*"], ["http://localhost/*"]]
    assert out["rename"] == ["art.jpg", "art.jpeg", "scan.TIF", "x.png"]
    assert out["sniff"] == ["png", "jpeg", None, "tiff"]
    assert all(out["roundTrip"])
    assert out["sha256"] == hashlib.sha256(b"artshade").hexdigest()
