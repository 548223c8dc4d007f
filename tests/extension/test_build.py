"""The build: both manifests from one source tree, minimal permissions, the fixed Chromium id, the Firefox
build passing `web-ext lint`, and the extension's pure modules (sites, bytes) checked under node."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ext_harness import EXTENSION, load_build, make_image

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
    assert m["background"] == {"service_worker": "js/background/background.js", "type": "module"}
    assert m["permissions"] == PERMISSIONS and m["host_permissions"] == HOSTS
    assert m["optional_host_permissions"] == ["https://*/*"]  # asked for per site the artist adds
    assert "browser_specific_settings" not in m and "content_scripts" not in m  # registered at run time
    generated = (built_extension["chromium"] / "js" / "common" / "ids.js").read_text()
    assert f'NATIVE_HOST_NAME = "{ids.NATIVE_HOST_NAME}"' in generated
    assert f"DEFAULT_PORT = {ids.DEFAULT_PORT}" in generated


def test_firefox_manifest(built_extension: dict[str, Path]) -> None:
    m = manifest(built_extension["firefox"])
    assert m["browser_specific_settings"]["gecko"]["id"] == ids.GECKO_EXTENSION_ID
    assert m["background"] == {"scripts": ["js/background/background.js"], "type": "module"}
    assert "key" not in m
    assert m["permissions"] == PERMISSIONS and m["host_permissions"] == HOSTS


def test_manifest_key_fixes_the_chromium_id() -> None:
    digest = hashlib.sha256(base64.b64decode(ids.CHROME_EXTENSION_KEY)).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == ids.CHROME_EXTENSION_ID


def test_both_builds_carry_the_same_sources(built_extension: dict[str, Path]) -> None:
    """Only the manifest differs between the browsers; every script, generated ones included, is the same."""

    def files(d: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(d)): p.read_bytes()
            for p in d.rglob("*")
            if p.is_file() and p.name != "manifest.json"
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
        # the one loopback check for every daemon URL (typed, a pairing reply, the native host's)
        "loopback": [
            "http://127.0.0.1:47815/v1", "http://localhost:8000", "http://[::1]:47815",
            "https://127.0.0.1:47815", "http://evil.example:47815", "http://127.0.0.1.evil.example:1",
            "http://user:pw@127.0.0.1:47815", "http://127.0.0.1", "http://10.0.0.5:47815", "javascript:1", "",
        ],
    }  # fmt: skip
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
    assert (
        out["loopback"]
        == ["http://127.0.0.1:47815", "http://localhost:8000", "http://[::1]:47815"] + [None] * 8
    )
    assert out["sha256"] == hashlib.sha256(b"artshade").hexdigest()


def extension_profiles(dist: Path) -> dict[str, Any]:
    """What a built extension offers: its platforms (with their processing) and sites, read under node."""
    proc = subprocess.run(
        ["node", str(Path(__file__).parent / "js" / "profiles.mjs"), str(dist / "js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_extension_and_daemon_read_the_same_upload_profiles(built_extension: dict[str, Path]) -> None:
    """One definition (artshade/upload_profiles.json): both builds and the engine/daemon agree on it."""
    from artshade.shading.settings import PLATFORMS
    from artshade.shading.transforms.platform import PROFILES

    engine = {
        name: {
            "max_side": p.max_side,
            "jpeg_quality": list(p.jpeg_quality) if p.jpeg_quality else None,
            "subsampling": p.subsampling,
        }
        for name, p in PROFILES.items()
    }
    spec = yaml.safe_load((EXTENSION.parent / "daemon" / "http" / "openapi.yaml").read_text())
    for browser in ("chromium", "firefox"):
        offered = extension_profiles(built_extension[browser])
        processing = {
            name: {k: v[k] for k in ("max_side", "jpeg_quality", "subsampling")}
            for name, v in offered["platforms"].items()
        }
        assert processing == engine
        assert offered["choices"]["platform"] == list(PROFILES) == list(PLATFORMS)  # popup's = daemon's
        assert offered["choices"]["platform"] == spec["components"]["schemas"]["Platform"]["enum"]
        assert offered["defaultSites"] == ["instagram.com", "artstation.com"]
        assert offered["platformForSite"] == {
            "instagram.com": "instagram",
            "artstation.com": "artstation",
            "x.com": "x",
        }
        assert (
            offered["described"]["instagram"] == "Instagram: longest side 1080 px, JPEG quality 70–80, 4:2:0"
        )
        assert offered["described"]["none"] == "No platform: kept as sent"


def test_extension_offers_the_engines_choices(built_extension: dict[str, Path]) -> None:
    """Presets, intensities, modes, platforms and their defaults are shading/settings.py's, in its order."""
    from artshade.shading import settings

    engine = {
        "preset": list(settings.PRESETS),
        "intensity": list(settings.INTENSITIES),
        "mode": list(settings.MODES),
        "platform": list(settings.PLATFORMS),
    }
    defaults = {key: getattr(settings.Settings(), key) for key in engine}
    for browser in ("chromium", "firefox"):
        offered = extension_profiles(built_extension[browser])
        assert offered["choices"] == {**engine, "policy": ["block", "ask", "allow"]}
        assert offered["defaults"] == defaults and offered["defaultPlatform"] == "none"


def test_build_reads_the_choices_from_the_settings_module(tmp_path: Path) -> None:
    build = load_build()
    real = build.SETTINGS_FILE.read_text(encoding="utf-8")
    read = build.shading_settings()
    assert read["choices"]["mode"][0] == "guard" and read["defaults"]["preset"] == "default"
    changed = tmp_path / "settings.py"
    changed.write_text(real.replace('MODES = ("guard",', 'MODES = ("veil", "guard",'))
    assert build.shading_settings(changed)["choices"]["mode"][:2] == ["veil", "guard"]
    changed.write_text(
        real.replace('INTENSITIES = ("low", "default", "high")', "INTENSITIES = tuple(LEVELS)")
    )
    with pytest.raises(SystemExit, match="INTENSITIES must be written as literals"):
        build.shading_settings(changed)
    changed.write_text(real.replace('preset: str = "default"', 'preset: str = "turbo"'))
    with pytest.raises(SystemExit, match="Settings.preset = 'turbo' is not in PRESETS"):
        build.shading_settings(changed)
    profiles = build.upload_profiles()
    build.check_platforms(read, profiles)
    read["choices"]["platform"] = ["none", "x", "instagram", "artstation"]
    with pytest.raises(SystemExit, match="PLATFORMS .* differ from the platforms of upload_profiles.json"):
        build.check_platforms(read, profiles)


def test_build_refuses_a_default_site_without_its_host_permission(tmp_path: Path) -> None:
    build = load_build()
    profiles = build.upload_profiles()
    manifest = build.manifest_for("chromium", build.shared_ids())
    build.check_default_sites(manifest, profiles)  # the real manifest covers the default sites
    manifest["host_permissions"].remove("https://*.artstation.com/*")
    with pytest.raises(SystemExit, match="artstation.com is protected by default"):
        build.check_default_sites(manifest, profiles)
    broken = tmp_path / "upload_profiles.json"
    data = json.loads(build.PROFILES_FILE.read_text())
    data["sites"][0]["platform"] = "myspace"
    broken.write_text(json.dumps(data))
    with pytest.raises(SystemExit, match="unknown platform 'myspace'"):
        build.upload_profiles(broken)
