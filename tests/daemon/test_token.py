"""The daemon token: OS keyring when there is one, else a 0600 file with one log line saying so."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator

import keyring
import keyring.backend
import pytest
from artshade.daemon.http import token as token_mod


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_without_keyring_the_token_lives_in_a_private_file(
    fail_keyring: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="artshade.daemon.http.token"):
        first = token_mod.get_or_create_token()
    assert len(first) >= 43  # 32 random bytes, url-safe base64
    path = token_mod.token_file()
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "no usable OS keyring" in caplog.text and str(path) in caplog.text
    assert token_mod.get_or_create_token() == first  # stable


def test_with_a_keyring_the_token_is_kept_there() -> None:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        first = token_mod.get_or_create_token()
        assert backend.store[("artshade", "daemon-token")] == first
        assert not token_mod.token_file().exists()
        assert token_mod.get_or_create_token() == first
    finally:
        keyring.set_keyring(previous)


def test_tokens_are_random() -> None:
    assert len({token_mod.new_token() for _ in range(50)}) == 50
