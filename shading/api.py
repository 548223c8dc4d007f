"""The engine's entry points: ``protect`` (an image), ``protect_bytes`` (a file's bytes), ``protect_file``.

Flow: pick the device and encoders -> choose the working size (what the site keeps, capped where scrapers
look) -> make the targets -> optimise a perturbation at the shade size -> notch periodic peaks out of it
-> add it, upsampled, to the full-size original -> hold the colour-SSIM goal on the image as saved, then
check flat areas and periodic structure once more (scaling the change down if either shows) -> measure
-> report.  Alpha, EXIF and ICC pass through ``shading.io`` untouched.

``protect`` runs that flow as its stages, one function each: ``load``, ``choose_targets``,
``optimise_change``, ``finish_image`` and ``measure_result``, with ``describe_run`` writing the report's
account of the run; each stage's time is in the report's ``timings``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from artshade import __version__
from artshade.files import same_file

from . import device as devices
from . import io, models
from .encoders.base import ImageEncoder
from .encoders.ensemble import Ensemble, Member
from .errors import ImageTooSmallError, OutputError
from .measure import pull_report, robustness_report
from .optimize import BUDGETS, SCHEDULES, Budget, Outcome, Schedule, TargetTensor, optimise, upsample
from .perceptual import colour_ssim, largest_scale_for_ssim, psnr
from .result import BytesResult, ProtectResult
from .settings import ENGINE_VERSION, Settings
from .targets import TargetRequest, make_targets
from .targets.base import Target, target_digest
from .tensors import fit_cover, resize, to_pil, to_tensor
from .transforms.eot import EOTConfig
from .transforms.platform import PROFILES
from .visibility import (
    PEAK_LIMIT,
    flat_attenuation,
    flat_delta_e,
    periodic_peak,
    remove_peaks,
    visibility_report,
)

ProgressFn = Callable[[float, str], None]

#: scrapers look at most at a 1024 px short side; shading finer than that is wasted work
MAX_WORKING_SHORT_SIDE = 1024
MIN_SIDE = 16
#: the largest side the finished image is judged at (beyond it a smooth change only scores better)
JUDGE_SIDE = 2048


def working_size(width: int, height: int, platform: str) -> tuple[int, int]:
    """What the site keeps, then capped so the short side is at most what scrapers use."""
    w, h = PROFILES[platform].kept_size(width, height)
    if min(w, h) > MAX_WORKING_SHORT_SIDE:
        scale = MAX_WORKING_SHORT_SIDE / min(w, h)
        w, h = round(w * scale), round(h * scale)
    return w, h


@dataclass
class Loaded:
    """What the loading stage hands on: the picture as the engine works on it, and the encoders it attacks."""

    #: the input as RGB at full size, and its alpha channel (passed through untouched), if any
    rgb: Image.Image
    alpha: Image.Image | None
    device: torch.device
    models_dir: Path
    ensemble: Ensemble
    #: ``rgb`` as a tensor on the device, and the same at the working size ``size`` (width, height)
    full: Tensor
    x: Tensor
    size: tuple[int, int]


def protect(
    image: Image.Image,
    settings: Settings,
    *,
    models_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    measure: bool | str = True,
    robustness: bool = False,
) -> ProtectResult:
    """Shade ``image`` (RGB or RGBA; alpha passes through untouched).  Blocking; see module docstring.

    ``measure``: ``"full"`` (or True) adds every visibility figure and the pull per encoder and site profile,
    the transfer proxy's included; ``"brief"`` only colour SSIM, PSNR and the attacked encoders' pull after
    the settings' platform, without the unshaded original's baseline (what the command line prints; three
    encoder passes); ``"none"`` (or False)
    nothing.  ``robustness`` also the pull left after each cheap clean-up an attacker would try
    (``purify``)."""
    t0 = time.perf_counter()
    report_progress = _stages(progress)
    report_progress(0.0, "loading")
    loaded = load(image, settings, models_dir)
    t_loaded = time.perf_counter()

    report_progress(0.0, "target")
    targets, target_tensors = choose_targets(loaded, settings, lambda f, s: report_progress(f, "target"))
    t_target = time.perf_counter()

    schedule, budget = SCHEDULES[settings.preset], BUDGETS[settings.intensity]
    outcome = optimise_change(
        loaded, target_tensors, settings, schedule, budget, lambda f, s: report_progress(f, "optimising")
    )
    t_opt = time.perf_counter()

    report_progress(0.0, "finishing")
    out, guard = finish_image(loaded, outcome.delta, budget, seed=settings.seed)
    t_done = time.perf_counter()

    report = describe_run(loaded, settings, targets, target_tensors, schedule, budget, outcome, guard)
    protected = out.convert("RGB")
    extras = {
        "x": loaded.x,
        "delta": outcome.delta,
        "targets": target_tensors,
        "ensemble": loaded.ensemble,
        "original": loaded.rgb,
    }
    report.update(
        measure_result(loaded, protected, target_tensors, settings, budget, report_progress,
                       measure=measure, robustness=robustness)
    )  # fmt: skip
    t_end = time.perf_counter()
    report["timings"] = {
        "load_s": round(t_loaded - t0, 3),
        "target_s": round(t_target - t_loaded, 3),
        "optimise_s": round(t_opt - t_target, 3),
        "finish_s": round(t_done - t_opt, 3),
        "measure_s": round(t_end - t_done, 3),
        "total_s": round(t_end - t0, 3),
    }
    report_progress(1.0, "done")
    return ProtectResult(out, report, extras)


def load(image: Image.Image, settings: Settings, models_dir: str | Path | None) -> Loaded:
    """The loading stage: check the picture, pick the device, load the encoders, make the working copy."""
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA", "PA") else None
    rgb = image.convert("RGB")
    if min(rgb.size) < MIN_SIDE:
        raise ImageTooSmallError(
            f"image is {rgb.size[0]}x{rgb.size[1]} px; at least {MIN_SIDE} px per side is needed"
        )
    dev = devices.pick(settings.device)
    folder = models.models_dir(models_dir)
    names = list(settings.encoders) or models.preset_encoders(settings.preset, dev, folder)
    ensemble = Ensemble(
        [
            Member(models.load_encoder(n, folder=folder, device=dev, with_decoder=(i == 0)))
            for i, n in enumerate(names)
        ]
    )
    torch.manual_seed(settings.seed)

    full = to_tensor(rgb, dev)
    ww, wh = working_size(*rgb.size, settings.platform)
    x = resize(full, wh, ww)
    return Loaded(rgb, alpha, dev, folder, ensemble, full, x, (ww, wh))


def choose_targets(
    loaded: Loaded, settings: Settings, progress: ProgressFn
) -> tuple[list[Target], list[TargetTensor]]:
    """The target stage: the targets for the working copy, and each fitted to the working size."""
    (ww, wh), dev, ensemble = loaded.size, loaded.device, loaded.ensemble
    targets = make_targets(
        TargetRequest(image=to_pil(loaded.x), settings=settings, models_dir=loaded.models_dir, device=dev,
                      progress=progress, encoders=[m.encoder for m in ensemble])
    )  # fmt: skip
    target_tensors = [TargetTensor(fit_cover(to_tensor(t.image, dev), wh, ww), t.weight) for t in targets]
    return targets, target_tensors


def optimise_change(
    loaded: Loaded,
    target_tensors: list[TargetTensor],
    settings: Settings,
    schedule: Schedule,
    budget: Budget,
    progress: ProgressFn,
) -> Outcome:
    """The optimising stage: the change at the shade size, against the platform's processing."""
    profile = PROFILES[settings.platform]
    eot_cfg = EOTConfig(scales=schedule.scales, crop=schedule.crop, flips=schedule.flips,
                        jpeg_quality=profile.jpeg_quality, subsampling=profile.subsampling,
                        scale_jitter=schedule.scale_jitter, canonical_p=schedule.canonical_p,
                        whole_p=schedule.whole_p, bucket_p=schedule.bucket_p)  # fmt: skip
    return optimise(loaded.x, target_tensors, loaded.ensemble, schedule, budget, eot_cfg, seed=settings.seed,
                    progress=progress)  # fmt: skip


