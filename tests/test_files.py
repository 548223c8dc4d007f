"""``artshade.files``: the project's one atomic writer and one same-file test, and nobody else's."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from artshade.errors import OutputError
from artshade.files import TEMP_PREFIX, same_file, write_atomic, write_json_atomic

REPO = Path(__file__).resolve().parents[1]
PARTS = ("artshade", "shading", "daemon", "native_messaging")


def test_private_write_makes_the_folders_and_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "state" / "deep" / "token"
    write_atomic(target, b"secret\n", mode=0o600, parents=0o700)
    assert target.read_bytes() == b"secret\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    write_json_atomic(tmp_path / "state" / "x.json", {"b": 1, "a": [2]})
    assert (tmp_path / "state" / "x.json").read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert sorted(p.name for p in target.parent.iterdir()) == ["token"]  # no temp file left


def test_no_overwrite_refuses_a_taken_name_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "a.png"
    target.write_bytes(b"the artist's file")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"ours", overwrite=False)
    assert target.read_bytes() == b"the artist's file"
    dangling = tmp_path / "b.png"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):  # a link is a taken name too, even a dangling one
        write_atomic(dangling, b"ours", overwrite=False)
    assert not (tmp_path / "nowhere").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_exact_mode_ignores_the_umask(tmp_path: Path) -> None:
    write_atomic(tmp_path / "launcher", b"#!/bin/sh\n", mode=0o755)
    assert stat.S_IMODE((tmp_path / "launcher").stat().st_mode) == 0o755


def test_refusals_are_output_errors(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="empty"):
        write_atomic(tmp_path / "x", b"")
    with pytest.raises(OutputError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "x", b"x")


@pytest.mark.parametrize("how", ["hardlink", "symlink", "dotdot", "not-yet"])
def test_same_file(tmp_path: Path, how: str) -> None:
    (tmp_path / "sub").mkdir()
    original = tmp_path / "a.png"
    original.write_bytes(b"x")
    other = {
        "hardlink": tmp_path / "hard.png",
        "symlink": tmp_path / "link.png",
        "dotdot": tmp_path / "sub" / ".." / "a.png",
        "not-yet": tmp_path / "sub" / ".." / "new.png",
    }[how]
    if how == "hardlink":
        os.link(original, other)
    elif how == "symlink":
        other.symlink_to(original)
    if how == "not-yet":
        assert same_file(other, tmp_path / "new.png")
        assert not same_file(other, original)
    else:
        assert same_file(other, original)
    assert not same_file(tmp_path / "sub", original)


def test_nobody_else_writes_files_atomically_or_compares_paths() -> None:
    """One helper each for the whole project: no other module renames temp files into place or asks
    whether two paths are the same file by hand (``daemon/watch/files.move_file`` links originals, and
    ``models.add`` moves checked, staged files into place: moves, not writes)."""
    pattern = re.compile(r"os\.replace\(|mkstemp\(|\.samefile\(|path\.samefile\(|resolve\(\) == ")
    offenders = []
    for part in PARTS:
        for path in sorted((REPO / part).rglob("*.py")):
            if path == REPO / "artshade" / "files.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line) and "log rotation" not in line and "staged install" not in line:
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
