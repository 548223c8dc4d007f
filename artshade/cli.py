"""The ``artshade`` command: one entry point, subcommands contributed by each part.

Each part owns its subcommands in its own ``cli`` module exposing ``register(subparsers)``; the function a
subcommand sets as ``func`` gets the parsed arguments and returns the exit status.  Any ``ShadingError`` (or
other expected failure) ends the program with one line on stderr and a non-zero status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__

#: modules that contribute subcommands, in help order.
PARTS = (
    "artshade.shading.cli",
    "artshade.shading.check_cli",
    "artshade.daemon.http.cli",
    "artshade.daemon.watch.cli",
    "artshade.batch.cli",
    "artshade.native_messaging.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="artshade",
        description="Shade artwork on your own machine before it goes online.",
    )
    parser.add_argument("--version", action="version", version=f"artshade {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in PARTS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in[:1] == ["native-host"]:  # what the browser runs (through older launchers): the host alone
        from artshade.native_messaging.host import run

        return run(args_in[1:])
    from .allocator import keep_freed_memory

    keep_freed_memory()  # before anything starts a thread (the daemon's engine runs in one)
    parser = build_parser()
    args = parser.parse_args(args_in)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    from artshade.errors import Cancelled, ShadingError

    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("artshade: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("artshade: interrupted", file=sys.stderr)
        return 130
    except ShadingError as err:
        print(f"artshade: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"artshade: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
