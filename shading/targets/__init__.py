"""Targets: what the protected image's encoding is pulled toward.

``make_targets(request)`` dispatches on ``settings.mode`` through ``MAKERS`` (mode -> "module:function",
imported only when used, so the diffusion stack is never imported for plain guard mode).  When a maker
needs models that are missing and ``settings.fallback == "guard"``, the built-in targets are used instead
and each target's ``info`` says so.
"""

from __future__ import annotations

import importlib
import logging

from ..errors import ModelError
from .base import Target, TargetMaker, TargetRequest

log = logging.getLogger(__name__)

MAKERS: dict[str, str] = {
    "guard": "artshade.shading.targets.builtin:make_guard_targets",
    "cloak": "artshade.shading.targets.diffusion:make_cloak_targets",
    "poison": "artshade.shading.targets.diffusion:make_poison_targets",
    "cloak+poison": "artshade.shading.targets.diffusion:make_cloak_poison_targets",
}


def maker_for(mode: str) -> TargetMaker:
    module, _, func = MAKERS[mode].partition(":")
    maker: TargetMaker = getattr(importlib.import_module(module), func)
    return maker


def make_targets(request: TargetRequest) -> list[Target]:
    settings = request.settings
    mode = "guard" if settings.target_image is not None and settings.mode == "guard" else settings.mode
    try:
        return maker_for(mode)(request)
    except ModelError as err:
        if mode == "guard" or settings.fallback != "guard":
            raise
        log.warning("falling back to built-in targets: %s", err)
        targets = maker_for("guard")(request)
        for t in targets:
            t.info.update(fallback_from=mode, fallback_reason=str(err))
        return targets


__all__ = ["MAKERS", "Target", "TargetRequest", "make_targets", "maker_for"]
