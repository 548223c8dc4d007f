"""The daemon's configuration and the user's saved settings.

``DaemonConfig`` is what ``create_app`` needs (port, limits, folders, the engine entry point).
``UserSettings`` is what the artist saves through ``GET/PUT /v1/settings`` (default settings, per-site
overrides, watch folders); :func:`load_user_settings` / :func:`save_user_settings` read and write it as
``config_dir()/settings.json`` (atomic writes), for the daemon and the watch folder alike.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artshade.shading.io import Limits
from artshade.shading.settings import Settings

from artshade import paths
from artshade.errors import SettingsError
from artshade.files import write_json_atomic
from artshade.ids import DEFAULT_PORT

log = logging.getLogger(__name__)

#: the setting names a paired extension may set (defaults, site profiles, one upload's settings).
API_SETTING_KEYS = (
    "preset", "intensity", "mode", "platform", "target", "seed", "format",
    "encoders", "style", "concept", "poison_target", "fallback",
)  # fmt: skip
#: setting names only the artist at the machine may set (they pick hardware or name a file); see
#: ``daemon.http.powers``.  Accepted in ``defaults`` and in a watch folder's ``settings``, never in a site
#: profile.
MACHINE_SETTING_KEYS = ("device", "target_image")
#: the fields of one watch folder (all of them machine-level).
WATCH_FOLDER_FIELDS = ("inbox", "outbox", "settings", "target_folder")

MB = 1024 * 1024
#: the engine's default input limits (``shading.io.Limits``), the daemon's too unless the artist says more
ENGINE_LIMITS = Limits()


#: site profiles in the settings, and the longest DNS name a site may be
MAX_SITES = 256
SITE_NAME_MAX = 253
#: watch folders in the settings
MAX_WATCH_FOLDERS = 32


@dataclass
class DaemonConfig:
    port: int = DEFAULT_PORT
    hosts: tuple[str, ...] = ("127.0.0.1", "::1")
    #: the largest upload and image: the engine's defaults unless the artist chose others
    #: (``artshade serve --max-body-mb N --max-megapixels N``)
    max_body: int = ENGINE_LIMITS.max_bytes
    max_pixels: int = ENGINE_LIMITS.max_pixels
    #: jobs waiting (not running) at most, per priority class; more -> 429.
    queue_size: int = 32
    cache_bytes: int = 1024 * MB
    #: seconds to receive a request body.
    read_timeout: float = 60.0
    #: seconds a connection may take to send a request's headers (and may then stay idle): slow-header
    #: connections are closed, so a few dozen half-open sockets cannot pile up.
    header_timeout: float = 15.0
    #: seconds ``?wait=1`` waits before answering 202 with the job instead.
    wait_timeout: float = 600.0
    #: seconds a graceful shutdown waits for a running engine call to notice it was stopped.
    shutdown_timeout: float = 10.0
    models_dir: Path | None = None
    config_dir: Path = field(default_factory=paths.config_dir)
    data_dir: Path = field(default_factory=paths.data_dir)
    cache_dir: Path = field(default_factory=paths.cache_dir)
    #: the daemon token; None -> ``daemon.http.token.get_or_create_token()`` at start.
    token: str | None = None
    #: run the watch folders configured in the user settings.
    watch_folders: bool = True
    #: the engine entry point, ``shading.protect_bytes`` unless a caller wraps it.
    engine: Callable[..., Any] | None = None

    @property
    def settings_path(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def pairing_path(self) -> Path:
        return self.config_dir / "paired-origins.json"

    def input_limits(self) -> Limits:
        """The images this daemon takes; a refusal names the ``artshade serve`` flag that raises the limit."""
        return Limits(max_pixels=self.max_pixels, max_bytes=self.max_body,
                      pixels_setting="`artshade serve --max-megapixels N`",
                      bytes_setting="`artshade serve --max-body-mb N`")  # fmt: skip


# -- user settings ---------------------------------------------------------------------------------------


def settings_from_outside(
    values: Mapping[str, Any], *, base: Settings | None = None, machine: bool = False
) -> Settings:
    """``Settings.from_mapping`` limited to the names outside callers may set (with ``machine``, also the
    machine-level ones: what the artist writes in the settings file or sends from the command line)."""
    if not isinstance(values, Mapping):
        raise SettingsError("settings must be a JSON object")
    allowed = (*API_SETTING_KEYS, *MACHINE_SETTING_KEYS) if machine else API_SETTING_KEYS
    refused = sorted(set(values) - set(allowed))
    if refused:
        raise SettingsError(f"unknown or refused setting {refused[0]!r}; allowed: {', '.join(allowed)}")
    _check_json_types(values)
    target_image = values.get("target_image")
    if target_image not in (None, "") and (
        not isinstance(target_image, str)
        or "\x00" in target_image
        or not target_image.startswith(("/", "\\"))
        and not Path(target_image).is_absolute()
    ):
        raise SettingsError(f"target_image must be an absolute path, got {target_image!r}")
    return Settings.from_mapping(values, base=base)


def _check_json_types(values: Mapping[str, Any]) -> None:
    """What ``Settings.from_mapping`` would coerce but a caller must not send (JSON input is typed)."""
    seed = values.get("seed")
    if isinstance(seed, bool) or not (seed is None or isinstance(seed, int | str)):
        raise SettingsError(f"seed must be a non-negative integer, got {seed!r}")
    encoders = values.get("encoders")
    if not (encoders is None or isinstance(encoders, str)) and not (
        isinstance(encoders, list) and all(isinstance(e, str) for e in encoders)
    ):
        raise SettingsError("encoders must be a list of encoder names")


def public_dict(settings: Settings, *, machine: bool = False) -> dict[str, Any]:
    """The settings as saved and shown: the extension's names, and (``machine``) the machine-level ones
    that differ from the built-in default."""
    full = settings.to_dict()
    out = {k: full[k] for k in API_SETTING_KEYS}
    if machine:
        default = Settings().to_dict()
        out.update({k: full[k] for k in MACHINE_SETTING_KEYS if full[k] != default[k]})
    return out


def normalise_site(site: str) -> str:
    site = site.strip().lower().rstrip(".")
    if "://" in site:
        site = site.split("://", 1)[1]
    site = site.split("/", 1)[0].split(":", 1)[0]
    return site.removeprefix("www.")


@dataclass(frozen=True)
class WatchFolder:
    inbox: Path
    outbox: Path
    #: overrides on top of the user's defaults.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: a folder ``.artshade.json`` files may take a ``target_image`` from, besides the inbox itself.
    target_folder: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"inbox": str(self.inbox), "outbox": str(self.outbox), "settings": dict(self.settings)}
        if self.target_folder is not None:
            out["target_folder"] = str(self.target_folder)
        return out


@dataclass(frozen=True)
class UserSettings:
    defaults: Settings = field(default_factory=Settings)
    #: site (``instagram.com``) -> settings overrides (``{"platform": "instagram"}``).
    sites: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    watch_folders: tuple[WatchFolder, ...] = ()

    @classmethod
    def from_mapping(cls, value: Any) -> UserSettings:
        """Validate outside input (PUT body, settings file); raises SettingsError with one clear line."""
        if not isinstance(value, Mapping):
            raise SettingsError("settings must be a JSON object")
        unknown = sorted(set(value) - {"defaults", "sites", "watch_folders"})
        if unknown:
            raise SettingsError(
                f"unknown settings section {unknown[0]!r}; known: defaults, sites, watch_folders"
            )
        defaults = settings_from_outside(value.get("defaults", {}), machine=True)
        sites_in = value.get("sites", {})
        if not isinstance(sites_in, Mapping):
            raise SettingsError("sites must map a site name to settings")
        if len(sites_in) > MAX_SITES:
            raise SettingsError(f"sites may list at most {MAX_SITES} sites, got {len(sites_in)}")
        sites: dict[str, dict[str, Any]] = {}
        for raw_site, overrides in sites_in.items():
            site = normalise_site(str(raw_site)[: SITE_NAME_MAX + 1])
            if len(site) > SITE_NAME_MAX:
                raise SettingsError(
                    f"site name {str(raw_site)[:20]!r}... is too long (at most {SITE_NAME_MAX})"
                )
            if not site:
                raise SettingsError(f"bad site name {raw_site!r}")
            if isinstance(overrides, Mapping) and (
                machine := [k for k in overrides if k in MACHINE_SETTING_KEYS]
            ):
                raise SettingsError(
                    f"{machine[0]!r} is not a per-site setting; the artist sets it once, in defaults"
                )
            settings_from_outside(overrides, base=defaults)  # validates
            sites[site] = _set_values(overrides)
        folders_in = value.get("watch_folders", [])
        if not isinstance(folders_in, list):
            raise SettingsError("watch_folders must be a list of {inbox, outbox, settings}")
        if len(folders_in) > MAX_WATCH_FOLDERS:
            raise SettingsError(
                f"watch_folders may list at most {MAX_WATCH_FOLDERS} folders, got {len(folders_in)}"
            )
        folders = tuple(_watch_folder(item, defaults) for item in folders_in)
        return cls(defaults=defaults, sites=sites, watch_folders=folders)

    def to_dict(self) -> dict[str, Any]:
        """Everything, as saved in the settings file and shown to the artist at the machine."""
        return {
            "defaults": public_dict(self.defaults, machine=True),
            "sites": {site: dict(o) for site, o in sorted(self.sites.items())},
            "watch_folders": [f.to_dict() for f in self.watch_folders],
        }

    def extension_view(self) -> dict[str, Any]:
        """What a paired extension may read: the preset defaults and the site profiles, no paths."""
        return {
            "defaults": public_dict(self.defaults),
            "sites": {site: dict(o) for site, o in sorted(self.sites.items())},
        }

    def keeping_machine_settings_of(self, current: UserSettings) -> UserSettings:
        """These settings with the machine-level parts (device, target image, watch folders) of
        ``current``: what a paired extension's PUT may change is everything else."""
        defaults = self.defaults.replace(**{k: getattr(current.defaults, k) for k in MACHINE_SETTING_KEYS})
        return UserSettings(defaults=defaults, sites=self.sites, watch_folders=current.watch_folders)

    def site_overrides(self, site: str | None) -> Mapping[str, Any]:
        """Overrides for ``site`` or its closest listed parent domain
        (``www.instagram.com`` -> ``instagram.com``)."""
        if not site:
            return {}
        name = normalise_site(site)
        while name:
            if name in self.sites:
                return self.sites[name]
            name = name.partition(".")[2]
        return {}

    def settings_for(
        self, query: Mapping[str, Any], *, site: str | None = None, machine: bool = False
    ) -> Settings:
        """Defaults, then the site's profile, then the caller's own values (machine-level ones only from
        the artist at the machine)."""
        base = settings_from_outside(self.site_overrides(site), base=self.defaults)
        return settings_from_outside(query, base=base, machine=machine)

    def folder_settings(self, folder: WatchFolder) -> Settings:
        return settings_from_outside(folder.settings, base=self.defaults, machine=True)