def finish_image(
    loaded: Loaded, shade_change: Tensor, budget: Budget, *, seed: int
) -> tuple[Image.Image, dict[str, Any]]:
    """The finishing stage: the change notched, upsampled and added to the full-size original (``finish``),
    saved to 8 bits with the alpha put back; and what the guard did, for the report."""
    rgb, full = loaded.rgb, loaded.full
    shade_delta, notched = remove_peaks(shade_change)
    delta = upsample(shade_delta, rgb.size[1], rgb.size[0])
    delta, factor, guard = finish(full, delta, budget, seed=seed)
    out = to_pil(add_change(full, factor * delta, seed=seed))
    if loaded.alpha is not None:
        out = out.convert("RGBA")
        out.putalpha(loaded.alpha)
    return out, {"periodic_bins_notched": notched, "scale": round(factor, 4), **guard}


def describe_run(
    loaded: Loaded,
    settings: Settings,
    targets: list[Target],
    target_tensors: list[TargetTensor],
    schedule: Schedule,
    budget: Budget,
    outcome: Outcome,
    guard: dict[str, Any],
) -> dict[str, Any]:
    """The report's account of the run: versions, settings, sizes, encoders, targets, budget and guard."""
    rgb, (ww, wh) = loaded.rgb, loaded.size
    return {
        "artshade": __version__,
        "engine": ENGINE_VERSION,
        "settings": settings.to_dict(),
        "device": str(loaded.device),
        "input": {"width": rgb.size[0], "height": rgb.size[1]},
        "working_size": [ww, wh],
        "encoders": loaded.ensemble.names,
        "targets": [{"kind": t.kind, "weight": t.weight, **t.info, "digest": target_digest(to_pil(tt.image))}
                    for t, tt in zip(targets, target_tensors, strict=True)],
        "budget": {**dataclasses.asdict(budget.jnd), "ssim_goal": budget.ssim_goal},
        "optimiser": {**outcome.summary(), "steps_planned": schedule.steps},
        "guard": guard,
    }  # fmt: skip


