"""``artshade serve``, ``artshade token``, ``artshade pair`` and ``artshade unpair``."""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import sys
import urllib.error
import urllib.request
from pathlib import Path

from artshade import paths
from artshade.cli_flags import add_limit_flags, max_bytes, max_pixels
from artshade.errors import ShadingError
from artshade.ids import DEFAULT_PORT
from artshade.loopback import OPENER


def register(sub: argparse._SubParsersAction) -> None:
    """Add this part's subcommands to the ``artshade`` parser."""
    serve = sub.add_parser("serve", help="run the local daemon (HTTP API on 127.0.0.1 and the watch folders)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 and ::1 "
                       f"(default {DEFAULT_PORT}; 0 picks a free one)")  # fmt: skip
    serve.add_argument("--models", type=Path, default=None, help="folder with the model weights")
    # the limits are the artist's (machine-level): flags here, never settings a browser extension can change
    add_limit_flags(serve, bytes_flag="--max-body-mb", bytes_help="largest upload accepted")
    serve.add_argument("--queue-length", type=int, default=32, metavar="N",
                       help="jobs waiting at most before the daemon answers 'busy' (default 32)")  # fmt: skip
    serve.add_argument(
        "--cache-mb", type=int, default=1024, help="disk space for cached results (default 1024)"
    )
    serve.add_argument("--no-watch", action="store_true", help="do not run the configured watch folders")
    serve.set_defaults(func=run_serve)

    token = sub.add_parser("token", help="print the daemon's access token (made on first use)")
    token.set_defaults(func=run_token)

    pair = sub.add_parser("pair", help="print a one-time code that pairs the browser extension by hand")
    pair.set_defaults(func=run_pair)

    unpair = sub.add_parser(
        "unpair",
        help="revoke a paired browser extension (its tokens stop working at once)",
        description="Unpair a browser extension: the daemon stops accepting its origin and its tokens, "
        "running or not.  Without arguments, list the paired extensions.",
    )
    unpair.add_argument("origin", nargs="?", help="the extension's origin, e.g. chrome-extension://<id>")
    unpair.add_argument("--all", action="store_true", help="unpair every extension")
    unpair.set_defaults(func=run_unpair)


def run_serve(args: argparse.Namespace) -> int:
    from ..config import MB, DaemonConfig
    from .server import serve

    if not 0 <= args.port <= 65535:
        raise ShadingError(f"--port must be between 0 and 65535, got {args.port}")
    if args.queue_length < 1:
        raise ShadingError(f"--queue-length must be at least 1, got {args.queue_length}")
    setup_logging(verbose=getattr(args, "verbose", False))
    config = DaemonConfig(
        port=args.port,
        models_dir=args.models,
        max_body=max_bytes(args.max_body_mb),
        max_pixels=max_pixels(args.max_megapixels),
        queue_size=args.queue_length,
        cache_bytes=args.cache_mb * MB,
        watch_folders=not args.no_watch,
    )
    return serve(config)


def setup_logging(*, verbose: bool = False) -> Path:
    """Daemon logs go to ``log_dir()/daemon.log`` (rotated) and stderr."""
    log_file = paths.ensure(paths.log_dir()) / "daemon.log"
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(fmt)
    root = logging.getLogger()
    root.addHandler(file_handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in root.handlers:
        if handler is not file_handler:
            handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in root.handlers
    ):
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(fmt)
        root.addHandler(stderr)
    return log_file


def run_token(args: argparse.Namespace) -> int:
    from .token import get_or_create_token

    print(get_or_create_token())
    return 0


def run_pair(args: argparse.Namespace) -> int:
    """Ask the running daemon for a one-time pairing code and print it with instructions."""
    from artshade.runtime import read_runtime

    from .token import get_or_create_token

    info = read_runtime()
    if info is None:
        raise ShadingError(
            "the daemon is not running; start it with `artshade serve`, then run `artshade pair`"
        )
    request = urllib.request.Request(
        f"http://127.0.0.1:{int(info['port'])}/v1/pair/code",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {get_or_create_token()}"},
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = _error_detail(err)
        raise ShadingError(f"the daemon refused to make a pairing code: {detail}") from None
    except (urllib.error.URLError, OSError) as err:
        raise ShadingError(
            f"cannot reach the daemon at {info['url']} ({err}); is `artshade serve` running?"
        ) from None
    minutes = max(1, round(answer.get("expires_in", 600) / 60))
    print(answer["code"])
    print(f"Enter this code in the artshade extension's options page within {minutes} minutes. "
          "It works once.", file=sys.stderr)  # fmt: skip
    return 0


def run_unpair(args: argparse.Namespace) -> int:
    """List, or revoke one or all of, the paired extensions (the daemon re-reads the file at once)."""
    from artshade.pairing import PairingStore

    store = PairingStore()
    if args.all and args.origin:
        raise ShadingError("give an extension origin or --all, not both")
    if args.all:
        removed = store.clear()
        print(f"unpaired {len(removed)} extension{'s' if len(removed) != 1 else ''}", file=sys.stderr)
        for origin in sorted(removed):
            print(origin)
        return 0
    if args.origin is None:
        paired = sorted(store.origins())
        for origin in paired:
            print(origin)
        if not paired:
            print("no browser extension is paired", file=sys.stderr)
        return 0
    if not store.remove(args.origin):
        raise ShadingError(
            f"{args.origin} is not paired; `artshade unpair` with no arguments lists the paired extensions"
        )
    print(f"unpaired {args.origin}; its tokens no longer work", file=sys.stderr)
    return 0


def _error_detail(err: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(err.read()).get("detail") or err.reason)
    except (ValueError, AttributeError, OSError):
        return str(err.reason)