def _watch_folder(item: Any, defaults: Settings) -> WatchFolder:
    from .watch.folder_guards import require_watch_layout

    if not isinstance(item, Mapping) or not isinstance(item.get("inbox"), str) or not item.get("inbox"):
        raise SettingsError("each watch folder needs an 'inbox' path")
    unknown = sorted(set(item) - set(WATCH_FOLDER_FIELDS))
    if unknown:
        raise SettingsError(f"unknown watch-folder field {unknown[0]!r}")
    inbox = _path(item["inbox"], "inbox")
    outbox_raw = item.get("outbox")
    if outbox_raw is not None and not isinstance(outbox_raw, str):
        raise SettingsError("watch-folder 'outbox' must be a path")
    outbox = _path(outbox_raw, "outbox") if outbox_raw else inbox.parent / "protected"
    target_raw = item.get("target_folder")
    if target_raw is not None and (not isinstance(target_raw, str) or not target_raw):
        raise SettingsError("watch-folder 'target_folder' must be a path")
    target_folder = _path(target_raw, "target_folder") if target_raw else None
    if not inbox.is_absolute() or not outbox.is_absolute():
        raise SettingsError("watch-folder paths must be absolute")
    require_watch_layout(inbox, outbox, target_folder)
    overrides = item.get("settings", {})
    settings_from_outside(overrides, base=defaults, machine=True)
    return WatchFolder(
        inbox=inbox, outbox=outbox, settings=_set_values(overrides), target_folder=target_folder
    )


