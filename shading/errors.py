"""The engine's errors; they live in :mod:`artshade.errors` so the daemon and the native host can use them
without importing the engine."""

from artshade.errors import (
    Cancelled,
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    ModelError,
    NotAnImageError,
    NotSameArtworkError,
    OutputError,
    SettingsError,
    ShadingError,
    TargetMismatchError,
    TruncatedImageError,
    UnsupportedFormatError,
)

__all__ = [
    "Cancelled",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "InputError",
    "ModelError",
    "NotAnImageError",
    "NotSameArtworkError",
    "OutputError",
    "SettingsError",
    "ShadingError",
    "TargetMismatchError",
    "TruncatedImageError",
    "UnsupportedFormatError",
]
