"""``artshade batch`` on a real local Ray with 2 workers: same bytes as ``protect``, re-runs skip, bad
pictures are failed rows, a killed worker's pictures are retried, and the manifest matches the outputs."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from batch_helpers import FAST, shade_workers, write_picture
from PIL import Image

from artshade.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]

GOOD = ("a.png", "sub/b.jpg", "sub/deeper/c.png")
BAD = {
    "not-an-image.jpg": "not an image",
    "truncated.png": "damaged or incomplete",
    "bomb.png": "too large",
    "huge-file.png": "file is too large",
}
LIMIT = ["--max-file-mb", "0.05"]  # 52 KB: the good pictures are about 7 KB, huge-file.png is 120 KB


def run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["batch", *args])
    return code, err.getvalue()


def manifest_rows(out: Path) -> list[dict]:
    return pq.read_table(out / "artshade-manifest.parquet").to_pylist()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> dict:
    """A folder of three good pictures (in subfolders, PNG and JPEG) and four bad ones, shaded once."""
    root = tmp_path_factory.mktemp("catalogue")
    src, out = root / "src", root / "out"
    for seed, name in enumerate(GOOD):
        write_picture(src / name, seed, fmt="JPEG" if name.endswith(".jpg") else "PNG")
    (src / "not-an-image.jpg").write_bytes(b"Dear gallery, please find attached...")
    whole = write_picture(src / "truncated.png", 9)
    (src / "truncated.png").write_bytes(whole[: len(whole) // 2])
    Image.new("L", (8000, 7000)).save(src / "bomb.png")  # 56 megapixels in a few KB
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(src / "huge-file.png")
    (src / "notes.txt").write_text("not a picture by name: left alone")
    flags = [*FAST, "--models", str(models_dir), *LIMIT, "--workers", "2"]
    code, err = run(str(src), str(out), *flags)
    return {"src": src, "out": out, "flags": flags, "code": code, "err": err,
            "rows": manifest_rows(out)}  # fmt: skip


def test_good_pictures_shaded_bad_ones_failed_rows_and_the_run_completes(catalogue: dict) -> None:
    src, out, rows = catalogue["src"], catalogue["out"], catalogue["rows"]
    assert catalogue["code"] == 1, catalogue["err"]  # some pictures failed: status 1, not a crash
    by_name = {Path(r["source"]).relative_to(src).as_posix(): r for r in rows}
    assert sorted(by_name) == sorted([*GOOD, *BAD]), "each picture exactly once; notes.txt left alone"
    for name in GOOD:
        r = by_name[name]
        assert r["status"] == "shaded" and r["error"] is None, r
        assert r["output"] == str(out / name) and (out / name).is_file()
        assert r["engine"] and r["fingerprint"] and len(r["source_sha256"]) == 64
        assert 0.9 < r["colour_ssim"] <= 1.0 and r["pull"] is not None and r["seconds"] > 0
    for name, reason in BAD.items():
        r = by_name[name]
        assert r["status"] == "failed" and reason in r["error"] and "\n" not in r["error"], r
        assert not (out / name).exists(), "a failed picture leaves no output"
    summary = catalogue["err"].strip().splitlines()
    assert summary[-2].startswith("7 of 7 pictures in ") and "3 shaded, 0 skipped" in summary[-2]
    assert "4 failed" in summary[-2] and summary[-1] == f"manifest: {out / 'artshade-manifest.parquet'}"


def test_manifest_rows_match_the_outputs(catalogue: dict) -> None:
    out, rows = catalogue["out"], catalogue["rows"]
    written = {p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")} - {
        out / "artshade-manifest.parquet"
    }
    assert written == {Path(r["output"]) for r in rows if r["status"] == "shaded"}
    for r in rows:
        if r["status"] == "shaded":
            with Image.open(r["output"]) as im, Image.open(r["source"]) as orig:
                assert im.size == orig.size and im.format == orig.format


def test_same_bytes_as_protect(catalogue: dict, tmp_path: Path) -> None:
    for name in ("a.png", "sub/b.jpg"):
        mine = tmp_path / Path(name).name
        code = main(
            ["protect", str(catalogue["src"] / name), "-o", str(mine), "-q", *catalogue["flags"][:-2]]
        )
        assert code == 0
        assert mine.read_bytes() == (catalogue["out"] / name).read_bytes(), name


def test_rerun_skips_everything_done_and_redoes_a_changed_picture(catalogue: dict) -> None:
    src, out = catalogue["src"], catalogue["out"]
    before = {n: (out / n).stat().st_mtime_ns for n in GOOD}
    code, err = run(str(src), str(out), *catalogue["flags"])
    assert code == 1, err
    rows = {Path(r["source"]).relative_to(src).as_posix(): r for r in manifest_rows(out)}
    assert len(rows) == len(GOOD) + len(BAD)
    first = {Path(r["source"]).relative_to(src).as_posix(): r for r in catalogue["rows"]}
    for name in GOOD:
        assert rows[name]["status"] == "skipped", rows[name]
        assert (out / name).stat().st_mtime_ns == before[name], "a skipped picture is not written again"
        assert rows[name]["colour_ssim"] == first[name]["colour_ssim"], "a skipped row keeps its figures"
    assert all(rows[name]["status"] == "failed" for name in BAD), "failed pictures are tried again"
    assert "0 shaded, 3 skipped (already done), 4 failed" in err

    write_picture(src / "a.png", 42)  # the artist edits one picture: only it is shaded again
    code, err = run(str(src), str(out), *catalogue["flags"])
    rows = {Path(r["source"]).relative_to(src).as_posix(): r for r in manifest_rows(out)}
    assert rows["a.png"]["status"] == "shaded" and (out / "a.png").stat().st_mtime_ns != before["a.png"]
    assert rows["sub/b.jpg"]["status"] == rows["sub/deeper/c.png"]["status"] == "skipped"


def test_dry_run_estimates_and_writes_nothing(catalogue: dict, tmp_path: Path) -> None:
    out = tmp_path / "never"
    code, err = run(str(catalogue["src"]), str(out), *catalogue["flags"], "--dry-run", "--sample", "1")
    assert code == 0, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("dry run: shaded 1 sample pictures in ") and " on this machine" in line, err
    assert "7 of 7 pictures to do" in line
    assert not out.exists()


def test_a_worker_killed_mid_run_has_its_pictures_retried(tmp_path: Path, models_dir: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    names = [f"p{i}.png" for i in range(6)]
    for i, name in enumerate(names):
        write_picture(src / name, 100 + i)
    killed: list[int] = []

    def kill_one_once_shading() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            busy = out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())
            workers = shade_workers()
            if busy and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_once_shading, daemon=True)
    killer.start()
    code, err = run(str(src), str(out), *FAST, "--models", str(models_dir), "--workers", "2")
    killer.join(timeout=5)
    assert killed, "no worker was killed: the test did not test anything"
    assert code == 0, err
    rows = manifest_rows(out)
    assert sorted(Path(r["source"]).name for r in rows) == names, "every picture exactly once"
    assert all(r["status"] == "shaded" for r in rows), rows
    assert all((out / n).is_file() for n in names)
    assert not list(out.glob(".artshade-tmp-*")), "no temp file left behind"
