"""The shading engine: a library with one job.

Public entry points::

    from artshade.shading import Settings, protect, protect_bytes, protect_file

    result = protect(pil_image, Settings(preset="fast", platform="instagram"), progress=cb)
    result.image      # PIL image, same size and mode as the input
    result.report     # JSON-able dict (settings, timings, PSNR/SSIM, pull per encoder ...)

``progress(fraction, stage)`` is called with a fraction in [0, 1] and a short stage name; raising
``shading.errors.Cancelled`` from it stops the work.  The engine knows nothing of HTTP or files beyond
``shading.io``; it is deterministic for a given seed on a given device.
"""

from .errors import Cancelled, ShadingError
from .settings import Settings

__all__ = [
    "Cancelled",
    "Limits",
    "ProtectResult",
    "Settings",
    "ShadingError",
    "protect",
    "protect_bytes",
    "protect_file",
]


def __getattr__(name: str):  # lazy: importing settings must not import torch
    if name in {"protect", "protect_bytes", "protect_file"}:
        from . import api

        return getattr(api, name)
    if name in {"ProtectResult", "BytesResult"}:
        from . import result

        return getattr(result, name)
    if name == "Limits":
        from .io import Limits

        return Limits
    raise AttributeError(name)
