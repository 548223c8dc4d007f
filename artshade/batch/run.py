"""A batch run on Ray Data: list the pictures, stream them through an actor pool, record every result.

The driver (this process) lists the pictures, reads what earlier runs finished (``manifest.load_done``),
and hands Ray a dataset of small work items (paths, not pixels).  ``Dataset.map_batches`` runs them on an
actor pool of ``ShadeWorker``: each worker loads the weights once, reads, shades and writes its pictures
itself, and sends back only the manifest row; the driver streams those rows (``iter_batches``) into the
journal and the progress display as they come.  So memory stays flat in the catalogue's size: only the list
of names and the rows (a few hundred bytes a picture) grow with it.

The Ray side (session, worker plan, actor pool) is ``batch.pool``.  Ray restarts a worker that dies and
retries its work elsewhere; the rows of a failed attempt are never delivered, and the driver keeps the first
row per source, so each picture is in the manifest exactly once.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from artshade.errors import ShadingError
from artshade.progress import duration
from artshade.shading import models
from artshade.shading.errors import SettingsError
from artshade.shading.settings import ENGINE_VERSION, Settings

from . import INSTALL_HINT, pool, sources
from .options import Options
from .progress import BatchProgress

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    total: int
    counts: dict[str, int]
    seconds: float
    manifest: Path | None
    #: dry run: the estimate for the whole catalogue, in seconds
    estimate_s: float | None = None
    #: this run's workers and torch threads per worker
    workers: int = 0
    threads: int = 0


def require_ray() -> None:
    """Ray Data and pyarrow are the optional ``batch`` extra: one line saying how to get them."""
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ShadingError(INSTALL_HINT) from None


def run_batch(opts: Options) -> Outcome:
    """Shade every picture of ``opts.src`` into ``opts.out`` (see the module docstring)."""
    require_ray()
    from . import manifest

    settings = opts.settings
    _preflight(settings, opts.models_dir)
    pictures = sources.list_pictures(opts.src, opts.out, settings.format)
    out = opts.out.expanduser().resolve()
    if opts.dry_run:  # OUT gets nothing
        return _dry_run(opts, pictures, manifest.load_done(out))
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / manifest.LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SettingsError(f"another artshade batch is writing into {out}; wait for it to finish") from None
    try:
        return _run(opts, out, pictures, manifest.load_done(out))
    finally:
        lock.release()


def _preflight(settings: Settings, models_dir: Path | None) -> None:
    """Refuse at once what would fail every picture: missing weights, a missing target image."""
    import torch

    folder = models.models_dir(models_dir)
    for name in list(settings.encoders) or models.preset_encoders(
        settings.preset, torch.device("cpu"), folder
    ):
        models.require(name, folder)
    if settings.target_image is not None and not settings.target_image.is_file():
        raise SettingsError(f"--target-image {settings.target_image} is not a file")


def _run(
    opts: Options, out: Path, pictures: list[sources.Picture], prior: dict[str, dict[str, Any]]
) -> Outcome:
    from . import manifest

    fingerprint = opts.settings.fingerprint()
    journal_path = out / manifest.JOURNAL_NAME
    if journal_path.exists() or (out / manifest.WORKER_JOURNALS).exists():
        # a run that did not finish: its rows are in ``prior`` now
        manifest.write_manifest(out, prior.values())
        journal_path.unlink(missing_ok=True)
        manifest.drop_worker_journals(out)
    journal = manifest.Journal(journal_path)
    progress = BatchProgress(len(pictures), opts.stream, enabled=not opts.quiet)
    seen: set[str] = set()
    finished = False
    workers = threads = 0

    def record(values: dict[str, Any]) -> None:
        source = values["source"]
        if source in seen:  # a retried attempt's twin: the first row stands
            return
        seen.add(source)
        if values["status"] == "skipped":
            before = prior.get(source, {})
            values.update({k: before.get(k) for k in ("colour_ssim", "pull", "engine")})
        journal.write(values)
        progress.update(values["status"])

    try:
        work = []
        for p in pictures:
            if p.clash:
                record(manifest.row(source=p.source, output=p.output, status="failed", seconds=0.0,
                                    engine=ENGINE_VERSION, platform=opts.settings.platform,
                                    fingerprint=fingerprint,
                                    error=f"its output name {p.output} is taken by {p.clash}"))  # fmt: skip
            else:
                work.append(_item(p, prior.get(p.source)))
        if work:
            with pool.session(opts) as (cpus, node_cpus, gpus):
                workers, threads = pool.plan_workers(
                    cpus, node_cpus, gpus, opts.workers, opts.gpus_per_worker, len(work), opts.threads
                )
                try:
                    for r in pool.stream(opts, work, workers, threads, out / manifest.WORKER_JOURNALS):
                        record(r)
                except ShadingError:
                    raise
                except Exception as exc:  # Ray gave up (a worker that keeps dying, a lost cluster)
                    raise ShadingError(f"Ray stopped the run: {sources.one_line(exc)}") from exc
        finished = True
    finally:
        journal.close()
        progress.close()
        this_run = _first_per_source(manifest.read_journal(journal_path))
        if not finished:
            # what the workers shaded but had not yet handed over, then what earlier runs did for the
            # pictures this one did not reach
            this_run = _first_per_source(
                _chain(this_run, manifest.worker_rows(out), (r for s, r in prior.items() if s not in seen))
            )
        path = manifest.write_manifest(out, this_run)
        journal_path.unlink(missing_ok=True)
        manifest.drop_worker_journals(out)
        if not finished and not opts.quiet:
            print(f"stopped: {progress.line()}; recorded in {path}; run the same command again to go on",
                  file=progress.stream, flush=True)  # fmt: skip
    if not opts.quiet:
        print(progress.summary(), file=progress.stream)
        print(f"manifest: {path}", file=progress.stream, flush=True)
    return Outcome(
        len(pictures), dict(progress.counts), progress.elapsed, path, workers=workers, threads=threads
    )


def _item(picture: sources.Picture, before: dict[str, Any] | None) -> dict[str, Any]:
    """A work item: the picture, and what an earlier run that finished it recorded (the worker compares)."""
    from . import manifest

    done = (
        before is not None
        and before.get("status") in manifest.DONE
        and before.get("output") == picture.output
    )
    return {
        "source": picture.source,
        "output": picture.output,
        "prior_sha256": (before or {}).get("source_sha256") or "" if done else "",
        "prior_fingerprint": (before or {}).get("fingerprint") or "" if done else "",
    }


def _dry_run(opts: Options, pictures: list[sources.Picture], prior: dict[str, dict[str, Any]]) -> Outcome:
    """Shade a few pictures into a temporary folder and estimate the whole catalogue on this machine."""

    fingerprint = opts.settings.fingerprint()
    todo = [p for p in pictures if not p.clash and not _looks_done(prior.get(p.source), p, fingerprint)]
    stream = opts.stream
    if not todo:
        print(f"dry run: all {len(pictures)} pictures are already done; nothing to shade", file=stream)
        return Outcome(len(pictures), {}, 0.0, None, estimate_s=0.0)
    step = max(1, len(todo) // max(1, opts.sample))
    sample = todo[::step][: opts.sample]
    scratch = Path(tempfile.mkdtemp(prefix="artshade-dry-run-"))
    t0 = time.monotonic()
    try:
        work = [{"source": p.source, "output": str(scratch / f"{i}{Path(p.output).suffix}"),
                 "prior_sha256": "", "prior_fingerprint": ""} for i, p in enumerate(sample)]  # fmt: skip
        with pool.session(opts) as (cpus, node_cpus, gpus):
            workers, threads = pool.plan_workers(
                cpus, node_cpus, gpus, opts.workers, opts.gpus_per_worker, len(todo), opts.threads
            )
            rows = list(pool.stream(opts, work, min(workers, len(work)), threads))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.monotonic() - t0
    failed = [r for r in rows if r["status"] == "failed"]
    seconds = [r["seconds"] for r in rows if r["status"] == "shaded"]
    counts = {"shaded": len(seconds), "failed": len(failed)}
    if not seconds:
        reason = failed[0]["error"] if failed else "no result"
        raise ShadingError(f"dry run: none of the {len(rows)} sample pictures could be shaded ({reason})")
    per_picture = sum(seconds) / len(seconds)
    estimate = len(todo) * per_picture / workers
    print(
        f"dry run: shaded {len(seconds)} sample pictures in {duration(wall)} "
        f"({per_picture:.1f} s a picture on one worker of {threads} thread(s)); "
        f"{len(todo)} of {len(pictures)} pictures to do with {workers} worker(s): about "
        f"{duration(estimate)} on this {'cluster' if opts.address else 'machine'}"
        + (f"; {len(failed)} sample picture(s) failed: {failed[0]['error']}" if failed else ""),
        file=stream,
        flush=True,
    )
    return Outcome(len(pictures), counts, wall, None, estimate_s=estimate, workers=workers, threads=threads)


def _looks_done(before: dict[str, Any] | None, picture: sources.Picture, fingerprint: str) -> bool:
    """Done by an earlier run with these settings, judged without reading the source (a dry run's count)."""
    from . import manifest

    return (
        before is not None
        and before.get("output") == picture.output
        and manifest.is_done(before, before.get("source_sha256") or "", fingerprint)
    )


def _first_per_source(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    for r in rows:
        if r["source"] not in seen:
            seen.add(r["source"])
            yield r


def _chain(*parts: Any) -> Iterator[dict[str, Any]]:
    for part in parts:
        yield from part
