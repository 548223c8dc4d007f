"""Command-line flags that more than one command takes, read one way: the input limits of
``artshade protect``, ``artshade watch`` and ``artshade serve``.

The defaults and the hard maximum are the engine's (``shading.io.Limits``, ``hard_max_megapixels``): read
here, never repeated.  A value past the hard maximum is refused with one line (the image decoder opens
nothing larger, so a higher limit would only promise what cannot be kept).
"""

from __future__ import annotations

import argparse

from artshade.errors import SettingsError
from artshade.shading.io import Limits, hard_max_megapixels

#: the engine's default input limits
DEFAULT_LIMITS = Limits()
MIB = 2**20


def positive(text: str) -> float:
    """An ``argparse`` type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_limit_flags(
    p: argparse.ArgumentParser,
    *,
    bytes_flag: str = "--max-file-mb",
    bytes_help: str = "largest file accepted",
) -> None:
    """``--max-megapixels`` and ``bytes_flag`` (``--max-file-mb``; ``artshade serve`` says ``--max-body-mb``),
    with the engine's defaults."""
    mp, mb = DEFAULT_LIMITS.max_pixels / 1e6, DEFAULT_LIMITS.max_bytes / MIB
    p.add_argument("--max-megapixels", type=positive, default=mp, metavar="N",
                   help=f"largest image accepted (default {mp:g}; memory and time grow with it)")  # fmt: skip
    p.add_argument(bytes_flag, type=positive, default=mb, metavar="N",
                   help=f"{bytes_help}, in MiB (default {mb:g})")  # fmt: skip


def max_pixels(megapixels: float) -> int:
    """``--max-megapixels`` in pixels; SettingsError past what the image decoder can open at all."""
    most = hard_max_megapixels()
    if megapixels > most:
        raise SettingsError(
            f"--max-megapixels can be at most {most:.0f}: the image decoder opens nothing larger"
        )
    return round(megapixels * 1e6)


def max_bytes(mib: float) -> int:
    return round(mib * MIB)


def limits_from_args(args: argparse.Namespace) -> Limits:
    """The input limits the artist chose with --max-megapixels / --max-file-mb."""
    return Limits(max_pixels=max_pixels(args.max_megapixels), max_bytes=max_bytes(args.max_file_mb))
