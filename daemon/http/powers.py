"""Two kinds of caller, two sets of powers: what a paired browser extension may do, and what only the
artist at the machine may do.

- ``EXTENSION``: protect images, follow the jobs it submitted, read and write the preset defaults and the
  per-site profiles.  Open to a paired extension and to the artist.
- ``MACHINE``: anything that names a file or a folder on this machine (watch folders and their outboxes, a
  target image, the folder target images may come from), or picks the hardware (``device``), or mints pairing
  codes.  Open only to the artist: a request with no ``Origin`` that carries the daemon's own token (the
  command line; ``artshade token``), and the settings file itself.  Every request carrying an extension
  ``Origin``, and every request made with an extension's token (with or without an ``Origin``), is refused
  with 403 ``machine_only``.  A token never widens that line.

Model folders are not a setting at all: the daemon finds weights from ``--models`` / ``ARTSHADE_MODELS`` /
the user cache, which only whoever starts it can choose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import API_SETTING_KEYS, MACHINE_SETTING_KEYS, WATCH_FOLDER_FIELDS

EXTENSION = "extension"
MACHINE = "machine"
#: a route anyone on loopback may call without a token (still Host- and Origin-checked)
PUBLIC = "public"


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as the middlewares established it.

    ``kind`` is ``MACHINE`` (the daemon token, no Origin) or ``EXTENSION``; ``origin`` is the extension's
    origin (from its Origin header or, without one, the origin its token was issued to).
    """

    kind: str
    origin: str | None = None

    @property
    def at_machine(self) -> bool:
        return self.kind == MACHINE

    def describe(self) -> str:
        return "the command line" if self.at_machine else f"extension {self.origin or '(unknown origin)'}"


#: The one access table: every route, by name, and who may call it.  A route that is not listed is the
#: artist's alone (``MACHINE``): opening one to extensions is a line here, never an omission.  A test checks
#: that every route of the app is listed.
ROUTE_ACCESS: Mapping[str, str] = {
    "health": PUBLIC,  # reveals only liveness
    "pair": PUBLIC,  # how an extension gets its token (a one-time code, rate-limited per origin)
    "status": EXTENSION,
    "get_settings": EXTENSION,
    "put_settings": EXTENSION,  # machine-level keys inside it: MACHINE (``setting_powers``)
    "protect": EXTENSION,
    "job": EXTENSION,  # an extension sees only its own jobs (``handlers.find_job``)
    "cancel_job": EXTENSION,
    "job_result": EXTENSION,
    "job_report": EXTENSION,
    "job_events": EXTENSION,
    "check": EXTENSION,  # an extension checks only its own uploads (``check_routes.find_kept``)
    "pair_code": MACHINE,
}


def route_access(name: str | None) -> str:
    """Who may call the route named ``name``: what the table says, else the artist at the machine only."""
    return ROUTE_ACCESS.get(name or "", MACHINE)


def setting_powers() -> dict[str, str]:
    """Every settings key (as a dotted path; ``sites.*`` stands for any site) -> the power it needs."""
    table: dict[str, str] = {}
    for key in API_SETTING_KEYS:
        table[f"defaults.{key}"] = EXTENSION
    for key in MACHINE_SETTING_KEYS:
        table[f"defaults.{key}"] = MACHINE
    for key in API_SETTING_KEYS:
        table[f"sites.*.{key}"] = EXTENSION
    table["watch_folders"] = MACHINE
    for key in WATCH_FOLDER_FIELDS:
        table[f"watch_folders[].{key}"] = MACHINE
    return table


def machine_keys_in(body: Any) -> list[str]:
    """The machine-level keys a PUT /v1/settings body names (dotted paths, in order), whatever their value;
    an empty list if it names none.  Keys it does not know are not listed (validation refuses them)."""
    if not isinstance(body, Mapping):
        return []
    found: list[str] = []
    if "watch_folders" in body:
        found.append("watch_folders")
    defaults = body.get("defaults")
    if isinstance(defaults, Mapping):
        found += [f"defaults.{k}" for k in MACHINE_SETTING_KEYS if k in defaults]
    sites = body.get("sites")
    if isinstance(sites, Mapping):
        for site, overrides in sites.items():
            if isinstance(overrides, Mapping):
                found += [f"sites.{site}.{k}" for k in MACHINE_SETTING_KEYS if k in overrides]
    return found


def machine_params_in(names: Iterable[str]) -> list[str]:
    """The machine-level settings among a protect request's setting names."""
    return [n for n in names if n in MACHINE_SETTING_KEYS]
