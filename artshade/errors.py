"""The errors every part raises (the engine, the daemon, the watch folder, the installer).

Each has a stable ``code`` the daemon maps to an HTTP status and a message that is one clear line for a
person.  This module imports nothing, so the native host and the daemon use it without the engine;
``artshade.shading.errors`` re-exports it."""

from __future__ import annotations


class ShadingError(Exception):
    """Base class.  ``str(err)`` is a single line meant for the artist."""

    code = "shading_error"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class InputError(ShadingError):
    """The input is not something we can shade (bad file, wrong size...)."""

    code = "bad_input"


class NotAnImageError(InputError):
    code = "not_an_image"


class UnsupportedFormatError(InputError):
    code = "unsupported_format"


class TruncatedImageError(InputError):
    code = "truncated_image"


class ImageTooLargeError(InputError):
    """Too many pixels (also decompression bombs) or too many bytes."""

    code = "image_too_large"


class ImageTooSmallError(InputError):
    code = "image_too_small"


class NotSameArtworkError(InputError):
    """``artshade check``: the posted picture does not line up with the original."""

    code = "not_same_artwork"


class SettingsError(ShadingError):
    code = "bad_settings"


class ModelError(ShadingError):
    """A model is missing or cannot be loaded; the message says what to do."""

    code = "model_unavailable"


class TargetMismatchError(ShadingError):
    """``artshade check``: the target rebuilt from a report is not the one the protection used."""

    code = "target_mismatch"


class OutputError(ShadingError):
    """The output cannot be written where asked (e.g. it would overwrite the input)."""

    code = "bad_output"


class Cancelled(ShadingError):
    """Raise from a progress callback to stop a running protection."""

    code = "cancelled"

    def __init__(self, message: str = "protection cancelled") -> None:
        super().__init__(message)
