"""The watch folder's pure rules and its disk helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from artshade.daemon.watch import rules
from artshade.daemon.watch.files import clean_temp_files, move_file, write_new


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.png",
        ".DS_Store",
        "photo.png.part",
        "photo.jpg.crdownload",
        "photo.png.tmp",
        "x.TMP",
        "~$report.png",
        "photo.png~",
        "download.opdownload",
        "photo.png.download",
        "Thumbs.db",
        "desktop.ini",
        ".artshade-tmp-1234-a.png",
        ".artshade.json",
    ],
)
def test_hidden_and_temporary_names_are_ignored(name: str) -> None:
    assert rules.is_hidden_or_temp(name)


@pytest.mark.parametrize(
    "name", ["photo.png", "Photo (1).JPG", "a.b.webp", "scan.tiff", "no-extension", "~tilde.png"]
)
def test_ordinary_names_are_taken(name: str) -> None:
    assert not rules.is_hidden_or_temp(name)


def test_ignore_reason_covers_own_folders_and_hidden_parents(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    outbox = inbox / "protected"  # outbox inside the inbox
    moved = tmp_path / "done"
    excluded = [outbox, moved]
    assert rules.ignore_reason(inbox / "a.png", inbox, excluded) is None
    assert rules.ignore_reason(inbox / "sub" / "deeper" / "a.png", inbox, excluded) is None
    assert rules.ignore_reason(outbox / "a.png", inbox, excluded) == "the watcher's own output"
    assert rules.ignore_reason(outbox / "errors" / "a.png.txt", inbox, excluded) == "the watcher's own output"
    assert rules.ignore_reason(inbox / ".git" / "a.png", inbox, excluded) == "hidden or temporary"
    assert rules.ignore_reason(inbox / "sub" / "a.png.part", inbox, excluded) == "hidden or temporary"
    assert rules.ignore_reason(tmp_path / "elsewhere.png", inbox, excluded) == "outside the inbox"
    assert rules.ignore_reason(inbox, inbox, excluded) == "outside the inbox"
    # a sibling folder whose name merely starts like the inbox is outside it
    assert rules.ignore_reason(tmp_path / "in-other" / "a.png", inbox, excluded) == "outside the inbox"


def test_mirrored_paths_and_error_notes(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    src = inbox / "trip" / "day 1" / "sea.jpg"
    assert rules.mirrored(src, inbox, outbox) == outbox / "trip" / "day 1" / "sea.jpg"
    assert rules.error_note_path(src, inbox, outbox) == outbox / "errors" / "trip" / "day 1" / "sea.jpg.txt"
    assert rules.error_note_path(inbox / "a.png", inbox, outbox) == outbox / "errors" / "a.png.txt"


def test_output_name_keeps_name_unless_the_format_changes() -> None:
    assert rules.output_name("a.JPG", "jpeg") == "a.JPG"
    assert rules.output_name("a.jpeg", "jpeg") == "a.jpeg"
    assert rules.output_name("a.tif", "tiff") == "a.tif"
    assert rules.output_name("a.png", "jpeg") == "a.jpg"
    assert rules.output_name("noext", "png") == "noext.png"


def test_unique_path_adds_a_counter_and_respects_reservations(tmp_path: Path) -> None:
    wanted = tmp_path / "a.png"
    assert rules.unique_path(wanted) == wanted
    wanted.write_bytes(b"x")
    assert rules.unique_path(wanted) == tmp_path / "a (1).png"
    (tmp_path / "a (1).png").write_bytes(b"x")
    reserved = {tmp_path / "a (2).png"}
    assert rules.unique_path(wanted, taken=lambda p: p in reserved) == tmp_path / "a (3).png"
    assert rules.unique_path(tmp_path / "b") == tmp_path / "b"


def test_write_new_never_overwrites_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.png"
    write_new(target, b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_new(target, b"second")
    assert target.read_bytes() == b"first"
    write_new(target, b"third", replace=True)
    assert target.read_bytes() == b"third"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.png"]


def test_clean_temp_files_removes_only_ours(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    ours = tmp_path / "deep" / f"{rules.TEMP_PREFIX}abc-a.png"
    ours.write_bytes(b"partial")
    keep = [tmp_path / "a.png", tmp_path / ".user-hidden", tmp_path / "deep" / "b.png.part"]
    for p in keep:
        p.write_bytes(b"x")
    assert clean_temp_files(tmp_path) == [ours]
    assert all(p.exists() for p in keep)
    assert clean_temp_files(tmp_path / "missing") == []


def test_move_file_never_overwrites(tmp_path: Path) -> None:
    src1, src2 = tmp_path / "in" / "a.png", tmp_path / "in2" / "a.png"
    for i, p in enumerate((src1, src2)):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"%d" % i)
    dest = tmp_path / "done" / "a.png"
    assert move_file(src1, dest) == dest
    assert move_file(src2, dest) == tmp_path / "done" / "a (1).png"
    assert not src1.exists() and not src2.exists()
    assert dest.read_bytes() == b"0" and (tmp_path / "done" / "a (1).png").read_bytes() == b"1"
