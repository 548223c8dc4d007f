"""FolderWatcher with a fake engine (inverts pixels): rules, naming, state, settings, crash recovery."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from artshade.daemon.watch.outcomes import FileOutcome
from artshade.daemon.watch.state import WatchState, job_key
from artshade.daemon.watch.watcher import FolderWatcher
from artshade.shading.io import Limits
from artshade.shading.settings import Settings
from PIL import Image

FAST = Settings(preset="fast")


def make(inbox: Path, outbox: Path, runner, tmp_path: Path, **kw) -> FolderWatcher:
    kw.setdefault("state_path", tmp_path / "state" / "watch.sqlite3")
    kw.setdefault("stable_window", 0.05)
    kw.setdefault("poll_interval", 0.02)
    return FolderWatcher(inbox, outbox, FAST, runner=runner, **kw)


def outcomes(watcher: FolderWatcher) -> list[FileOutcome]:
    seen: list[FileOutcome] = []
    watcher.on_file = seen.append
    return seen


def test_shades_each_picture_into_the_outbox_mirroring_subfolders(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    originals = {
        "a.png": tools.write_picture(inbox / "a.png", 1),
        "b.jpg": tools.write_picture(inbox / "b.jpg", 2, fmt="JPEG"),
        "trip/day 1/c.webp": tools.write_picture(inbox / "trip" / "day 1" / "c.webp", 3, fmt="WEBP"),
    }
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path)
    summary = watcher.scan_once()

    assert summary.counts == {"shaded": 3}
    assert sorted(p.relative_to(outbox).as_posix() for p in tools.files_under(outbox)) == sorted(originals)
    for rel, data in originals.items():
        assert (inbox / rel).read_bytes() == data  # originals untouched
        with Image.open(outbox / rel) as out:
            assert out.format.lower() in rel.rsplit(".", 1)[1].replace("jpg", "jpeg")
        assert (outbox / rel).read_bytes() != data
    assert runner.total == 3 and set(runner.priorities) == {"batch"}


def test_ignores_hidden_temporary_and_non_image_files(folders, tools, tmp_path, caplog) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "good.png", 1)
    for name in ("photo.png.part", "dl.jpg.crdownload", "~$lock.png", ".hidden.png", "x.png.tmp"):
        tools.write_picture(inbox / name, 2)
    tools.write_picture(inbox / ".cache" / "inside-hidden-folder.png", 3)
    (inbox / "notes.txt").write_text("not a picture")
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path)
    seen = outcomes(watcher)
    with caplog.at_level(logging.INFO, logger="artshade.watch"):
        summary = watcher.scan_once()

    assert summary.counts == {"shaded": 1, "ignored": 1}
    assert [p.relative_to(outbox).as_posix() for p in tools.files_under(outbox)] == ["good.png"]
    ignored = [o for o in seen if o.outcome == "ignored"]
    assert [o.source.name for o in ignored] == ["notes.txt"]
    assert "notes.txt: not an image" in caplog.text
    assert summary.failed == 0  # a non-image is not an error: no note, exit 0


@pytest.mark.parametrize(
    ("inbox", "outbox", "message"),
    [
        ("in", "in/protected", "inside the inbox"),
        ("out/in", "out", "inside the outbox"),
        ("in", "in", "the inbox itself"),
        ("/", "out", "root of a disk"),
        ("/etc", "out", "system folder"),
        ("/usr/share", "out", "system folder"),
        ("in", "/var/lib/x", "system folder"),
    ],
)
def test_nested_or_system_folders_are_refused(tmp_path, inbox: str, outbox: str, message: str) -> None:
    from artshade.shading.errors import SettingsError

    with pytest.raises(SettingsError, match=message) as info:
        FolderWatcher(tmp_path / inbox, tmp_path / outbox, FAST, state_path=tmp_path / "s.sqlite3")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("which", ["inbox", "outbox"])
def test_a_symlinked_inbox_or_outbox_is_refused(tmp_path, which: str) -> None:
    from artshade.shading.errors import SettingsError

    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    folders = {"inbox": tmp_path / "in", "outbox": tmp_path / "out", which: link}
    with pytest.raises(SettingsError, match="symbolic link"):
        FolderWatcher(folders["inbox"], folders["outbox"], FAST, state_path=tmp_path / "s.sqlite3")


def test_links_inside_the_inbox_are_never_followed(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    secret = tmp_path / "elsewhere" / "private.png"
    tools.write_picture(secret, 7)
    tools.write_picture(inbox / "own.png", 1)
    inbox.mkdir(exist_ok=True)
    (inbox / "link.png").symlink_to(secret)
    (inbox / "linked-folder").symlink_to(secret.parent, target_is_directory=True)
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path)
    seen = outcomes(watcher)
    watcher.notice(inbox / "linked-folder" / "private.png")  # as a file event through the link would
    summary = watcher.scan_once()
    assert summary.counts == {"shaded": 1, "ignored": 2}
    assert runner.total == 1
    assert [p.relative_to(outbox).as_posix() for p in tools.files_under(outbox)] == ["own.png"]
    ignored = sorted(o.message for o in seen if o.outcome == "ignored")
    assert ignored == [
        "link.png is a symbolic link (not followed)",
        "linked-folder is a symbolic link (not followed)",
    ]


def test_name_collisions_get_a_suffix_and_never_overwrite(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)
    outbox.mkdir()
    (outbox / "a.png").write_bytes(b"the artist's own file")
    (outbox / "a (1).png").write_bytes(b"another one")
    make(inbox, outbox, tools.FakeRunner(), tmp_path).scan_once()
    assert (outbox / "a.png").read_bytes() == b"the artist's own file"
    assert (outbox / "a (1).png").read_bytes() == b"another one"
    with Image.open(outbox / "a (2).png") as im:
        assert im.size == (64, 64)


def test_same_picture_twice_is_shaded_once_and_not_copied(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    data = tools.write_picture(inbox / "a.png", 1)
    (inbox / "sub").mkdir()
    (inbox / "sub" / "copy of a.png").write_bytes(data)
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path)
    seen = outcomes(watcher)
    summary = watcher.scan_once()
    assert runner.total == 1
    assert summary.counts == {"shaded": 1, "duplicate": 1}
    assert [p.relative_to(outbox).as_posix() for p in tools.files_under(outbox)] == ["a.png"]
    dup = next(o for o in seen if o.outcome == "duplicate")
    assert dup.source == inbox / "sub" / "copy of a.png" and dup.output == outbox / "a.png"


def test_after_an_engine_upgrade_a_picture_dropped_again_is_shaded_again(
    folders, tools, tmp_path, monkeypatch
) -> None:
    """The job key is ``Settings.fingerprint()``, which holds the engine version: what an older engine made
    does not count as done (the file it shaded is still known by its path; a new drop is shaded anew)."""
    from artshade.shading import settings as settings_module

    inbox, outbox = folders
    data = tools.write_picture(inbox / "a.png", 1)
    runner = tools.FakeRunner()
    make(inbox, outbox, runner, tmp_path).scan_once()
    (inbox / "a again.png").write_bytes(data)
    monkeypatch.setattr(settings_module, "ENGINE_VERSION", settings_module.ENGINE_VERSION + ".1")
    summary = make(inbox, outbox, runner, tmp_path).scan_once()
    assert summary.counts == {"shaded": 1}
    assert runner.total == 2
    assert sorted(p.name for p in tools.files_under(outbox)) == ["a again.png", "a.png"]


def test_restart_shades_only_what_is_new(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)
    runner = tools.FakeRunner()
    make(inbox, outbox, runner, tmp_path).scan_once()
    tools.write_picture(inbox / "b.png", 2)
    (inbox / "a.png").touch()  # a new mtime but the same content: still done
    summary = make(inbox, outbox, runner, tmp_path).scan_once()
    assert summary.counts == {"shaded": 1}
    assert runner.total == 2
    assert sorted(p.name for p in tools.files_under(outbox)) == ["a.png", "b.png"]
    # settings changed since: files already handled are not redone; new settings apply to new files
    w = FolderWatcher(
        inbox,
        outbox,
        Settings(preset="max"),
        runner=runner,
        state_path=tmp_path / "state" / "watch.sqlite3",
        stable_window=0.05,
        poll_interval=0.02,
    )
    assert w.scan_once().counts == {}
    assert runner.total == 2


def test_a_bad_file_is_explained_and_the_next_goes_on(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    good = tools.picture_bytes(1)
    (inbox / "broken.png").write_bytes(good[: len(good) // 2])  # cut off
    (inbox / "fake.jpg").write_text("this is text with a picture's name")
    (inbox / "anim.gif").write_bytes(b"GIF89a" + b"\0" * 40)
    tools.write_picture(inbox / "good.png", 2)
    before = {p: tools.sha(p) for p in tools.files_under(inbox)}
    runner = tools.FakeRunner()
    summary = make(inbox, outbox, runner, tmp_path).scan_once()

    assert summary.counts == {"shaded": 1, "failed": 3}
    assert summary.failed == 3
    notes = {p.relative_to(outbox).as_posix(): p.read_text() for p in (outbox / "errors").rglob("*.txt")}
    assert set(notes) == {"errors/broken.png.txt", "errors/fake.jpg.txt", "errors/anim.gif.txt"}
    assert all(text.count("\n") == 1 for text in notes.values())
    assert "damaged or incomplete" in notes["errors/broken.png.txt"]
    assert "not an image" in notes["errors/fake.jpg.txt"]
    assert "GIF" in notes["errors/anim.gif.txt"]
    assert {p: tools.sha(p) for p in tools.files_under(inbox)} == before  # all left where they were
    # a restart does not retry them (same content) but still reports them; it writes nothing new
    notes_before = {p: p.stat().st_mtime_ns for p in (outbox / "errors").rglob("*.txt")}
    again = make(inbox, outbox, runner, tmp_path)
    seen = outcomes(again)
    assert again.scan_once().counts == {"failed": 3}
    assert runner.total == 1
    assert {p: p.stat().st_mtime_ns for p in (outbox / "errors").rglob("*.txt")} == notes_before
    broken = next(o for o in seen if o.source.name == "broken.png")
    assert "damaged or incomplete" in broken.message and "unchanged since" in broken.message
    # fixing the file (new content) shades it and removes the note
    (inbox / "broken.png").write_bytes(good)
    assert make(inbox, outbox, runner, tmp_path).scan_once().counts == {"shaded": 1, "failed": 2}
    assert not (outbox / "errors" / "broken.png.txt").exists()


def test_too_large_files_are_refused_without_shading(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "big.png", 1, size=96)
    (inbox / "big.bin").write_bytes(b"\0" * 50_000)
    runner = tools.FakeRunner()
    summary = make(inbox, outbox, runner, tmp_path, limits=Limits(max_bytes=1000)).scan_once()
    assert summary.counts == {"failed": 1, "ignored": 1}
    assert runner.total == 0
    note = (outbox / "errors" / "big.png.txt").read_text()
    assert "larger than" in note and "(raise it with --max-file-mb N)" in note


def test_an_engine_failure_is_retried_on_next_start(folders, tools, tmp_path) -> None:
    from artshade.shading.errors import ModelError

    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)

    class Broken:
        def run(self, data, settings, *, priority):
            raise ModelError("weights missing; run artshade models install")

    summary = make(inbox, outbox, Broken(), tmp_path).scan_once()
    assert summary.counts == {"retry": 1} and summary.failed == 1
    assert "weights missing" in (outbox / "errors" / "a.png.txt").read_text()
    runner = tools.FakeRunner()
    assert make(inbox, outbox, runner, tmp_path).scan_once().counts == {"shaded": 1}
    assert (outbox / "a.png").exists() and not (outbox / "errors" / "a.png.txt").exists()


def test_move_originals_moves_only_after_the_output_is_written(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    done = tmp_path / "originals"
    data = tools.write_picture(inbox / "sub" / "a.png", 1)
    (inbox / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    runner = tools.FakeRunner()

    class Checking:
        def run(self, data, settings, *, priority):
            assert (inbox / "sub" / "a.png").exists()  # still in place while shading
            return runner.run(data, settings, priority=priority)

    make(inbox, outbox, Checking(), tmp_path, move_originals=done).scan_once()
    assert (done / "sub" / "a.png").read_bytes() == data
    assert not (inbox / "sub" / "a.png").exists()
    assert (outbox / "sub" / "a.png").exists()
    assert (inbox / "bad.png").exists()  # a failed file stays where it is
    assert not (done / "bad.png").exists()
    # a second drop of the same picture is a duplicate: moved too, no second output, no overwrite
    (inbox / "sub" / "a.png").write_bytes(data)
    make(inbox, outbox, runner, tmp_path, move_originals=done).scan_once()
    assert sorted(p.name for p in (done / "sub").iterdir()) == ["a (1).png", "a.png"]
    assert runner.total == 1


def test_folder_settings_file_overrides_and_a_bad_one_holds_its_folder(
    folders, tools, tmp_path, caplog
) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)
    tools.write_picture(inbox / "insta" / "b.png", 2)
    tools.write_picture(inbox / "broken" / "c.png", 3)
    tools.write_picture(inbox / "broken" / "deeper" / "d.png", 4)
    (inbox / "insta" / ".artshade.json").write_text(
        json.dumps({"platform": "instagram", "intensity": "high"})
    )
    (inbox / "broken" / ".artshade.json").write_text('{"preset": "ultra"}')

    seen_settings: list[Settings] = []
    runner = tools.FakeRunner()

    class Recording:
        def run(self, data, settings, *, priority):
            seen_settings.append(settings)
            return runner.run(data, settings, priority=priority)

    with caplog.at_level(logging.ERROR, logger="artshade.daemon.watch.folder_settings"):
        watcher = make(inbox, outbox, Recording(), tmp_path)
        summary = watcher.scan_once()
    assert summary.counts == {"shaded": 2, "held": 2}
    got = sorted((s.platform, s.intensity, s.preset) for s in seen_settings)
    assert got == [("instagram", "high", "fast"), ("none", "default", "fast")]
    note = (outbox / "errors" / "broken" / "artshade.json.txt").read_text()
    assert "preset must be one of" in note and "wait until it is fixed" in note
    assert not (outbox / "broken").exists()
    assert sum("preset must be one of" in r.getMessage() for r in caplog.records) == 1  # one clear line
    # fixed: the held pictures go through
    (inbox / "broken" / ".artshade.json").write_text('{"preset": "max"}')
    summary = make(inbox, outbox, Recording(), tmp_path).scan_once()
    assert summary.counts == {"shaded": 2}
    assert sorted(s.preset for s in seen_settings) == ["fast", "fast", "max", "max"]


def test_crash_mid_job_is_redone_into_the_reserved_name(folders, tools, tmp_path) -> None:
    """State as a SIGKILL can leave it: a job in progress with its output reserved, a temp file beside it."""
    inbox, outbox = folders
    state_path = tmp_path / "state" / "watch.sqlite3"
    data = tools.write_picture(inbox / "a.png", 1)
    import hashlib

    state = WatchState(state_path)
    content = hashlib.sha256(data).hexdigest()
    state.begin(job_key(content, FAST), content, FAST, "a.png", "a.png")
    state.close()
    outbox.mkdir()
    (outbox / ".artshade-tmp-0123-a.png").write_bytes(b"half")
    (outbox / "a.png").write_bytes(b"renamed in place before the crash")  # killed before 'done' was recorded

    runner = tools.FakeRunner()
    assert make(inbox, outbox, runner, tmp_path, state_path=state_path).scan_once().counts == {"shaded": 1}
    assert [p.name for p in outbox.iterdir()] == ["a.png"]
    with Image.open(outbox / "a.png") as im:
        assert im.size == (64, 64)
    assert make(inbox, outbox, runner, tmp_path, state_path=state_path).scan_once().counts == {}
    assert runner.total == 1


def test_live_watch_waits_for_slow_writes_and_sees_moves(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path, stable_window=0.3)
    watcher.start()
    try:
        data = tools.picture_bytes(7, size=96)
        # a browser download: written under a temp name, slowly, then renamed
        part = inbox / "download.png.crdownload"
        with open(part, "wb") as fh:
            for i in range(0, len(data), 512):
                fh.write(data[i : i + 512])
                fh.flush()
                time.sleep(0.01)
        part.rename(inbox / "download.png")
        # a slow copy in place, with pauses shorter than the stable window
        slow = tools.picture_bytes(8, size=96)
        with open(inbox / "slow.png", "wb") as fh:
            for i in range(0, len(slow), 1024):
                fh.write(slow[i : i + 1024])
                fh.flush()
                time.sleep(0.05)
        # a whole folder moved in
        staging = tmp_path / "staging" / "album"
        tools.write_picture(staging / "x.png", 9)
        staging.rename(inbox / "album")
        wait_for(lambda: len(tools.files_under(outbox)) >= 3 and watcher.idle())
    finally:
        watcher.stop()
    assert sorted(p.relative_to(outbox).as_posix() for p in tools.files_under(outbox)) == [
        "album/x.png",
        "download.png",
        "slow.png",
    ]
    import hashlib

    assert dict(runner.calls) == {
        hashlib.sha256(d).hexdigest(): 1 for d in (data, slow, tools.picture_bytes(9))
    }


def wait_for(condition, limit: float = 60.0) -> None:
    """Poll until ``condition()`` (a deadline against hangs, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_stop_returns_while_a_picture_is_being_shaded(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)
    runner = tools.FakeRunner()
    runner.gate = threading.Event()
    watcher = make(inbox, outbox, runner, tmp_path)
    watcher.start()
    wait_for(lambda: runner.total == 1)
    runner.gate.set()
    watcher.stop(timeout=30)
    assert watcher.summary.counts == {"shaded": 1}


def test_twenty_files_dropped_concurrently_fake_engine(folders, tools, tmp_path) -> None:
    """The end-to-end scenario of test_end_to_end with the fake engine (fast; the watcher's logic only)."""
    import hashlib

    inbox, outbox = folders
    runner = tools.FakeRunner()
    watcher = make(inbox, outbox, runner, tmp_path, stable_window=0.3)
    watcher.start()
    try:
        good, every = tools.drop_batch(inbox, slow=True)
        before = {rel: tools.sha(inbox / rel) for rel in every}
        note = outbox / "errors" / "corrupt.png.txt"
        tools.wait_for(
            lambda: len(tools.pictures_in(outbox)) >= len(good) and note.exists() and watcher.idle(),
            limit=120,
            what="all outputs",
        )
    finally:
        watcher.stop()
    assert dict(runner.calls) == {hashlib.sha256(d).hexdigest(): 1 for d in good.values()}
    tools.assert_one_output_each(outbox, good, "pic00.png", "pic00 copy.png")
    assert [p.name for p in tools.files_under(outbox / "errors")] == ["corrupt.png.txt"]
    assert {rel: tools.sha(inbox / rel) for rel in every} == before
    tools.assert_clean_outbox(outbox)


def test_a_second_watcher_on_the_same_folders_is_refused(folders, tools, tmp_path) -> None:
    from artshade.shading.errors import SettingsError

    inbox, outbox = folders
    first = make(inbox, outbox, tools.FakeRunner(), tmp_path)
    first.start()
    try:
        with pytest.raises(SettingsError, match="already shading"):
            make(inbox, outbox, tools.FakeRunner(), tmp_path).scan_once()
    finally:
        first.stop()
    tools.write_picture(inbox / "a.png", 1)
    assert make(inbox, outbox, tools.FakeRunner(), tmp_path).scan_once().counts == {"shaded": 1}


def test_a_folder_settings_file_gets_no_power_over_the_machine(folders, tools, tmp_path) -> None:
    """A shared or synced inbox hands its .artshade.json to whoever writes there: machine-level keys and
    target images outside the inbox are refused, each by name, and that folder is not shaded."""
    inbox, outbox = folders
    outside = tmp_path / "elsewhere" / "target.png"
    tools.write_picture(outside, 5)
    tools.write_picture(inbox / "shared" / "a.png", 1)
    tools.write_picture(inbox / "shared" / "look.png", 2)
    (inbox / "shared" / ".artshade.json").write_text(
        json.dumps({"device": "cuda", "outbox": "/tmp/x", "target_image": "../../elsewhere/target.png"})
    )
    tools.write_picture(inbox / "fine" / "b.png", 3)
    tools.write_picture(inbox / "fine" / "refs" / "look.png", 4)
    (inbox / "fine" / ".artshade.json").write_text(json.dumps({"target_image": "refs/look.png"}))
    tools.write_picture(inbox / "linked" / "c.png", 6)
    (inbox / "linked" / ".artshade.json").symlink_to(tmp_path / "elsewhere" / "settings.json")
    (tmp_path / "elsewhere" / "settings.json").write_text('{"preset": "max"}')

    seen: list[Settings] = []
    runner = tools.FakeRunner()

    class Recording:
        def run(self, data, settings, *, priority):
            seen.append(settings)
            return runner.run(data, settings, priority=priority)

    summary = make(inbox, outbox, Recording(), tmp_path).scan_once()
    assert summary.counts.get("held") == 3  # shared/a.png, shared/look.png, linked/c.png
    note = (outbox / "errors" / "shared" / "artshade.json.txt").read_text()
    for key in ("'device'", "'outbox'", "'target_image'"):
        assert f"refused {key}" in note
    assert "outside" in note and "\n" not in note.strip()
    assert "symbolic link" in (outbox / "errors" / "linked" / "artshade.json.txt").read_text()
    assert not (outbox / "shared").exists() and not (outbox / "linked").exists()
    # inside the inbox: fine; the engine reads a private copy of the bytes checked
    targets = {s.target_image.read_bytes() for s in seen if s.target_image}
    assert targets == {(inbox / "fine" / "refs" / "look.png").read_bytes()}
    assert all(inbox not in s.target_image.parents for s in seen if s.target_image)
    assert all(s.device == "auto" for s in seen)


def test_a_configured_target_folder_may_hold_target_images(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    looks = tmp_path / "looks"
    tools.write_picture(looks / "ink.png", 5)
    tools.write_picture(inbox / "a.png", 1)
    (inbox / ".artshade.json").write_text(json.dumps({"target_image": str(looks / "ink.png")}))
    seen: list[Settings] = []
    runner = tools.FakeRunner()

    class Recording:
        def run(self, data, settings, *, priority):
            seen.append(settings)
            return runner.run(data, settings, priority=priority)

    assert make(inbox, outbox, Recording(), tmp_path).scan_once().counts == {"held": 1}
    (outbox / "errors" / "artshade.json.txt").unlink()
    summary = make(inbox, outbox, Recording(), tmp_path, target_folder=looks).scan_once()
    assert summary.counts == {"shaded": 1}
    assert seen[-1].target_image.read_bytes() == (looks / "ink.png").read_bytes()


def _recording(tools, seen: list[Settings]):
    runner = tools.FakeRunner()

    class Recording:
        def run(self, data, settings, *, priority):
            if settings.target_image is not None:
                seen.append(settings)
                # what the engine would read: the file the settings name, at the time of the call
                seen_bytes.append(Path(settings.target_image).read_bytes())
            return runner.run(data, settings, priority=priority)

    seen_bytes: list[bytes] = []
    return Recording(), seen_bytes


def test_a_target_image_swapped_for_a_link_after_the_first_picture_is_refused(folders, tools, tmp_path):
    """The target is checked on every use, not once per settings file: in a running watcher, a t.png
    turned into a symbolic link to another file (the settings file unchanged) holds the folder, and the
    linked file is never read."""
    inbox, outbox = folders
    secret = tmp_path / "elsewhere" / "secret.png"
    secret_bytes = tools.write_picture(secret, 9)
    target_bytes = tools.write_picture(inbox / "refs" / "t.png", 5)
    (inbox / ".artshade.json").write_text(json.dumps({"target_image": "refs/t.png"}))
    tools.write_picture(inbox / "a.png", 1)
    seen: list[Settings] = []
    runner, seen_bytes = _recording(tools, seen)
    watcher = make(inbox, outbox, runner, tmp_path)
    watcher.start()
    try:
        tools.wait_for(lambda: (outbox / "a.png").exists(), 30, "a.png shaded")
        assert seen_bytes and set(seen_bytes) == {target_bytes}
        (inbox / "refs" / "t.png").unlink()
        (inbox / "refs" / "t.png").symlink_to(secret)
        tools.write_picture(inbox / "b.png", 2)
        tools.wait_for(lambda: (outbox / "errors" / "artshade.json.txt").exists(), 30, "b.png held")
    finally:
        watcher.stop(timeout=30)
    assert not (outbox / "b.png").exists()
    assert secret_bytes not in seen_bytes
    note = (outbox / "errors" / "artshade.json.txt").read_text()
    assert "symbolic link" in note and "\n" not in note.strip()


def test_a_target_image_swapped_for_a_fifo_never_blocks_the_engine(folders, tools, tmp_path) -> None:
    """A FIFO in place of the target would block whoever opens it for reading, and with it every job on
    the one engine thread: it is refused at once as not a regular file."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    inbox, outbox = folders
    tools.write_picture(inbox / "t.png", 5)
    (inbox / ".artshade.json").write_text(json.dumps({"target_image": "t.png"}))
    tools.write_picture(inbox / "a.png", 1)
    seen: list[Settings] = []
    runner, _ = _recording(tools, seen)
    watcher = make(inbox, outbox, runner, tmp_path)
    assert watcher.scan_once().counts == {"shaded": 2}  # a.png, and t.png: a picture in the inbox too
    (inbox / "t.png").unlink()
    os.mkfifo(inbox / "t.png")
    tools.write_picture(inbox / "b.png", 2)
    done = threading.Event()
    result: list = []

    def scan() -> None:
        result.append(watcher.scan_once())
        done.set()

    threading.Thread(target=scan, daemon=True).start()
    if not done.wait(20):
        # unblock the stuck reader so the test process can end, then fail
        with contextlib.suppress(OSError):
            fd = os.open(inbox / "t.png", os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        pytest.fail("the watcher blocked on a FIFO named as target_image")
    assert result[0].counts.get("held") == 1
    assert "not a regular file" in (outbox / "errors" / "artshade.json.txt").read_text()


def test_a_target_image_over_the_size_limit_is_refused(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    looks = tmp_path / "looks"
    looks.mkdir()
    (looks / "t.png").write_bytes(tools.picture_bytes(5, size=16) + b"\0" * 4096)
    (inbox / ".artshade.json").write_text(json.dumps({"target_image": str(looks / "t.png")}))
    tools.write_picture(inbox / "a.png", 1, size=16)
    seen: list[Settings] = []
    runner, _ = _recording(tools, seen)
    watcher = make(inbox, outbox, runner, tmp_path, limits=Limits(max_bytes=4000), target_folder=looks)
    assert watcher.scan_once().counts == {"held": 1} and not seen
    assert "too large" in (outbox / "errors" / "artshade.json.txt").read_text()


def test_a_huge_settings_file_is_refused_without_reading_it_whole(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    (inbox / ".artshade.json").write_text('{"preset": "max", "style": "' + "x" * 200_000 + '"}')
    tools.write_picture(inbox / "a.png", 1)
    summary = make(inbox, outbox, tools.FakeRunner(), tmp_path).scan_once()
    assert summary.counts == {"held": 1}
    note = (outbox / "errors" / "artshade.json.txt").read_text()
    assert "too large" in note and "\n" not in note.strip()


class ReportingRunner:
    """The fake engine with a report like the real one's (which names its target)."""

    def __init__(self, tools) -> None:
        self.inner = tools.FakeRunner()

    def run(self, data: bytes, settings: Settings, *, priority: str):
        result = self.inner.run(data, settings, priority=priority)
        result.report = {
            "engine": "test",
            "targets": [{"kind": "restyle", "name": "poster"}],
            "input": {"width": 64},
        }
        return result


@pytest.mark.parametrize("move", [False, True])
def test_a_report_is_written_beside_each_output(folders, tools, tmp_path, move) -> None:
    """So that `artshade check --report` finds the target, the original and the output later."""
    inbox, outbox = folders
    tools.write_picture(inbox / "trip" / "a.png", 1)
    done = tmp_path / "done"
    make(inbox, outbox, ReportingRunner(tools), tmp_path, move_originals=done if move else None).scan_once()
    report = json.loads((outbox / "trip" / "a.png.report.json").read_text())
    original = (done if move else inbox) / "trip" / "a.png"
    assert report["input"] == {"width": 64, "path": str(original)} and original.is_file()
    assert report["output"]["path"] == str(outbox / "trip" / "a.png")
    assert report["targets"][0]["name"] == "poster"


def test_a_report_never_replaces_a_file_the_watcher_did_not_write(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    tools.write_picture(inbox / "a.png", 1)
    (outbox).mkdir()
    (outbox / "a.png.report.json").write_text("mine")
    make(inbox, outbox, ReportingRunner(tools), tmp_path).scan_once()
    assert (outbox / "a.png").is_file() and (outbox / "a.png.report.json").read_text() == "mine"
