"""The parts of ``artshade batch`` that need no Ray: which pictures and where they go, the manifest and its
journal, a run interrupted half-way, the worker plan, the progress lines, and the one line without Ray."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from artshade.shading.errors import SettingsError
from artshade.shading.settings import Settings
from batch_helpers import write_picture

from artshade.batch import manifest, pool, sources
from artshade.batch import progress as batch_progress
from artshade.batch import run as batch_run
from artshade.cli import main

# ------------------------------------------------------------------------------------------------- sources


def test_a_folder_is_walked_recursively_and_mirrored(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for name in ("b.png", "a/x.JPG", "a/b/y.webp", ".hidden.png", ".cache/z.png", "notes.txt"):
        write_picture(src / name, 1)
    (src / ".artshade-tmp-123-c.png.part").write_bytes(b"half")
    pictures = sources.list_pictures(str(src), out, None)
    rels = [Path(p.source).relative_to(src).as_posix() for p in pictures]
    assert rels == ["b.png", "a/x.JPG", "a/b/y.webp"]
    assert [p.output for p in pictures] == [str(out.resolve() / r) for r in rels]
    assert all(Path(p.source).is_absolute() and not p.clash for p in pictures)


@pytest.mark.parametrize("where", ["inside", "same", "around"])
def test_out_and_src_must_not_overlap(tmp_path: Path, where: str) -> None:
    src = tmp_path / "src"
    write_picture(src / "a.png", 1)
    out = {"inside": src / "protected", "same": src, "around": tmp_path}[where]
    with pytest.raises(SettingsError):
        sources.list_pictures(str(src), out, None)


def test_a_forced_format_changes_the_extension_and_a_clash_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("a.png", "a.jpeg", "b.jpg"):
        write_picture(src / name, 1)
    pictures = sources.list_pictures(str(src), tmp_path / "out", "jpeg")
    outs = {Path(p.source).name: (Path(p.output).name, p.clash) for p in pictures}
    assert outs["a.jpeg"] == ("a.jpeg", "")
    assert outs["a.png"] == ("a.jpg", "")
    assert outs["b.jpg"] == ("b.jpg", "")
    pictures = sources.list_pictures(str(src), tmp_path / "out2", "png")
    clashes = {Path(p.source).name: p.clash for p in pictures}
    assert clashes["a.png"] == str(src / "a.jpeg"), "a.jpeg came first and took a.png; the second is refused"


def test_csv_and_json_lines_manifests(tmp_path: Path) -> None:
    pics = tmp_path / "pics"
    for name in ("x/1.png", "x/2.png", "y/3.png"):
        write_picture(pics / name, 1)
    (pics / "list.csv").write_text(
        "id,path\n1,x/1.png\n2,x/2.png\n3,x/1.png\n4," + str(pics / "y/3.png") + "\n"
    )
    (pics / "bare.csv").write_text("x/1.png\ny/3.png\n")
    (pics / "list.jsonl").write_text('"x/1.png"\n\n{"source": "y/3.png", "title": "three"}\n')
    out = tmp_path / "out"
    got = sources.list_pictures(str(pics / "list.csv"), out, None)
    assert [p.source for p in got] == [str(pics / "x/1.png"), str(pics / "x/2.png"), str(pics / "y/3.png")]
    assert [p.output for p in got] == [str(out / "x/1.png"), str(out / "x/2.png"), str(out / "y/3.png")]
    assert [p.source for p in sources.list_pictures(str(pics / "bare.csv"), out, None)] == [
        str(pics / "x/1.png"),
        str(pics / "y/3.png"),
    ]
    got = sources.list_pictures(str(pics / "list.jsonl"), out, None)
    assert [p.output for p in got] == [str(out / "x/1.png"), str(out / "y/3.png")]


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("m.jsonl", '"a.png"\n{oops\n', "line 2: not JSON"),
        ("m.jsonl", '{"title": "no path"}\n', "line 1: expected a path"),
        ("m.csv", "path,id\n,3\n", "row 2: no path"),
        ("m.txt", "a.png\n", "neither a folder nor a manifest"),
        ("m.png", "", "use `artshade protect`"),
    ],
)
def test_a_bad_manifest_is_one_line(tmp_path: Path, name: str, text: str, needle: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(SettingsError) as err:
        sources.list_pictures(str(tmp_path / name), tmp_path / "out", None)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_uris_go_through_pyarrow_filesystems(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    bucket = tmp_path / "bucket"
    data = write_picture(bucket / "shots/a.png", 1)
    write_picture(bucket / "shots/more/b.png", 2)
    uri = (bucket / "shots").as_uri()
    (tmp_path / "m.jsonl").write_text(json.dumps(f"{uri}/a.png") + "\n" + json.dumps(f"{uri}/more/b.png"))
    out = tmp_path / "out"
    from_manifest = sources.list_pictures(str(tmp_path / "m.jsonl"), out, None)
    from_folder = sources.list_pictures(uri, out, None)
    for got in (from_manifest, from_folder):
        assert [p.output for p in got] == [str(out / "a.png"), str(out / "more/b.png")]
    assert sources.read_bytes(from_folder[0].source, sources.io.Limits()) == data
    with pytest.raises(sources.InputError, match="file not found"):
        sources.read_bytes(f"{uri}/missing.png", sources.io.Limits())
    with pytest.raises(sources.io.ImageTooLargeError):
        sources.read_bytes(from_folder[0].source, sources.io.Limits(max_bytes=10))


# --------------------------------------------------------------------------------------- manifest, journal


def _row(source: str, status: str = "shaded", output: str = "", **more: Any) -> dict[str, Any]:
    return manifest.row(source=source, output=output or f"/out/{source}", status=status, seconds=1.0, **more)


def test_the_journal_survives_a_crash_and_wins_over_the_manifest(tmp_path: Path) -> None:
    manifest.write_manifest(tmp_path, [_row("a", "failed"), _row("b")])
    journal = manifest.Journal(tmp_path / manifest.JOURNAL_NAME)
    journal.write(_row("a"))
    journal.write(_row("c"))
    journal.close()
    with (tmp_path / manifest.JOURNAL_NAME).open("a") as f:
        f.write('{"source": "d", "stat')  # the crash came mid-line
    done = manifest.load_done(tmp_path)
    assert {s: r["status"] for s, r in done.items()} == {"a": "shaded", "b": "shaded", "c": "shaded"}
    assert list(manifest.read_manifest(tmp_path)[0]) == list(manifest.COLUMNS)


def test_is_done_needs_the_same_source_settings_and_the_output(tmp_path: Path) -> None:
    output = tmp_path / "a.png"
    output.write_bytes(b"x")
    prior = manifest.row(source="a", output=str(output), status="skipped", source_sha256="s", fingerprint="f")
    assert manifest.is_done(prior, "s", "f")
    assert not manifest.is_done(prior, "other picture", "f")
    assert not manifest.is_done(prior, "s", "other settings")
    assert not manifest.is_done({**prior, "status": "failed"}, "s", "f")
    output.unlink()
    assert not manifest.is_done(prior, "s", "f")


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``batch.run`` with Ray replaced by a list of rows handed back in order (and no weights needed)."""
    rows: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def session(opts: Any) -> Iterator[tuple[float, float, float]]:
        yield 2.0, 2.0, 0.0

    def stream(opts: Any, work: list[dict[str, Any]], *plan: Any) -> Iterator[dict[str, Any]]:
        for r in rows:
            if isinstance(r, BaseException):
                raise r
            yield r

    monkeypatch.setattr(pool, "session", session)
    monkeypatch.setattr(pool, "stream", stream)
    monkeypatch.setattr(batch_run, "_preflight", lambda settings, models_dir: None)
    return rows


