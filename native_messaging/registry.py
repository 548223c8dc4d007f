"""The bit of the Windows registry the installer needs: default values of keys under HKEY_CURRENT_USER.

Behind a small interface so tests (and non-Windows machines) can use an in-memory fake.
"""

from __future__ import annotations

import contextlib
from typing import Protocol


class Registry(Protocol):
    def get(self, key: str) -> str | None:
        """Default value of ``HKCU\\<key>``, or None if the key (or value) does not exist."""

    def set(self, key: str, value: str) -> None:
        """Create ``HKCU\\<key>`` if needed and set its default value."""

    def delete(self, key: str) -> None:
        """Delete ``HKCU\\<key>`` (a leaf key); missing keys are fine."""


class WindowsRegistry:
    """The real per-user registry (``winreg``); only importable on Windows."""

    def __init__(self) -> None:
        import winreg  # noqa: F401 - fail early, with a clear ImportError, off Windows

    def get(self, key: str) -> str | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:  # type: ignore[attr-defined]
                value, _kind = winreg.QueryValueEx(handle, "")  # type: ignore[attr-defined]
        except FileNotFoundError:
            return None
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:  # type: ignore[attr-defined]
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)  # type: ignore[attr-defined]

    def delete(self, key: str) -> None:
        import winreg

        with contextlib.suppress(FileNotFoundError):
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)  # type: ignore[attr-defined]