def measure_result(
    loaded: Loaded,
    protected: Image.Image,
    target_tensors: list[TargetTensor],
    settings: Settings,
    budget: Budget,
    report_progress: ProgressFn,
    *,
    measure: bool | str,
    robustness: bool,
) -> dict[str, Any]:
    """The measuring stage: the report's figures on the finished picture, as much as ``measure`` asks."""
    rgb, dev, ensemble = loaded.rgb, loaded.device, loaded.ensemble
    report: dict[str, Any] = {}
    level = {True: "full", False: "none"}.get(measure, measure) if isinstance(measure, bool) else measure
    if level not in ("full", "brief", "none"):
        raise ValueError(f"measure must be full, brief or none, got {measure!r}")
    if level == "brief":
        report_progress(0.0, "measuring")
        a, b = to_tensor(rgb), to_tensor(protected)
        report["quality"] = {
            "psnr": round(float(psnr(a, b)[0]), 3),
            "ssim": round(float(colour_ssim(a, b)[0]), 5),
        }
        target_full = to_pil(target_tensors[0].image)
        report["pull"] = pull_report(
            [m.encoder for m in ensemble], rgb, protected, target_full, [settings.platform], baselines=False
        )
    elif level == "full":
        report_progress(0.0, "measuring")
        report["visibility"] = visibility_report(rgb, protected, flat_limit=budget.flat_limit)
        seen = report["visibility"]
        report["quality"] = {"psnr": seen["psnr"], "ssim": seen["ssim_colour"]}
        target_full = to_pil(target_tensors[0].image)
        profiles = ["none", "instagram", "x", settings.platform]
        encoders = [m.encoder for m in ensemble]
        report["pull"] = pull_report(encoders, rgb, protected, target_full, profiles)
        proxy = transfer_proxy(dev)
        if proxy is not None:
            # an encoder the optimiser never sees: the stand-in for models whose weights we cannot have
            report["transfer"] = pull_report([proxy], rgb, protected, target_full, profiles)
        if robustness:
            report_progress(0.5, "measuring")
            judged = [*encoders, *([proxy] if proxy is not None else [])]
            report["robustness"] = robustness_report(judged, rgb, protected, target_full, settings.platform)
    return report


def protect_bytes(
    data: bytes,
    settings: Settings,
    *,
    models_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    limits: io.Limits | None = None,
    measure: bool | str = False,
) -> BytesResult:
    """Shade an encoded image; the result keeps format (unless ``settings.format``), EXIF, ICC and alpha.

    ``measure``: as ``protect``'s (``"brief"``: colour SSIM, PSNR and the pull after the settings' platform).
    """
    loaded = io.load_image(data, limits or io.Limits())
    result = protect(loaded.rgb, settings, models_dir=models_dir, progress=progress, measure=measure)
    fmt = settings.format or loaded.format
    encoded = io.encode_image(result.image.convert("RGB"), loaded, fmt)
    result.report["input"]["format"] = loaded.format
    result.report["output"] = {"format": fmt, "bytes": len(encoded)}
    return BytesResult(
        encoded, fmt, io.media_type(fmt), loaded.rgb.size[0], loaded.rgb.size[1], result.report
    )