def test_ctrl_c_keeps_what_is_done_and_what_earlier_runs_did(tmp_path: Path, no_ray: list) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for name in ("a.png", "b.png", "c.png"):
        write_picture(src / name, 1)
    out.mkdir()
    earlier = _row(str(src / "c.png"), output=str(out / "c.png"), source_sha256="old", fingerprint="old")
    manifest.write_manifest(out, [earlier])
    # b.png was shaded, and its worker wrote it down, but its row had not reached the driver yet
    in_flight = manifest.Journal(out / manifest.WORKER_JOURNALS / "node-123.jsonl")
    in_flight.write(_row(str(src / "b.png"), output=str(out / "b.png")))
    in_flight.close()
    no_ray.extend([_row(str(src / "a.png"), output=str(out / "a.png")), KeyboardInterrupt()])
    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        batch_run.run_batch(batch_run.Options(src=str(src), out=out, stream=err))
    rows = {Path(r["source"]).name: r for r in manifest.read_manifest(out)}
    assert set(rows) == {"a.png", "b.png", "c.png"}, "a.png and b.png done now, c.png by an earlier run"
    assert rows["c.png"]["source_sha256"] == "old"
    assert not (out / manifest.JOURNAL_NAME).exists() and not (out / manifest.WORKER_JOURNALS).exists()
    assert "stopped: 1/3 pictures" in err.getvalue() and "run the same command again" in err.getvalue()


