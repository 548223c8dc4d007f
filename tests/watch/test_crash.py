"""Crash safety: a watcher process killed with SIGKILL again and again, at whatever point it has reached.

The process runs the real ``FolderWatcher`` with a fake engine (so the test is quick and the kills land in
every phase: reading, shading, writing, renaming, recording).  After every kill: nothing visible in the
outbox is partial or empty and the inbox is untouched; at the end: one output per distinct picture.
The same with the real engine and ``artshade watch`` is in test_end_to_end.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from artshade.daemon.watch.rules import TEMP_PREFIX

SCRIPT = textwrap.dedent(
    """
    import io, sys, time
    from pathlib import Path
    from PIL import Image
    from artshade.daemon.watch.watcher import FolderWatcher
    from artshade.shading.settings import Settings

    class Result:
        def __init__(self, data, fmt):
            self.data, self.format = data, fmt

    class Invert:
        def run(self, data, settings, *, priority):
            im = Image.open(io.BytesIO(data))
            fmt = im.format
            out = Image.eval(im.convert("RGB"), lambda v: 255 - v)
            time.sleep(0.05)
            buf = io.BytesIO()
            out.save(buf, format=fmt)
            return Result(buf.getvalue(), fmt.lower())

    inbox, outbox, state = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    once = sys.argv[4] == "once"
    w = FolderWatcher(inbox, outbox, Settings(preset="fast"), runner=Invert(), state_path=state,
                      stable_window=0.05, poll_interval=0.01)
    if once:
        print(w.scan_once().line())
    else:
        w.start()
        while True:
            time.sleep(1)
    """
)


def test_repeated_sigkill_never_leaves_partial_outputs_or_redoes_work(folders, tools, tmp_path) -> None:
    inbox, outbox = folders
    state = tmp_path / "state.sqlite3"
    script = tmp_path / "run_watcher.py"
    script.write_text(SCRIPT)
    good = {f"p{i:02d}.png": tools.write_picture(inbox / f"p{i:02d}.png", i, size=96) for i in range(12)}
    good.update(
        {
            f"sub/q{i}.jpg": tools.write_picture(inbox / "sub" / f"q{i}.jpg", 50 + i, fmt="JPEG")
            for i in range(4)
        }
    )
    (inbox / "p00 again.png").write_bytes(good["p00.png"])
    (inbox / "cut.png").write_bytes(good["p01.png"][:500])
    before = {p: tools.sha(p) for p in tools.files_under(inbox)}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    kills = 0
    while tools.states(state).get("done", 0) < len(good) and kills < 8:
        done_before = tools.states(state).get("done", 0)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(inbox), str(outbox), str(state), "run"], env=env
        )
        try:
            tools.wait_for(
                lambda p=proc, n=done_before: p.poll() is not None or tools.states(state).get("done", 0) > n,
                limit=300,
                what="progress",
            )
        finally:
            tools.kill_hard(proc)
        kills += 1
        for path in tools.files_under(outbox):  # what a user could see right after the crash
            if not path.name.startswith(TEMP_PREFIX):
                tools.assert_complete(path)
        assert {p: tools.sha(p) for p in tools.files_under(inbox)} == before
    assert kills >= 2

    last = subprocess.run(
        [sys.executable, str(script), str(inbox), str(outbox), str(state), "once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert last.returncode == 0, last.stderr
    tools.assert_one_output_each(outbox, good, "p00.png", "p00 again.png")
    assert [p.name for p in tools.files_under(outbox / "errors")] == ["cut.png.txt"]
    tools.assert_clean_outbox(outbox)
    assert {p: tools.sha(p) for p in tools.files_under(inbox)} == before
    assert tools.states(state) == {"done": len(good), "failed": 1}