def protect_file(
    src: str | Path,
    dst: str | Path,
    settings: Settings,
    *,
    models_dir: str | Path | None = None,
    progress: ProgressFn | None = None,
    limits: io.Limits | None = None,
    report_path: str | Path | None = None,
    preview_path: str | Path | None = None,
    compare_path: str | Path | None = None,
    measure: str = "brief",
) -> dict[str, Any]:
    """Shade the file ``src`` into ``dst`` (never over ``src``; written atomically).  Returns the report.

    ``measure``: what the report measures when neither a report file nor a preview is asked for (those
    always get every figure): ``"brief"`` (colour SSIM, PSNR, the pull after the settings' platform: what
    the command line prints) or ``"none"`` (nothing: a quiet command prints nothing, so it measures nothing).
    Alpha, EXIF and ICC come back from ``loaded`` in ``io.encode_image``; the engine itself sees RGB only.
    """
    if measure not in ("brief", "none"):
        raise ValueError(f"measure must be brief or none, got {measure!r}")
    src, dst = Path(src), Path(dst)
    forbid = [src]
    for extra in (report_path, preview_path, compare_path):
        if extra is not None and same_file(Path(extra), src):
            raise OutputError(f"{extra} is the input file; choose another path for it")
    if same_file(dst, src):
        raise OutputError(f"output {dst} is the input file; artshade never overwrites an original")
    limits = limits or io.Limits()
    loaded = io.load_image(io.read_input(src, limits), limits)
    # the full measurement (every figure, every profile, the transfer proxy, the clean-ups) only when a
    # report or a preview will show it; the command line's one line needs SSIM and one pull
    full = report_path is not None or preview_path is not None
    result = protect(loaded.rgb, settings, models_dir=models_dir, progress=progress,
                     measure="full" if full else measure, robustness=report_path is not None)  # fmt: skip
    fmt = settings.format or loaded.format
    encoded = io.encode_image(result.image.convert("RGB"), loaded, fmt)
    io.write_atomic(dst, encoded, forbid=forbid)
    report = result.report
    report["input"].update(path=str(src), format=loaded.format)
    report["output"] = {"path": str(dst), "format": fmt, "bytes": len(encoded)}
    if preview_path is not None:
        result.compare()  # the preview shows the engine's 1:1 close-ups too
        buf = BytesIO()
        result.preview().save(buf, "PNG")
        io.write_atomic(Path(preview_path), buf.getvalue(), forbid=forbid)
    if compare_path is not None:
        buf = BytesIO()
        result.compare().save(buf, "PNG")
        io.write_atomic(Path(compare_path), buf.getvalue(), forbid=forbid)
    if report_path is not None:
        io.write_atomic(Path(report_path), json.dumps(report, indent=2).encode(), forbid=forbid)
    return report


#: a change fainter than this (8-bit levels) is dropped before rounding: the dither would turn a tenth of
#: a level into one level on a tenth of the pixels, a speckle that shows on a grain-free fill enlarged
FAINT_LEVELS = 0.25


def add_change(x: Tensor, change: Tensor, *, seed: int) -> Tensor:
    """``x`` (8-bit levels) with ``change`` added, as saved: changes fainter than ``FAINT_LEVELS`` dropped,
    the rest rounded with the seeded dither (``quantise``)."""
    kept = torch.where(change.abs() * 255 < FAINT_LEVELS, torch.zeros_like(change), change)
    return quantise(x + kept, seed=seed)


def quantise(image: Tensor, *, seed: int) -> Tensor:
    """Round to 8-bit levels with a seeded dither (stochastic rounding): plain rounding turns a change
    smaller than a level into hard one-level steps wherever it crosses a half level, which draws contours
    and, for any faint regular part of the change, a regular pattern.  Unchanged pixels stay unchanged."""
    gen = torch.Generator().manual_seed(seed)
    dither = torch.rand(image.shape, generator=gen).to(image)
    levels = image.clamp(0, 1) * 255
    whole = (levels + 1e-3).floor()  # a level that float arithmetic left a hair below stays that level
    up = (dither < (levels - whole).clamp(0, 1)).to(image)
    return (whole + up).clamp(0, 255) / 255


