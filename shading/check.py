"""``artshade check``: did the protection survive the site?

The artist hands back the picture as the site serves it (``posted``) with the original and the report that
``protect`` wrote.  The check

1. lines the posted picture up with the original (``alignment``: EXIF rotation is undone by
   ``io.load_image``; the site's resize and any crop are found by normalised cross-correlation of small
   grey copies over a range of scales, then refined on larger copies) and refuses when the best alignment
   is not alike enough: another picture is not the same artwork;
2. estimates what the site did (``site_estimate``): the JPEG quality (the posted file's quantisation
   tables against the standard IJG tables scaled by quality), the chroma subsampling, the resize and the
   crop, and names the platform profile (``transforms.platform.PROFILES``) that fits best;
3. rebuilds the target the protection pulled toward from the report (kind, name, seed, working size) and
   refuses when its digest is not the one the report recorded;
4. measures the colour SSIM of the posted picture against the original (aligned), and per encoder the pull
   left toward the target (``measure.pull_value`` on ``measure.encode_view``, the report's own figure),
   the same for the original put through the same processing (the noise floor), and the pull the file had
   as saved: "kept 82 % of its pull";
5. says "no protection found" when the posted picture is the unshaded original (an upload that went
   around the extension): the shading's own pattern is looked for in the posted pixels (where the protected
   file is at hand), else the pull left is compared with the pull as saved.

Without a report the target is not known: the targets ``protect`` makes with its defaults are rebuilt and
the one the posted picture is pulled toward most is measured (``assumed_targets``).

Nothing here knows HTTP: the CLI and the daemon call :func:`check_bytes`.
"""

from __future__ import annotations

import io as _io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import device as devices
from . import io, models
from .alignment import Alignment, align, dhash, hash_distance
from .errors import InputError, TargetMismatchError
from .measure import encode_view, pull_value
from .perceptual import colour_ssim
from .settings import ENGINE_VERSION, Settings
from .site_estimate import FITS, SUBSAMPLING_NAMES, best_profile, jpeg_quality, jpeg_subsampling
from .targets.base import target_digest
from .tensors import fit_cover, resize, to_pil, to_tensor
from .transforms.platform import PROFILES

#: the shading's own pattern found at less than this strength in the posted pixels: no protection
FOUND_AT_LEAST = 0.35
#: without a pull as saved to compare with: a pull over the noise floor by at least this is protection
FOUND_PULL = 0.02
#: a pull as saved below this is too small to tell a fraction of it from noise
SMALL_PULL = 0.01
LANCZOS = Image.Resampling.LANCZOS


# ---------------------------------------------------------------------------------------- the target, rebuilt


