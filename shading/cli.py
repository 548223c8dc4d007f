"""``artshade protect`` and ``artshade models``: the engine from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from artshade.cli_flags import add_limit_flags, limits_from_args

from .settings import DEVICES, FALLBACKS, FORMATS, INTENSITIES, MODES, PLATFORMS, PRESETS, TARGETS, Settings

#: each flag's default is the setting's own (``Settings``' field defaults)
DEFAULT_SETTINGS = Settings()


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    """The flags that make a ``Settings`` (``settings_from_args``), plus --models: ``artshade protect`` and
    ``artshade batch`` take exactly the same ones."""
    p.add_argument("--target-image", type=Path, metavar="PATH", help="pull toward this image's encoding")
    d = DEFAULT_SETTINGS
    p.add_argument("--target", default=d.target, help=f"built-in target: {TARGETS[0]} (the restyle the "
                   f"encoders move toward most), {', '.join(TARGETS[1:])}")  # fmt: skip
    p.add_argument(
        "--preset", choices=PRESETS, default=d.preset, help=f"quality vs time (default: {d.preset})"
    )
    p.add_argument("--intensity", choices=INTENSITIES, default=d.intensity, help="how much change is allowed")
    p.add_argument("--platform", choices=PLATFORMS, default=d.platform, help="where the image will be posted")
    p.add_argument("--mode", choices=MODES, default=d.mode, help="guard (built-in or --target-image), "
                   "cloak (style, like Glaze), poison (concept, like Nightshade), cloak+poison")  # fmt: skip
    p.add_argument("--style", help="cloak: the style to pull toward (default: the farthest catalogue style)")
    p.add_argument("--concept", help="poison: what the image shows (default: detected with CLIP)")
    p.add_argument("--poison-target", help="poison: the concept to pull toward (default: from the mapping)")
    p.add_argument("--fallback", choices=FALLBACKS, default=d.fallback,
                   help="if cloak/poison models are missing, use built-in targets instead of "
                   "failing")  # fmt: skip
    p.add_argument("--format", help=f"output format: {', '.join(FORMATS)} (default: same as input)")
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--encoders", help="comma-separated encoder names (default: the preset's)")
    p.add_argument("--models", type=Path, metavar="DIR",
                   help="models folder (default: $ARTSHADE_MODELS, then the user cache)")  # fmt: skip
    p.add_argument("--seed", type=int, default=d.seed)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "protect",
        help="shade one image file",
        description="Shade INPUT into OUTPUT so diffusion-model encoders see the target instead. "
        "The input is never modified.",
    )
    p.add_argument("input", type=Path, metavar="INPUT")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTPUT")
    add_settings_flags(p)
    p.add_argument("--report", type=Path, metavar="FILE.json", help="write a JSON report")
    p.add_argument("--preview", type=Path, metavar="FILE.png", help="write a side-by-side preview")
    p.add_argument("--compare", type=Path, metavar="FILE.png",
                   help="write 1:1 crops of the flattest and busiest part, original beside "
                   "protected")  # fmt: skip
    add_limit_flags(p)
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress (a bar, or a line every few seconds) and no summary")  # fmt: skip
    p.set_defaults(func=_protect)

    m = sub.add_parser("models", help="list, add or fetch the models artshade uses")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True
    ml = msub.add_parser("list", help="what is installed and what each preset and mode needs")
    ml.add_argument("--models", type=Path, metavar="DIR")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=_models_list)
    ma = msub.add_parser(
        "add",
        help="copy model files from a folder you have (USB stick, shared drive) and check them",
        description="Copy the model files artshade knows (e.g. taef2_encoder.pth + taef2_decoder.pth) from "
        "each PATH (a file or a folder) into the models folder (--models, else $ARTSHADE_MODELS, else the "
        "user cache that `artshade models list` names).  Files with a published checksum must match it; "
        "nothing is installed if any check fails.",
    )
    ma.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ma.add_argument("--models", type=Path, metavar="DIR", help="install here instead")
    ma.set_defaults(func=_models_add)
    mf = msub.add_parser("fetch", help="download models from the model hub (or copy them with --from DIR)")
    mf.add_argument("names", nargs="+", metavar="NAME")
    mf.add_argument("--from", dest="source", type=Path, metavar="DIR",
                    help="copy from this folder instead of downloading (like `models add`)")  # fmt: skip
    mf.add_argument("--models", type=Path, metavar="DIR", help="install here instead")
    mf.set_defaults(func=_models_fetch)


def settings_from_args(args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = {
        "preset": args.preset, "intensity": args.intensity, "platform": args.platform, "mode": args.mode,
        "target": args.target, "target_image": args.target_image, "seed": args.seed, "format": args.format,
        "device": args.device, "encoders": args.encoders, "style": args.style, "concept": args.concept,
        "poison_target": args.poison_target, "fallback": args.fallback,
    }  # fmt: skip
    return Settings.from_mapping(values)


def _protect(args: argparse.Namespace) -> int:
    from artshade.progress import ProgressPrinter

    from .api import protect_file

    settings = settings_from_args(args)
    limits = limits_from_args(args)
    with ProgressPrinter(f"shading {args.input.name}", enabled=not args.quiet) as progress:
        report = protect_file(args.input, args.output, settings, models_dir=args.models, progress=progress,
                              limits=limits, report_path=args.report, preview_path=args.preview,
                              compare_path=args.compare,
                              measure="none" if args.quiet else "brief")  # fmt: skip
    if report.get("guard", {}).get("periodic_peak_unresolved"):
        # said even with --quiet: the one promise the engine could not keep for this picture
        print(
            f"warning: {args.output} may show a faint regular pattern the guard could not remove; "
            "look at it 1:1 (--compare) before posting",
            file=sys.stderr,
        )
    if not args.quiet:
        q = report.get("quality", {})
        pulls = report.get("pull", {})
        first: dict[str, dict[str, float]] = next(iter(pulls.values()), {})
        plat = first.get(settings.platform, first.get("none", {}))
        print(
            f"protected {args.input} -> {args.output} in {report['timings']['total_s']:.1f}s "
            f"(colour SSIM {q.get('ssim', float('nan')):.3f}, PSNR {q.get('psnr', float('nan')):.1f} dB, "
            f"pull {plat.get('pull', float('nan')):.2f} after {settings.platform})",
            file=sys.stderr,
        )
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from . import models

    rows = models.status(args.models)
    if args.json:
        print(json.dumps({"models_dir": str(models.models_dir(args.models)), "models": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models in {models.models_dir(args.models)}")
    for col in ("name", "installed", "kind", "size", "used by", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], "yes" if r["installed"] else "no", r["kind"], f"{r['download_mb']} MB",
                      ", ".join(r["used_by"]) or "-", r["description"])  # fmt: skip
    Console().print(table)
    return 0


def _models_add(args: argparse.Namespace) -> int:
    from . import models

    _print_added(models.add(args.paths, models.models_dir(args.models)))
    return 0


def _models_fetch(args: argparse.Namespace) -> int:
    from . import models

    folder = models.models_dir(args.models)
    if args.source is not None:
        _print_added(models.add([args.source], folder, only=args.names))
        return 0
    for name in args.names:
        where = models.fetch(name, folder)
        print(f"{name}: installed in {where}")
    return 0


def _print_added(added: list[Any]) -> None:
    how = {"sha256": "checksums match", "loads": "no published checksum; the weights load",
           "folder": "folder copied", "already installed": "already installed, same bytes"}  # fmt: skip
    for a in added:
        names = ", ".join(str(f) for f in a.files)
        print(f"{a.model}: {names} ({how[a.checked]})")