def finish(
    full: Tensor, delta: Tensor, budget: Budget, *, seed: int = 0
) -> tuple[Tensor, float, dict[str, Any]]:
    """The change as it is added to the full-size image, and the factor it is added with.

    The factor is the largest that keeps the mean colour-SSIM goal on the image as saved (8-bit); then, while
    the flattest areas show a difference (CIEDE2000 over the budget's ``flat_limit``) the change is shrunk
    in those flat tiles only (``visibility.flat_attenuation``, twice at most; then the factor shrinks), and
    if the change has a periodic peak its peaks are notched out (scaling would not help: the peak's ratio
    to its neighbours does not depend on the scale).  A peak the notch does not reach gets one shrinking
    step; if that does not lower it the step is taken back and the report says ``periodic_peak_unresolved``
    (more steps would only throw the protection away).  Judged at full size, up to ``JUDGE_SIDE`` px."""
    w, h = full.shape[-1], full.shape[-2]
    jw, jh = (w, h) if max(w, h) <= JUDGE_SIDE else _fit_long_side((w, h), JUDGE_SIDE)
    x, d = resize(full, jh, jw), resize(delta, jh, jw)

    def saved(a: float) -> Tensor:
        return add_change(x, a * d, seed=seed)

    def holds(a: float) -> bool:
        return float(colour_ssim(x, saved(a))[0]) >= budget.ssim_goal

    # the closed form (no rounding) lands within a few per cent of the answer: bisect only around it
    guess = largest_scale_for_ssim(x, d, budget.ssim_goal)
    lo, hi = 0.8 * guess, min(1.0, 1.1 * guess)
    if holds(hi):
        lo = hi
    elif not holds(lo):
        lo, hi = 0.0, lo
    for _ in range(6 if lo < hi else 0):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if holds(mid) else (lo, mid)
    factor, reasons, notched, local = lo, [], 0, 0
    peak_before_scaling: float | None = None  # the peak when the factor last shrank for the peak alone
    unresolved = False
    for _ in range(8):
        flat, peak = flat_delta_e(x, saved(factor)), periodic_peak(x, saved(factor))
        if flat <= budget.flat_limit and peak <= PEAK_LIMIT:
            break
        reasons.append({"flat_delta_e": round(flat, 3), "periodic_peak": round(peak, 1)})
        if peak > PEAK_LIMIT and not notched:
            d, notched = remove_peaks(d)
            notched = max(notched, 1)
            delta = resize(d, h, w)
        elif flat > budget.flat_limit and local < 2:
            # shrink the change only in the flat tiles where it shows (never the whole picture for one
            # flat corner), then try again
            atten, tiles = flat_attenuation(x, saved(factor), budget.flat_limit)
            local += 1
            reasons[-1]["local_tiles"] = tiles
            d = d * atten
            delta = delta * resize(atten, h, w)
        elif flat <= budget.flat_limit and peak > 0.9 * (peak_before_scaling or math.inf):
            # a peak the notch did not reach, and shrinking did not lower it (its ratio to its neighbours
            # does not depend on the scale until the change sinks into the 8-bit floor): shrinking further
            # would only throw the protection away, so take the last step back and say so
            factor /= 0.8
            unresolved = True
            break
        else:
            peak_before_scaling = peak if flat <= budget.flat_limit else None
            factor *= 0.8
    info = {"ssim_scale": round(lo, 4), "scaled_down_for": reasons, "full_size_bins_notched": notched,
            "local_flat_passes": local, "periodic_peak_unresolved": unresolved}  # fmt: skip
    return delta, factor, info


def transfer_proxy(device: torch.device) -> ImageEncoder | None:
    """The committed transfer proxy (``encoders.proxy``), or None where it is not in this install."""
    from .encoders.proxy import TRAINED, ProxyAutoencoder

    if not (TRAINED / "model.safetensors").is_file():
        return None
    return ProxyAutoencoder.from_pretrained(TRAINED).to(device)


def _fit_long_side(size: tuple[int, int], longest: int) -> tuple[int, int]:
    scale = longest / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _stages(progress: ProgressFn | None) -> ProgressFn:
    """Map each stage's own 0..1 onto the whole run (loading 2%, target 8%, optimising 80%, rest 10%)."""
    spans = {"loading": (0.0, 0.02), "target": (0.02, 0.10), "optimising": (0.10, 0.90),
             "finishing": (0.90, 0.93), "measuring": (0.93, 1.0), "done": (1.0, 1.0)}  # fmt: skip
    last = [0.0]

    def report(fraction: float, stage: str) -> None:
        lo, hi = spans[stage]
        value = max(last[0], lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
        last[0] = value
        if progress is not None:
            progress(value, stage)

    return report
