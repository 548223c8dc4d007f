"""Picture sniffing, base64 and SHA-256 are written once for the extension (``js/content/common.js``) and the
engine's ``sniff_format`` decides what a picture is.  Every JS copy (the source, what extension/build.py
inlines into each build's main-world.js, and the modules' ``common/bytes.js``) is run under node on the same
bytes as the engine; none may disagree, and no other script may spell the magic bytes again."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from artshade.shading.io import sniff_format
from ext_harness import EXTENSION, load_build
from PIL import Image

SRC_JS = EXTENSION / "src" / "js"
COMMON = SRC_JS / "content" / "common.js"
BLOCKS = ("picture sniffing", "base64")
#: a magic number spelled out in a script: hex bytes of JPEG / PNG, RIFF/WEBP, GIF, ISO-BMFF brands
MAGIC = re.compile(r"(?i:\\x(?:ff|89|d8)|0x(?:ff|89|d8)\b)|\bWEBP\b|\bRIFF\b|GIF8|ftyp")


def picture(fmt: str, **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 80, 40)).save(out, format=fmt, **save)
    return out.getvalue()


def heads() -> dict[str, bytes]:
    """The first bytes of real files of every format the engine reads, and of some it does not."""
    files = {
        "jpeg": picture("JPEG"),
        "png": picture("PNG"),
        "webp": picture("WEBP"),
        "tiff-le": picture("TIFF"),
        "gif": picture("GIF"),
        "bmp": picture("BMP"),
    }
    files["tiff-be"] = b"MM\x00*\x00\x00\x00\x08" + files["tiff-le"][8:]
    files["bigtiff-le"] = b"II+\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00"
    files["bigtiff-be"] = b"MM\x00+\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10"
    files["heic"] = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    files["avif"] = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"
    return {name: data[:16].ljust(16, b"\x00") for name, data in files.items()}


def cases() -> list[bytes]:
    """Each head, every prefix of it, and each with one byte changed: every position of every signature."""
    out: list[bytes] = [b"", b"plain text, not a picture at all"]
    for head in heads().values():
        out += [head[:n] for n in range(len(head) + 1)]
        out += [head[:i] + bytes([head[i] ^ 0xFF]) + head[i + 1 :] for i in range(len(head))]
        out += [head + b"\x00" * 48]
    return list(dict.fromkeys(out))


def run_copies(copies: dict[str, Path], data: list[bytes]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed for the extension (web-ext) and its tests"
    args = {
        "copies": {name: str(path) for name, path in copies.items()},
        "module": str(SRC_JS / "common" / "bytes.js"),
        "cases": [base64.b64encode(d).decode("ascii") for d in data],
    }
    proc = subprocess.run(
        [node, str(Path(__file__).parent / "js" / "sniff.mjs"), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def test_every_js_copy_sniffs_as_the_engine_does(built_extension: dict[str, Path]) -> None:
    data = cases()
    expected = [sniff_format(d) for d in data]
    assert {"jpeg", "png", "webp", "tiff", None} == set(expected)  # the corpus reaches every answer
    copies = {"content/common.js": COMMON} | {
        f"{browser} main-world.js": dist / "js" / "content" / "main-world.js"
        for browser, dist in built_extension.items()
    }
    out = run_copies(copies, data)
    assert set(out) == set(copies) | {"common/bytes.js"}
    for name, got in out.items():
        assert got is not None, f"{name}: the marked blocks {BLOCKS} are missing"
        wrong = [(d.hex(), g, e) for d, g, e in zip(data, got["sniff"], expected, strict=True) if g != e]
        assert wrong == [], f"{name} sniffs differently from shading/io.py sniff_format: {wrong[:5]}"
        assert got["sniffBuffer"] == expected and got["sniffView"] == expected, name
        assert all(got["base64"]), name
    # the formats the engine cannot shade (named to the artist) come from the same single block
    others = out["content/common.js"]["other"]
    assert all(out[name]["other"] == others for name in copies)
    named = dict(zip(data, others, strict=True))
    assert [named[heads()[k]] for k in ("gif", "bmp", "heic", "avif", "png")] == [
        "GIF",
        "BMP",
        "HEIC",
        "AVIF",
        None,
    ]


def without_blocks(text: str) -> str:
    for name in BLOCKS:
        text = re.sub(rf"// >>> {name}\n.*?// <<< {name}\n", "", text, flags=re.S)
    return text


def test_the_magic_bytes_are_spelled_once(built_extension: dict[str, Path]) -> None:
    scripts = sorted(SRC_JS.rglob("*.js")) + sorted(
        p for dist in built_extension.values() for p in (dist / "js").rglob("*.js")
    )
    assert COMMON in scripts and MAGIC.search(COMMON.read_text())  # the pattern sees the one real copy
    copies = [str(p) for p in scripts if MAGIC.search(without_blocks(p.read_text(encoding="utf-8")))]
    assert copies == [], "magic bytes outside content/common.js's marked blocks"


def test_main_world_carries_the_blocks_as_written(built_extension: dict[str, Path]) -> None:
    build = load_build()
    blocks = build.common_blocks(COMMON.read_text(encoding="utf-8"))
    assert set(blocks) == set(BLOCKS)
    assert "@inline" in (SRC_JS / "content" / "main-world.js").read_text(encoding="utf-8")
    for dist in built_extension.values():
        built = (dist / "js" / "content" / "main-world.js").read_text(encoding="utf-8")
        assert "@inline" not in built
        for block in blocks.values():  # inside guard(), which workers get as text: indented as its body
            assert built.count(textwrap.indent(block, "    ")) == 1


def test_the_build_refuses_an_unknown_or_unclosed_block() -> None:
    build = load_build()
    blocks = build.common_blocks("  // >>> one\n  const a = 1;\n  // <<< one\n")
    assert blocks == {"one": "// >>> one\nconst a = 1;\n// <<< one\n"}
    assert build.inline_common("f() {\n    // @inline content/common.js: one\n}\n", blocks, "x.js") == (
        "f() {\n    // >>> one\n    const a = 1;\n    // <<< one\n}\n"
    )
    with pytest.raises(SystemExit, match="x.js inlines 'two'"):
        build.inline_common("// @inline content/common.js: two\n", blocks, "x.js")
    with pytest.raises(SystemExit, match="'one' is never closed"):
        build.common_blocks("// >>> one\nconst a = 1;\n")
    with pytest.raises(SystemExit, match="'two' opens inside 'one'"):
        build.common_blocks("// >>> one\n// >>> two\n// <<< two\n// <<< one\n")
    with pytest.raises(SystemExit, match="'// <<< two' closes no open block"):
        build.common_blocks("// >>> one\n// <<< two\n")