def test_each_picture_once_even_if_a_retry_sends_it_twice(tmp_path: Path, no_ray: list) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    write_picture(src / "a.png", 1)
    first = _row(str(src / "a.png"), output=str(out / "a.png"))
    no_ray.extend([first, {**first, "seconds": 9.0}])
    outcome = batch_run.run_batch(batch_run.Options(src=str(src), out=out, quiet=True))
    assert outcome.counts == {"shaded": 1}
    assert [r["seconds"] for r in manifest.read_manifest(out)] == [1.0]


def test_without_ray_batch_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    write_picture(tmp_path / "src/a.png", 1)
    assert main(["batch", str(tmp_path / "src"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (
        err == "artshade: error: artshade batch needs Ray Data and pyarrow: pip install 'artshade[batch]'\n"
    )
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------------- plan, progress, flags


@pytest.mark.parametrize(
    ("cpus", "node", "gpus", "workers", "per_worker", "items", "plan"),
    [
        (2, 2, 0, None, 0, 100, (2, 1)),  # default: one single-thread worker per core
        (2, 2, 0, 1, 0, 100, (1, 2)),  # one worker gets both cores
        (16, 16, 0, 4, 0, 100, (4, 4)),
        (64, 16, 0, 2, 0, 100, (2, 16)),  # never more threads than one node has
        (2, 2, 0, 8, 0, 100, (2, 1)),  # never more workers than cores (the pool would wait forever)
        (2, 2, 0, None, 0, 1, (1, 2)),  # no more workers than pictures
        (8, 8, 1, None, 0.5, 100, (2, 4)),  # two workers share the one GPU
    ],
)
def test_workers_times_threads_fit_the_cores(cpus, node, gpus, workers, per_worker, items, plan) -> None:
    assert pool.plan_workers(cpus, node, gpus, workers, per_worker, items) == plan


def test_threads_can_be_set_but_must_fit() -> None:
    assert pool.plan_workers(2, 2, 0, 1, 0, 100, threads=1) == (1, 1)  # the bench's single thread
    with pytest.raises(SettingsError, match="2 workers x 2 threads do not fit in 2 cores"):
        pool.plan_workers(2, 2, 0, 2, 0, 100, threads=2)


def test_more_gpu_shares_than_gpus_is_refused() -> None:
    with pytest.raises(SettingsError, match="need 2 GPUs; Ray has 1"):
        pool.plan_workers(8, 8, 1, 4, 0.5, 100)


def test_progress_off_a_terminal_is_plain_lines_and_a_summary() -> None:
    now = [0.0]
    stream = io.StringIO()
    p = batch_progress.BatchProgress(4, stream, every=10, tty=False, clock=lambda: now[0])
    for t, status in ((30, "shaded"), (35, "skipped"), (60, "failed"), (90, "shaded")):
        now[0] = t
        p.update(status)
    assert stream.getvalue().splitlines() == [
        "1/4 pictures (shaded 1, skipped 0, failed 0, 2.0/min, about 1m30s left)",
        "3/4 pictures (shaded 1, skipped 1, failed 1, 2.0/min, about 20s left)",
        "4/4 pictures (shaded 2, skipped 1, failed 1, 2.0/min)",
    ]
    assert p.summary() == (
        "4 of 4 pictures in 1m30s: 2 shaded, 1 skipped (already done), 1 failed; 2.0 pictures a minute"
    )


def test_progress_on_a_terminal_is_a_bar_with_the_same_figures() -> None:
    stream = io.StringIO()
    p = batch_progress.BatchProgress(2, stream, tty=True)
    p.update("shaded")
    assert "shading: 1/2|" in stream.getvalue() and "shaded 1, skipped 0, failed 0" in stream.getvalue()
    p.close()


def test_batch_takes_exactly_protects_settings_flags() -> None:
    from artshade.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]

    def flags(name: str) -> set[str]:
        return {o for a in subs[name]._actions for o in a.option_strings}

    settings_flags = flags("protect") - {"-o", "--output", "--report", "--preview", "--compare"}
    assert settings_flags <= flags("batch")
    args = parser.parse_args(["batch", "s", "o", "--preset", "fast", "--seed", "3", "--platform", "x"])
    from artshade.shading.cli import settings_from_args

    assert settings_from_args(args) == Settings(preset="fast", seed=3, platform="x")


# ---------------------------------------------------------------------------------------------- the worker


def test_the_worker_shades_skips_and_fails_one_picture_at_a_time(tmp_path: Path, models_dir: Path) -> None:
    """The actor's own logic, in this process: no Ray needed to call it."""
    from artshade.batch.worker import ShadeWorker

    settings = Settings(preset="fast", target="blobs").to_dict()
    worker = ShadeWorker(settings, str(models_dir), {"max_pixels": 10**6, "max_bytes": 10**6, "min_side": 16},
                         threads=1, journals=str(tmp_path / "journals"))  # fmt: skip
    src, out = tmp_path / "a.png", tmp_path / "out" / "sub" / "a.png"
    write_picture(src, 1)
    item = {"source": str(src), "output": str(out), "prior_sha256": "", "prior_fingerprint": ""}
    row = worker.shade_one(item)
    assert row["status"] == "shaded" and out.is_file() and row["fingerprint"] == worker.fingerprint
    assert row["cpu_seconds"] > 0 and row["colour_ssim"] is not None
    journal = [r for p in (tmp_path / "journals").glob("*.jsonl") for r in manifest.read_journal(p)]
    assert [r["source"] for r in journal] == [str(src)], "written down before it is handed on"

    again = worker.shade_one(
        {**item, "prior_sha256": row["source_sha256"], "prior_fingerprint": row["fingerprint"]}
    )
    assert again["status"] == "skipped"
    other = worker.shade_one(
        {**item, "prior_sha256": row["source_sha256"], "prior_fingerprint": "older engine"}
    )
    assert other["status"] == "shaded"

    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    bad = worker.shade_one({**item, "source": str(tmp_path / "bad.png"), "output": str(tmp_path / "o.png")})
    assert bad["status"] == "failed" and bad["error"] and "\n" not in bad["error"]
    assert not (tmp_path / "o.png").exists()
    batch = worker({k: [v] for k, v in item.items()})
    assert batch["status"] == ["shaded"] and batch["source"] == [str(src)]