def _path(raw: str, field: str) -> Path:
    """A path from outside input, or SettingsError (never a crash on a NUL byte or an unknown ~user)."""
    if "\x00" in raw:
        raise SettingsError(f"watch-folder {field!r} holds a NUL character")
    try:
        os.fsencode(raw)
        return Path(raw).expanduser()
    except UnicodeEncodeError:
        raise SettingsError(f"watch-folder {field!r} is not a valid file name") from None
    except RuntimeError:
        raise SettingsError(f"watch-folder {field!r}: cannot expand {raw[:60]!r}") from None


def _set_values(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides as saved: null or "" means "not set" and is dropped (as ``Settings.from_mapping`` does)."""
    return {k: v for k, v in overrides.items() if v is not None and v != ""}


def user_settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load_user_settings(path: Path | None = None, *, strict: bool = False) -> UserSettings:
    """The saved user settings; missing file -> defaults.  A broken file is logged and ignored (or raised
    as SettingsError when ``strict``), never overwritten until the user saves again."""
    path = path or user_settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserSettings()
    try:
        return UserSettings.from_mapping(json.loads(text))
    except (ValueError, RecursionError, SettingsError) as err:  # RecursionError: nested too deeply
        message = f"{path}: {err}"
        if strict:
            raise SettingsError(message) from None
        log.error("ignoring unusable settings file %s", message)
        return UserSettings()


def save_user_settings(settings: UserSettings, path: Path | None = None) -> None:
    write_json_atomic(path or user_settings_path(), settings.to_dict())
