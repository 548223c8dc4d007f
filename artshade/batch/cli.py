"""``artshade batch SRC OUT``: a whole folder or manifest of pictures, shaded on Ray (see ``batch.run``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Shade every picture of SRC into OUT on Ray Data: an embedded local Ray using this machine's cores by
default, or an existing Ray cluster with --address.  SRC is a folder (recursive) or a manifest: a CSV file
(a column "path", else the first column) or JSON Lines of paths or URIs (s3://..., gs://..., through
pyarrow's filesystems).  OUT mirrors SRC's tree and gets OUT/artshade-manifest.parquet, one row per picture:
source, output, status (shaded, skipped, failed), error, seconds, engine, colour_ssim, pull (after
--platform).  Originals are never changed; outputs are written atomically.  Running the same command again
skips every picture already done with the same settings and engine; Ctrl-C or a crash loses nothing done.
A picture that cannot be shaded is a "failed" row with the reason; the run goes on.

For the same settings and --seed, each output has the same bytes as `artshade protect` makes."""

EPILOG = """\
exit status: 0 when every picture is shaded or already done; 1 when any picture failed (see the manifest's
error column); 2 for bad arguments, settings or a missing Ray (pip install 'artshade[batch]');
130 on Ctrl-C."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 8:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 8, got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    from artshade.cli_flags import add_limit_flags
    from artshade.shading.cli import add_settings_flags

    p = sub.add_parser(
        "batch",
        help="shade a whole folder or manifest of pictures on Ray (pip install 'artshade[batch]')",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "src", metavar="SRC", help="a folder of pictures, or a .csv / .jsonl manifest (path or URI)"
    )
    p.add_argument(
        "out", type=Path, metavar="OUT", help="the folder the protected copies and the manifest go to"
    )
    add_settings_flags(p)
    add_limit_flags(p)
    p.add_argument("--workers", type=_count, metavar="N",
                   help="shading workers, each loading the weights once (default: one per core)")  # fmt: skip
    p.add_argument("--threads", type=_count, metavar="N",
                   help="torch threads per worker (default: the cores shared among the workers)")  # fmt: skip
    p.add_argument("--gpus-per-worker", type=_share, default=0.0, metavar="F",
                   help="GPUs (or a fraction of one) each worker takes; use with --device cuda")  # fmt: skip
    p.add_argument("--address", metavar="ADDR",
                   help="join this Ray cluster (auto, ray://HOST:10001) instead of starting one")  # fmt: skip
    p.add_argument("--num-cpus", type=_count, metavar="N",
                   help="cores the embedded Ray may use (default: all of this machine's)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true",
                   help="shade a small sample into a temporary folder and print the estimated time for all; "
                   "OUT gets nothing")  # fmt: skip
    p.add_argument(
        "--sample", type=_count, default=4, metavar="N", help="pictures a --dry-run shades (default 4)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    p.set_defaults(func=_batch)


def _batch(args: argparse.Namespace) -> int:
    from artshade.cli_flags import limits_from_args
    from artshade.shading.cli import settings_from_args

    from .options import Options
    from .run import require_ray, run_batch

    require_ray()
    opts = Options(
        src=args.src,
        out=args.out,
        settings=settings_from_args(args),
        limits=limits_from_args(args),
        models_dir=args.models,
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        threads=args.threads,
        address=args.address,
        num_cpus=args.num_cpus,
        dry_run=args.dry_run,
        sample=args.sample,
        quiet=args.quiet,
        stream=sys.stderr,
    )
    outcome = run_batch(opts)
    return 1 if outcome.counts.get("failed") else 0
