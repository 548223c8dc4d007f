"""The watch folder with the real engine and the real tiny-autoencoder weights, on real files.

* 20 files copied in concurrently (some slowly, in chunks; one corrupt, one non-image, one duplicate):
  every good picture is shaded exactly once, the failure is explained, the originals are byte-identical;
* ``artshade watch`` killed with SIGKILL mid-batch and started again: the same end state, work finished
  before the kill is not redone, no partial or zero-byte outputs anywhere;
* ``artshade watch --once`` and its exit status.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys

import pytest
from artshade.daemon.watch.rules import TEMP_PREFIX
from artshade.daemon.watch.runner import EngineRunner
from artshade.daemon.watch.watcher import FolderWatcher
from artshade.shading.settings import Settings
from PIL import Image

from artshade.cli import main

pytestmark = pytest.mark.slow
real_weights = pytest.mark.usefixtures("models_dir")  # found by the engine through ARTSHADE_MODELS

FAST = Settings(preset="fast")


@real_weights
def test_twenty_files_dropped_concurrently_are_each_shaded_once(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    runner = tools.CountingRunner(EngineRunner())
    watcher = FolderWatcher(
        inbox,
        outbox,
        FAST,
        runner=runner,
        state_path=tmp_path / "state.sqlite3",
        stable_window=0.5,
        poll_interval=0.05,
    )
    watcher.start()
    try:
        good, every = tools.drop_batch(inbox, slow=True)
        hashes_before = {rel: tools.sha(inbox / rel) for rel in every}
        note = outbox / "errors" / "corrupt.png.txt"
        tools.wait_for(
            lambda: len(tools.pictures_in(outbox)) >= len(good) and note.exists() and watcher.idle(),
            what="all 17 outputs and the error note",
        )
    finally:
        watcher.stop()

    # every distinct good picture shaded exactly once; the duplicate, the corrupt file and the text never
    assert dict(runner.calls) == {hashlib.sha256(d).hexdigest(): 1 for d in good.values()}
    tools.assert_one_output_each(outbox, good, "pic00.png", "pic00 copy.png")
    assert [p.name for p in tools.files_under(outbox / "errors")] == ["corrupt.png.txt"]
    line = note.read_text()
    assert line.count("\n") == 1 and "corrupt.png" in line and "damaged or incomplete" in line
    for rel, data in good.items():
        out_rel = rel if (outbox / rel).exists() else "pic00 copy.png"
        with Image.open(outbox / out_rel) as out, Image.open(inbox / rel) as src:
            assert out.size == src.size and out.format == src.format
        assert (outbox / out_rel).read_bytes() != data  # it was changed (shaded)
    assert {rel: tools.sha(inbox / rel) for rel in every} == hashes_before  # originals byte-identical
    tools.assert_clean_outbox(outbox)


@real_weights
def test_sigkill_mid_batch_then_restart_reaches_the_same_end_state(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    state_path = tmp_path / "state.sqlite3"
    good = {f"p{i}.png": tools.write_picture(inbox / f"p{i}.png", 200 + i, size=64) for i in range(5)}
    good["sub/q.jpg"] = tools.write_picture(inbox / "sub" / "q.jpg", 300, size=64, fmt="JPEG")
    (inbox / "p0 again.png").write_bytes(good["p0.png"])
    (inbox / "broken.jpg").write_bytes(good["sub/q.jpg"][:300])
    (inbox / "readme.txt").write_text("not a picture")
    before = {p: tools.sha(p) for p in tools.files_under(inbox)}
    cmd = [
        sys.executable,
        "-m",
        "artshade",
        "watch",
        str(inbox),
        "--out",
        str(outbox),
        "--preset",
        "fast",
        "--stable",
        "0.2",
        "--state",
        str(state_path),
    ]

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # kill once at least one picture is done and another is being shaded (mid-batch)
        tools.wait_for(
            lambda: (
                proc.poll() is not None
                or (
                    tools.states(state_path).get("done", 0) >= 1
                    and tools.states(state_path).get("in_progress", 0) >= 1
                )
            ),
            what="a finished and a running job",
        )
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
    finally:
        tools.kill_hard(proc)
    assert proc.returncode == -signal.SIGKILL

    # after the kill: whatever is visible in the outbox is complete; nothing was lost from the inbox
    finished_before = {}
    for path in tools.files_under(outbox):
        if path.name.startswith(TEMP_PREFIX):
            continue
        tools.assert_complete(path)
        if path.suffix != ".txt" and not tools.is_report(path):
            finished_before[path] = (path.stat().st_ino, path.stat().st_mtime_ns)
    assert {p: tools.sha(p) for p in tools.files_under(inbox)} == before

    # restart with --once: it finishes the batch and exits 1 (one picture is broken)
    done = subprocess.run([*cmd, "--once"], capture_output=True, text=True, timeout=280)
    assert done.returncode == 1, done.stderr
    assert "failed     broken.jpg" in done.stderr

    tools.assert_one_output_each(outbox, good, "p0.png", "p0 again.png")  # no " (1)" copies
    assert [p.name for p in tools.files_under(outbox / "errors")] == ["broken.jpg.txt"]
    tools.assert_clean_outbox(outbox)
    assert {p: tools.sha(p) for p in tools.files_under(inbox)} == before
    done_jobs = tools.states(state_path)
    assert done_jobs.get("done") == len(good) and not done_jobs.get("in_progress")
    # outputs finished before the kill were not written again (at most the one renamed just before it)
    rewritten = [
        p
        for p, stamp in finished_before.items()
        if p.exists() and (p.stat().st_ino, p.stat().st_mtime_ns) != stamp
    ]
    assert len(rewritten) <= 1

    # a third start shades nothing and still says the broken picture needs attention
    again = subprocess.run([*cmd, "--once"], capture_output=True, text=True, timeout=280)
    assert again.returncode == 1, again.stderr
    assert "done: 1 failed" in again.stderr and "shaded " not in again.stderr
    assert tools.states(state_path).get("done") == len(good)


@real_weights
def test_once_exit_status_and_move_originals(tmp_path, tools, capsys) -> None:
    inbox, outbox, moved = tmp_path / "in", tmp_path / "out", tmp_path / "done"
    data = tools.write_picture(inbox / "a.png", 1, size=64)
    state = str(tmp_path / "state.sqlite3")
    rc = main(
        [
            "watch",
            str(inbox),
            "--out",
            str(outbox),
            "--once",
            "--preset",
            "fast",
            "--stable",
            "0",
            "--move-originals",
            str(moved),
            "--state",
            state,
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "[1/1] shaded     a.png -> " in err and "done: 1 shaded" in err
    # stderr is not a terminal: the picture's progress in plain lines first, then its outcome with the time
    assert "[1/1] shading a.png:   0% loading, 0s elapsed" in err and "[1/1] shading a.png: 100% done" in err
    assert err.index("shading a.png: 100% done") < err.index("[1/1] shaded     a.png -> ")
    assert (moved / "a.png").read_bytes() == data and not (inbox / "a.png").exists()
    with Image.open(outbox / "a.png") as im:
        assert im.size == (64, 64)

    (inbox / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    rc = main(["watch", str(inbox), "--out", str(outbox), "--once", "--stable", "0", "--state", state])
    err = capsys.readouterr().err
    assert rc == 1
    assert "failed" in err and "bad.png" in err
    assert (inbox / "bad.png").exists()
    assert (outbox / "errors" / "bad.png.txt").read_text().startswith("bad.png: ")


def test_default_folders_are_created_under_pictures(tools, capsys) -> None:
    from artshade.paths import pictures_dir

    rc = main(["watch", "--once", "--stable", "0"])
    assert rc == 0
    assert (pictures_dir() / "artshade" / "inbox").is_dir()
    assert (pictures_dir() / "artshade" / "protected").is_dir()
    assert "nothing to do" in capsys.readouterr().err


def test_sigterm_stops_the_watcher_cleanly(tmp_path) -> None:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "artshade", "watch", str(inbox), "--out", str(outbox)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the process is watching once it says so
        assert "watching" in first, first
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "stopped: nothing to do" in rest
    assert inbox.is_dir() and outbox.is_dir()
