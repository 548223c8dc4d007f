"""The daemon's bearer token: 256 random bits made on first run.

Kept in the OS keyring (service ``artshade``, user ``daemon-token``).  Where no usable keyring backend
exists (headless Linux, the fail backend), it lives in a 0600 file ``config_dir()/token`` and one log line
says so.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import keyring
import keyring.errors

from artshade.files import write_atomic
from artshade.paths import config_dir

log = logging.getLogger(__name__)

SERVICE = "artshade"
USER = "daemon-token"


def token_file() -> Path:
    return config_dir() / "token"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def get_or_create_token() -> str:
    """Return the daemon token, creating and storing it on first use."""
    try:
        stored = keyring.get_password(SERVICE, USER)
        if stored:
            return stored
        token = _read_file() or new_token()
        keyring.set_password(SERVICE, USER, token)
        return token
    except keyring.errors.KeyringError as err:  # NoKeyringError, the fail backend, a locked keyring...
        log.info(
            "no usable OS keyring (%s); keeping the daemon token in %s", type(err).__name__, token_file()
        )
    except RuntimeError as err:  # some backends raise plain RuntimeError when unusable
        log.info("OS keyring unusable (%s); keeping the daemon token in %s", err, token_file())
    existing = _read_file()
    if existing is not None:
        return existing
    token = new_token()
    write_atomic(token_file(), (token + "\n").encode("ascii"), mode=0o600, parents=0o700)
    return token


def _read_file() -> str | None:
    try:
        token = token_file().read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None
