"""The one settings object shared by the CLI, the daemon's API, the watch folder and the extension.

The extension, the HTTP API and the watch folder's settings file all use the same names as the CLI flags
(``preset``, ``intensity``, ``mode``, ``platform``, ``target``, ...).  ``Settings.from_mapping`` is the single
place where outside input becomes settings; it refuses unknown names and bad values with one clear line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SettingsError

#: bumped whenever the engine's output for the same input and settings changes (optimiser, budget, targets,
#: trained start): results cached under another version are never served
ENGINE_VERSION = "3.8"

# -- the words each setting may take, defined here once: the CLI's choices, the engine's tables and the
# daemon's API are spelled from these or held to them by tests.  Literals only: the extension's build reads
# them (and the Settings defaults) without importing the engine
PRESETS = ("fast", "default", "max")
INTENSITIES = ("low", "default", "high")
MODES = ("guard", "cloak", "poison", "cloak+poison")
#: the platforms of ``artshade/upload_profiles.json``: same names, same order (a test and the extension's
#: build hold them equal)
PLATFORMS = ("none", "instagram", "x", "artstation")
FALLBACKS = ("none", "guard")
FORMATS = ("jpeg", "png", "webp", "tiff")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: ``auto`` and the built-in targets (``shading.targets.builtin.BUILTIN_TARGETS``, which a test keeps equal)
TARGETS = ("auto", "poster", "texture", "sketch", "blobs")

# -- how much any door (CLI, HTTP, extension, settings files) may hand in; daemon/http/openapi.yaml agrees
#: encoder names in one ``encoders`` setting (given; repeats are dropped, order kept)
MAX_ENCODERS = 16
#: characters in one encoder name
MAX_NAME_CHARS = 64
#: characters in a free-text setting (``style``, ``concept``, ``poison_target``): a short prompt
MAX_TEXT_CHARS = 500
#: characters in a path setting (``target_image``)
MAX_PATH_CHARS = 4096
TEXT_SETTINGS = ("style", "concept", "poison_target")


@dataclass(frozen=True)
class Settings:
    """What to do to one image.  Immutable; use ``replace`` to derive."""

    preset: str = "default"
    intensity: str = "default"
    mode: str = "guard"
    platform: str = "none"
    #: ``auto`` or the name of a built-in target pattern (see ``shading.targets.builtin``).
    target: str = "auto"
    #: an image whose encoding is the target (overrides ``target``).
    target_image: Path | None = None
    seed: int = 0
    #: output format; ``None`` keeps the input's.
    format: str | None = None
    device: str = "auto"
    #: encoder names to attack; empty means the preset's choice.
    encoders: tuple[str, ...] = ()
    # -- diffusion-made targets (cloak / poison) --
    style: str | None = None
    concept: str | None = None
    poison_target: str | None = None
    fallback: str = "none"

    def __post_init__(self) -> None:
        _check("preset", self.preset, PRESETS)
        _check("intensity", self.intensity, INTENSITIES)
        _check("mode", self.mode, MODES)
        _check("platform", self.platform, PLATFORMS)
        _check("fallback", self.fallback, FALLBACKS)
        _check("device", self.device, DEVICES)
        if self.format is not None:
            _check("format", self.format, FORMATS)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**63:
            raise SettingsError(f"seed must be a non-negative integer, got {self.seed!r}")
        _check("target", self.target, TARGETS)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, base: Settings | None = None) -> Settings:
        """Build settings from strings or JSON values (query string, JSON body, settings file)."""
        base = base or cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        changes: dict[str, Any] = {}
        for key, raw in values.items():
            if raw is None or raw == "":
                continue
            if key == "seed":
                changes[key] = _seed(raw)
            elif key == "target_image":
                changes[key] = Path(_capped(key, str(raw), MAX_PATH_CHARS))
            elif key == "encoders":
                changes[key] = _encoders(raw)
            elif key == "format":
                changes[key] = normalise_format(str(raw))
            else:
                if not isinstance(raw, str):
                    raise SettingsError(f"{key} must be a string, got {raw!r}")
                if key in TEXT_SETTINGS:
                    changes[key] = _capped(key, raw.strip(), MAX_TEXT_CHARS)
                else:
                    changes[key] = raw.strip().lower()
        return dataclasses.replace(base, **changes)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def fingerprint(self) -> str:
        """sha256 (hex) of these settings and the engine version: two runs with the same fingerprint make the
        same output from the same input.  The same values, spelled the same way, as the daemon's result cache
        key (``daemon.jobs.cache.cache_key``), so a picture is "already done" by the same rule everywhere."""
        values = {**self.to_dict(), "engine": ENGINE_VERSION}
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def normalise_format(name: str) -> str:
    name = name.strip().lower().lstrip(".")
    name = {"jpg": "jpeg", "tif": "tiff"}.get(name, name)
    _check("format", name, FORMATS)
    return name


def _capped(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise SettingsError(f"{name} is too long ({len(value)} characters; at most {limit})")
    return value


def _encoders(raw: object) -> tuple[str, ...]:
    """A list, or names separated by commas: at most MAX_ENCODERS given, each at most MAX_NAME_CHARS;
    repeats are dropped (the first one's place is kept)."""
    if isinstance(raw, str):
        if raw.count(",") >= MAX_ENCODERS:
            raise SettingsError(f"encoders may name at most {MAX_ENCODERS} encoders")
        items: list[object] = list(raw.split(","))
    elif isinstance(raw, list | tuple):
        if len(raw) > MAX_ENCODERS:
            raise SettingsError(f"encoders may name at most {MAX_ENCODERS} encoders, got {len(raw)}")
        items = list(raw)
    else:
        raise SettingsError("encoders must be a list of encoder names")
    names: dict[str, None] = {}
    for item in items:
        name = str(item).strip()
        if len(name) > MAX_NAME_CHARS:
            raise SettingsError(f"encoder name {name[:20]!r}... is too long (at most {MAX_NAME_CHARS})")
        if name:
            names.setdefault(name, None)
    return tuple(names)


def _seed(raw: object) -> int:
    """A JSON integer or a string of digits (a query string); never a bool, a float or ``1e3``."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip())
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    raise SettingsError(f"seed must be a non-negative integer, got {shown}")


def _check(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {shown}")
