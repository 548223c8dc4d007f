"""``artshade check POSTED``: how much protection is left in the picture as the site serves it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from artshade.cli_flags import add_limit_flags, limits_from_args

from .errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="did my protection survive the site? (the picture saved from the site, checked)",
        description="Line POSTED (the picture as the site serves it) up with the original, and say how "
        "alike they look, what the site did (resize, JPEG quality, crop; the platform profile that fits) "
        "and how much of the protection's pull is left, or that no protection is found.  Give the report "
        "`artshade protect --report` (or the watch folder) wrote; the original and the protected file are "
        "found where it says, unless --original / --protected name them.",
    )
    p.add_argument("posted", type=Path, metavar="POSTED")
    p.add_argument("--report", type=Path, metavar="R.json", help="the report protect wrote for this picture")
    p.add_argument("--original", type=Path, metavar="ORIGINAL", help="the original (default: the report's)")
    p.add_argument("--protected", type=Path, metavar="FILE",
                   help="the protected file as saved (default: the report's output)")  # fmt: skip
    p.add_argument("--models", type=Path, metavar="DIR",
                   help="models folder (default: $ARTSHADE_MODELS, then the user cache)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_limit_flags(p)
    p.set_defaults(func=_check)


def load_report(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"report not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the report {path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        report = json.loads(text)
    except ValueError:
        raise InputError(f"{path.name} is not a JSON report") from None
    if not isinstance(report, dict) or "targets" not in report:
        raise InputError(f"{path.name} is not a report written by `artshade protect --report`")
    return report


def _path_in(report: Mapping[str, Any], part: str) -> Path | None:
    entry = report.get(part)
    where = entry.get("path") if isinstance(entry, Mapping) else None
    return Path(where) if isinstance(where, str) and where else None


def _check(args: argparse.Namespace) -> int:
    from . import io
    from .check import check_bytes

    if args.report is None and args.original is None:
        raise InputError(
            "give --report R.json (the report `artshade protect --report` wrote) or at least --original "
            "ORIGINAL: the check lines the posted picture up with the original"
        )
    limits = limits_from_args(args)
    report = None if args.report is None else load_report(args.report)
    original = args.original or (None if report is None else _path_in(report, "input"))
    if original is None:
        raise InputError("the report does not say where the original is; give --original ORIGINAL")
    protected = args.protected or (None if report is None else _path_in(report, "output"))
    if protected is not None and args.protected is None and not protected.is_file():
        protected = None  # moved or deleted since: the report's own pull as saved is used instead
    posted_data = io.read_input(args.posted, limits)
    original_data = io.read_input(original, limits)
    protected_data = None if protected is None else io.read_input(protected, limits)
    result = check_bytes(posted_data, original_data, report, protected_data=protected_data,
                         models_dir=args.models, limits=limits)  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(describe(result)))
    return 0


def describe(result: Mapping[str, Any]) -> list[str]:
    """The result for a person: the summary line, then the figures behind it."""
    from .check import target_line

    site, placed = result["site"], result["alignment"]
    lines = [str(result["summary"])]
    lines.append(
        f"  looks alike: colour SSIM {result['ssim']:.3f} (lined up {placed['similarity']:.0%} alike)"
    )
    w, h = site["original_size"]
    pw, ph = site["posted_size"]
    lines.append(
        f"  the site: {w} x {h} -> {pw} x {ph}, "
        + (
            f"JPEG quality ≈ {site['jpeg_quality']} ({site['subsampling']})"
            if site["jpeg_quality"] is not None
            else f"{site['format'].upper()}, not re-encoded as JPEG"
        )
        + (
            ", cropped to the part at " + ", ".join(f"{v:g}" for v in placed["box"])
            if placed["cropped"]
            else ""
        )
    )
    best = (
        f"{site['profile']} fits best" if site["profile_fits"] else f"none fits (nearest: {site['profile']})"
    )
    if site["profile_used"] is not None:
        fits = "fits" if site["profile_used_fits"] else "does not fit"
        best += f"; the one used, {site['profile_used']}, {fits}"
    lines.append(f"  platform profile: {best}")
    if (line := target_line(result)) is not None:
        lines.append(f"  {line}")
    for name, row in result["pull"].items():
        saved = "unknown" if row.get("as_saved") is None else f"{row['as_saved']:.3f}"
        lines.append(
            f"  {name}: pull {row['posted']:.3f} posted, {row['baseline']:.3f} for the unshaded original "
            f"through the same site, {saved} as saved"
        )
    if result.get("shading_strength") is not None:
        lines.append(
            f"  the shading's own pattern is in the posted pixels at {result['shading_strength']:.0%}"
        )
    lines += [f"  try: {tip}" for tip in result["advice"]]
    return lines