def rebuild_target(
    original: Image.Image, report: Mapping[str, Any], *, models_dir: Path | None = None
) -> Image.Image:
    """The target the protection pulled toward (RGB, at the working size), made again from the original and
    the report; refuses with one line when it cannot be made or its digest is not the recorded one."""
    targets = report.get("targets")
    if not isinstance(targets, list) or not targets or not isinstance(targets[0], Mapping):
        raise InputError("the report names no target; give the report `artshade protect --report` wrote")
    first = targets[0]
    digest = first.get("digest")
    if not isinstance(digest, str):
        raise TargetMismatchError(
            "the report does not record its target's digest (made by an older artshade), so the target "
            "cannot be checked; protect the picture again with --report"
        )
    size = report.get("working_size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise InputError("the report has no working size")
    ww, wh = size
    settings = _settings_of(report)
    x = to_pil(resize(to_tensor(original.convert("RGB")), wh, ww))
    kind, name, seed = first.get("kind"), first.get("name"), first.get("seed", settings.seed)
    if kind in ("restyle", "pattern") and isinstance(name, str) and isinstance(seed, int):
        from .targets.builtin import builtin_target

        made = builtin_target(name, x, seed)
    else:
        from .targets import TargetRequest, make_targets

        dev = torch.device("cpu")
        folder = models.models_dir(models_dir)
        encoders = [models.load_encoder(n, folder=folder, device=dev) for n in _encoder_names(report)]
        made = make_targets(TargetRequest(image=x, settings=settings, models_dir=folder, device=dev,
                                          encoders=encoders))[0].image  # fmt: skip
    target = to_pil(fit_cover(to_tensor(made), wh, ww))
    if target_digest(target) != digest:
        engine = report.get("engine")
        why = (
            f"it was made by engine {engine}, this is engine {ENGINE_VERSION}"
            if engine != ENGINE_VERSION
            else "is this the original that was protected, on the same kind of device?"
        )
        raise TargetMismatchError(
            f"the target rebuilt from the report is not the one the protection used ({why})"
        )
    return target


def _settings_of(report: Mapping[str, Any]) -> Settings:
    raw = report.get("settings")
    if not isinstance(raw, Mapping):
        raise InputError("the report has no settings")
    return Settings.from_mapping({k: v for k, v in raw.items() if v is not None and v != []})


def _encoder_names(report: Mapping[str, Any]) -> list[str]:
    names = report.get("encoders")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputError("the report names no encoders")
    return names


# ----------------------------------------------------------------------------------------------- the check


def _through_site(
    img: Image.Image, size: tuple[int, int], quality: int | None, subsampling: str | None
) -> Image.Image:
    """``img`` processed as the site processed the posted picture (resize, then JPEG if it re-encoded)."""
    out = img.convert("RGB")
    if out.size != size:
        out = out.resize(size, LANCZOS)
    if quality is None:
        return out
    buf = _io.BytesIO()
    sub = {v: k for k, v in SUBSAMPLING_NAMES.items()}.get(subsampling or "4:2:0", 2)
    out.save(buf, "JPEG", quality=quality, subsampling=sub)
    with Image.open(_io.BytesIO(buf.getvalue())) as im:
        return im.convert("RGB")


def _crop(img: Image.Image, box: tuple[float, float, float, float], full: tuple[int, int]) -> Image.Image:
    """``box`` (in a ``full``-size picture's pixels) cut from ``img`` (the same picture at any size)."""
    fx, fy = img.size[0] / full[0], img.size[1] / full[1]
    b = (round(box[0] * fx), round(box[1] * fy), round(box[2] * fx), round(box[3] * fy))
    return img if b == (0, 0, img.size[0], img.size[1]) else img.crop(b)


def shading_strength(posted: Image.Image, plain: Image.Image, shaded: Image.Image) -> float:
    """How much of the shading's own pattern the posted pixels hold: the least-squares factor ``a`` in
    ``posted - plain = a * (shaded - plain)`` (1: all of it, 0: none), ``plain`` and ``shaded`` being the
    original and the protected file put through the site's processing."""
    p, o, s = (np.asarray(i.convert("RGB"), np.float64) for i in (posted, plain, shaded))
    d = s - o
    energy = float((d * d).sum())
    if energy < 1e-6:
        return 0.0
    return float(((p - o) * d).sum()) / energy


def assumed_targets(original: Image.Image) -> list[tuple[str, Image.Image]]:
    """Without a report: the targets ``artshade protect`` makes with its defaults (guard mode, ``auto``,
    seed 0) - each candidate ``auto`` chooses from, at the working size of each platform profile."""
    from .api import working_size
    from .targets.builtin import AUTO_CANDIDATES, builtin_target

    out: list[tuple[str, Image.Image]] = []
    full = to_tensor(original.convert("RGB"))
    for ww, wh in dict.fromkeys(working_size(*original.size, p) for p in PROFILES):
        x = to_pil(resize(full, wh, ww))
        for name in AUTO_CANDIDATES:
            out.append((name, to_pil(fit_cover(to_tensor(builtin_target(name, x, 0)), wh, ww))))
    return out


def check(
    posted_data: bytes,
    original: Image.Image,
    report: Mapping[str, Any] | None,
    *,
    protected: Image.Image | None = None,
    models_dir: str | Path | None = None,
    limits: io.Limits | None = None,
) -> dict[str, Any]:
    """Check ``posted_data`` (the file as the site serves it) against the ``original`` (RGB, upright) and
    the ``report`` ``protect`` wrote; ``protected`` is the file as saved, where it is at hand.  Without a
    report the target is not known: the pull is measured toward the targets ``protect`` makes with its
    defaults (``assumed_targets``), the best of them.  Returns the result (see ``summarise`` for the
    words); raises a ``ShadingError`` with one line on bad input."""
    loaded = io.load_image(posted_data, limits or io.Limits())
    posted = loaded.rgb.convert("RGB")
    with Image.open(_io.BytesIO(posted_data)) as raw:
        quality, subsampling = jpeg_quality(raw), jpeg_subsampling(raw)
    original = original.convert("RGB")
    if report is not None:
        recorded = report.get("input", {}) if isinstance(report.get("input"), Mapping) else {}
        if (recorded.get("width"), recorded.get("height")) != original.size:
            raise InputError(
                f"the original is {original.size[0]}x{original.size[1]} px but the report's was "
                f"{recorded.get('width')}x{recorded.get('height')}: give the original that was protected"
            )
    if protected is not None and protected.size != original.size:
        raise InputError("the protected file is not the size of the original")
    placed = align(original, posted)
    W, H = original.size
    folder = models.models_dir(models_dir)
    if report is not None:
        settings = _settings_of(report)
        targets = [("", rebuild_target(original, report, models_dir=folder))]
        dev = devices.pick("auto" if settings.device == "cuda" else settings.device)
        encoder_names = _encoder_names(report)
    else:
        settings = Settings()
        targets = assumed_targets(original)
        dev = devices.pick("auto")
        encoder_names = models.preset_encoders(settings.preset, dev, folder)

    x_crop = _crop(original, placed.box, (W, H))
    plain_site = _through_site(x_crop, posted.size, quality, subsampling)
    x_at_posted = x_crop.resize(posted.size, LANCZOS) if x_crop.size != posted.size else x_crop
    ssim = float(colour_ssim(to_tensor(x_at_posted), to_tensor(posted))[0])

    shaded_crop = None
    strength = None
    if protected is not None:
        shaded_crop = _crop(protected.convert("RGB"), placed.box, (W, H))
        shaded_site = _through_site(shaded_crop, posted.size, quality, subsampling)
        strength = round(shading_strength(posted, plain_site, shaded_site), 3)

    saved_pulls = report.get("pull") if report is not None and isinstance(report.get("pull"), Mapping) else {}
    # rows[i][encoder]: the pull toward target i
    rows: list[dict[str, dict[str, float | None]]] = [{} for _ in targets]
    for name in encoder_names:
        enc = models.load_encoder(name, folder=folder, device=dev)
        # the original and the target seen at the posted picture's size (a scraper's view of a picture
        # smaller than its view is taken at the picture's own size), and at their own size for as saved
        zx, zp, zb = encode_view(enc, x_at_posted), encode_view(enc, posted), encode_view(enc, plain_site)
        same_size = x_crop.size == posted.size
        zx_own = zx if same_size or shaded_crop is None else encode_view(enc, x_crop)
        zs = None if shaded_crop is None else encode_view(enc, shaded_crop)
        for i, (_, target) in enumerate(targets):
            t_crop = _crop(target, placed.box, (W, H))
            zt = encode_view(enc, t_crop.resize(posted.size, LANCZOS))
            row: dict[str, float | None] = {
                "posted": round(pull_value(zp, zx, zt), 4),
                "baseline": round(pull_value(zb, zx, zt), 4),
            }
            if zs is not None:
                zt_own = zt if same_size else encode_view(enc, t_crop.resize(x_crop.size, LANCZOS))
                row["as_saved"] = round(pull_value(zs, zx_own, zt_own), 4)
            else:
                recorded_pull = saved_pulls.get(name, {}).get("none", {}).get("pull") if saved_pulls else None
                row["as_saved"] = recorded_pull if isinstance(recorded_pull, int | float) else None
            saved = row["as_saved"]
            row["kept"] = (
                None
                if saved is None or saved < SMALL_PULL
                else round(min(1.0, max(0.0, (row["posted"] or 0.0) - (row["baseline"] or 0.0)) / saved), 4)
            )
            rows[i][name] = row

    def left(i: int) -> float:
        values = [(r["posted"] or 0.0) - (r["baseline"] or 0.0) for r in rows[i].values()]
        return sum(values) / max(1, len(values))

    chosen = max(range(len(targets)), key=left)
    pulls = rows[chosen]
    target_info: dict[str, Any] = (
        {"known": True, "digest": report["targets"][0]["digest"]}
        if report is not None
        else {"known": False, "assumed": targets[chosen][0], "seed": 0}
    )

    kept_values = [r["kept"] for r in pulls.values() if r["kept"] is not None]
    kept = round(sum(kept_values) / len(kept_values), 4) if kept_values else None
    if strength is not None:
        found = strength >= FOUND_AT_LEAST
    elif kept is not None:
        found = kept >= FOUND_AT_LEAST
    else:
        found = left(chosen) >= FOUND_PULL
    profile, costs = best_profile(quality, subsampling, placed.scale, (W, H))
    used = settings.platform if report is not None else None
    used_fits = None if used is None else costs[used] <= costs[profile] + 0.5 and costs[used] < FITS
    result: dict[str, Any] = {
        "protection_found": found,
        "kept": kept if found else 0.0 if kept is not None else None,
        "shading_strength": strength,
        "ssim": round(ssim, 4),
        "pull": pulls,
        "alignment": {
            "similarity": placed.similarity,
            "detail": placed.detail,
            "cropped": placed.cropped,
            "box": [round(v, 1) for v in placed.box],
            "scale": round(placed.scale, 4),
        },
        "site": {
            "original_size": [W, H],
            "posted_size": list(posted.size),
            "resized": abs(placed.scale - 1.0) > 0.01,
            "jpeg_quality": quality,
            "subsampling": subsampling,
            "format": loaded.format,
            "profile": profile,
            "profile_fits": costs[profile] < FITS,
            "profile_used": used,
            "profile_used_fits": used_fits,
            "profile_costs": costs,
        },
        "settings": {"preset": settings.preset, "intensity": settings.intensity, "platform": used},
        "target": target_info,
        "engine": None if report is None else report.get("engine"),
    }
    result["try"] = suggestions(result)
    result["advice"] = advice(result["try"])
    result["summary"] = summarise(result)
    return result


def suggestions(result: Mapping[str, Any]) -> list[dict[str, str]]:
    """What to try when little is left, as settings (``{"setting": name, "value": value}``; the setting
    ``upload`` with value ``protected``: the site got the unshaded original)."""
    tips: list[dict[str, str]] = []
    site, settings = result["site"], result["settings"]
    if not result["protection_found"]:
        if result["shading_strength"] is not None and result["shading_strength"] < FOUND_AT_LEAST:
            tips.append({"setting": "upload", "value": "protected"})
        return tips
    kept = result["kept"]
    if (
        site["profile_used"] is not None
        and not site["profile_used_fits"]
        and site["profile_fits"]
        and site["profile"] != settings["platform"]
    ):
        tips.append({"setting": "platform", "value": site["profile"]})
    if kept is not None and kept < 0.5:
        if settings["intensity"] != "high":
            tips.append({"setting": "intensity", "value": "high"})
        if settings["preset"] == "fast":
            tips.append({"setting": "preset", "value": "default"})
    return tips


_ADVICE = {
    "upload": "the posted picture is the unshaded original: upload the protected file",
    "platform": "protect for the platform profile that fits this site: --platform {value}",
    "intensity": "protect with a higher intensity: --intensity {value}",
    "preset": "protect with a slower, stronger preset: --preset {value}",
}


def advice(tips: list[dict[str, str]]) -> list[str]:
    """``suggestions`` in words, for the command line."""
    return [_ADVICE[t["setting"]].format(value=t["value"]) for t in tips]


def summarise(result: Mapping[str, Any]) -> str:
    """The result in one line of words."""
    site = result["site"]
    did = []
    if site["resized"]:
        did.append(f"resized to {site['posted_size'][0]} x {site['posted_size'][1]}")
    if site["jpeg_quality"] is not None:
        did.append(f"JPEG quality ≈ {site['jpeg_quality']}")
    did.append("cropped" if result["alignment"]["cropped"] else "not cropped")
    what = ", ".join(did)
    if not result["protection_found"]:
        return f"no protection found (the site {what})"
    kept = result["kept"]
    head = "protection found" if kept is None else f"kept {round(100 * kept)} % of its pull through the site"
    return f"{head} (the site {what})"


def target_line(result: Mapping[str, Any]) -> str | None:
    """Where the target came from, when it is not the report's."""
    target = result.get("target") or {}
    if target.get("known", True):
        return None
    return (
        f"no report: the pull is measured toward the target protect makes by default that fits best "
        f"({target.get('assumed')}, seed {target.get('seed')}); give --report for the one used"
    )


def check_bytes(
    posted_data: bytes,
    original_data: bytes,
    report: Mapping[str, Any] | None,
    *,
    protected_data: bytes | None = None,
    models_dir: str | Path | None = None,
    limits: io.Limits | None = None,
) -> dict[str, Any]:
    """:func:`check` on encoded files (the original and, where at hand, the protected file as saved)."""
    limits = limits or io.Limits()
    original = io.load_image(original_data, limits).rgb
    protected = None if protected_data is None else io.load_image(protected_data, limits).rgb
    return check(posted_data, original, report, protected=protected, models_dir=models_dir, limits=limits)


__all__ = [
    "Alignment",
    "align",
    "assumed_targets",
    "best_profile",
    "check",
    "check_bytes",
    "dhash",
    "hash_distance",
    "jpeg_quality",
    "jpeg_subsampling",
    "rebuild_target",
]
