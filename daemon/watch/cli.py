"""``artshade watch``: shade every picture dropped into a folder (see ``daemon.watch.watcher``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from artshade.shading.settings import INTENSITIES, MODES, PLATFORMS, PRESETS

from artshade.cli_flags import add_limit_flags, limits_from_args

DESCRIPTION = """\
Shade every picture dropped into INBOX and put the protected copy, same name and format, into OUTBOX
(subfolders mirrored; an existing name gets " (1)", nothing is overwritten).  Originals are never changed,
moved or deleted unless --move-originals is given.  A file is taken once it is completely written; hidden and
temporary files (.part, .crdownload, ~$..., .tmp) and non-images are left alone.  A picture that cannot be
shaded stays where it is and OUTBOX/errors/NAME.txt says why.  The same picture dropped twice is shaded once
(no second copy is written).  What was done is remembered, so a restart only shades what is new.

Settings: your saved defaults, then the flags below, then a .artshade.json file in the inbox or any
subfolder, e.g. {"preset": "max", "platform": "instagram"} (nearest folder wins; a broken file holds its
folder's pictures back until it is fixed).  Such a file may not set the device or name folders, and its
target_image must be a file inside the inbox (or --target-folder).  The outbox must not be inside the inbox
(nor the inbox inside the outbox); symbolic links, in the inbox or as the folders themselves, are refused."""

EPILOG = """\
exit status: 0 when everything went well (with --once: every picture in the inbox is shaded, a duplicate
or not a picture); 1 with --once when any picture in the inbox could not be shaded, now or on an earlier
run, or was held back by a broken settings file (see OUTBOX/errors); 2 for bad arguments or settings."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``artshade watch`` to the ``artshade`` parser."""
    p = sub.add_parser(
        "watch",
        help="shade every picture dropped into a folder",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inbox", nargs="?", type=Path, help="folder to watch (default: Pictures/artshade/inbox)")
    p.add_argument(
        "--out",
        dest="outbox",
        type=Path,
        metavar="OUTBOX",
        help="where protected copies go (default: Pictures/artshade/protected, or INBOX-protected "
        "beside a given INBOX)",
    )
    p.add_argument("--once", action="store_true", help="shade what is in the inbox now, then exit")
    p.add_argument(
        "--move-originals",
        type=Path,
        metavar="DIR",
        help="move each original here once its protected copy is safely written",
    )
    p.add_argument("--preset", choices=PRESETS)
    p.add_argument("--intensity", choices=INTENSITIES)
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--platform", choices=PLATFORMS)
    p.add_argument("--models", type=Path, metavar="DIR", help="folder with the model weights")
    add_limit_flags(p)
    p.add_argument(
        "--target-folder",
        type=Path,
        metavar="DIR",
        help="a folder .artshade.json files may take a target_image from (besides the inbox itself)",
    )
    p.add_argument(
        "--stable",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a file must stay unchanged before it is taken (default: 1)",
    )
    p.add_argument("--state", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # every picture's outcome is printed by `show` below; the watcher's own warnings would repeat them
    logger = logging.getLogger("artshade.watch")
    level = logger.level
    if not getattr(args, "verbose", False):
        logger.setLevel(logging.ERROR)
    try:
        return _run(args)
    finally:
        logger.setLevel(level)


def _run(args: argparse.Namespace) -> int:
    from .folder_settings import global_settings
    from .outcomes import FileOutcome
    from .runner import EngineRunner
    from .watcher import FolderWatcher, default_folders

    flags = {k: getattr(args, k) for k in ("preset", "intensity", "mode", "platform")}
    from artshade.shading.settings import Settings

    settings = Settings.from_mapping({k: v for k, v in flags.items() if v}, base=global_settings())
    default_in, default_out = default_folders()
    inbox = args.inbox or default_in
    outbox = args.outbox or (default_out if args.inbox is None else inbox.parent / f"{inbox.name}-protected")

    from artshade.progress import ProgressPrinter

    handled = 0
    shading: list[ProgressPrinter] = []  # the picture being shaded now: a bar, or a line every 10 s

    def start(path: Path) -> None:
        name = path.relative_to(watcher.inbox).as_posix()
        total = handled + 1 + watcher.backlog()
        shading[:] = [ProgressPrinter(f"[{handled + 1}/{total}] shading {name}", every=10)]

    def progress(fraction: float, stage: str) -> None:
        if shading:
            shading[0](fraction, stage)

    def show(outcome: FileOutcome) -> None:
        nonlocal handled
        while shading:
            shading.pop().close()
        handled += 1
        total = handled + watcher.backlog()
        print(f"[{handled}/{total}] {outcome.line(watcher.inbox)}", file=sys.stderr, flush=True)

    limits = limits_from_args(args)
    options: dict[str, Any] = {}
    if args.stable is not None:
        options["stable_window"] = max(0.0, args.stable)
    watcher = FolderWatcher(
        inbox,
        outbox,
        settings,
        state_path=args.state,
        move_originals=args.move_originals,
        runner=EngineRunner(args.models, limits, on_progress=progress),
        limits=limits,
        on_file=show,
        target_folder=args.target_folder,
        on_start=start,
        **options,
    )
    if args.once:
        print(f"artshade: shading what is in {watcher.inbox} -> {watcher.outbox}", file=sys.stderr)
        summary = watcher.scan_once()
        print(f"artshade: done: {summary.line()}", file=sys.stderr)
        return 1 if summary.failed else 0

    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    watcher.start()
    print(
        f"artshade: watching {watcher.inbox} -> {watcher.outbox} (Ctrl+C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    print(f"artshade: stopped: {watcher.summary.line()}", file=sys.stderr)
    return 0
