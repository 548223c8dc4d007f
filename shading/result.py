"""What the engine hands back: ``ProtectResult`` (``protect``) and ``BytesResult`` (``protect_bytes``).

Plain records, importable without torch (the daemon's result cache and the watch folder name them without
loading the engine); the pictures made from a result (the preview, the close-ups) load their code on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class ProtectResult:
    image: Image.Image
    report: dict[str, Any]
    #: internals kept for the preview (working-size original, perturbation, targets, ensemble)
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    def preview(self) -> Image.Image:
        from .preview import make_preview

        return make_preview(self.image, self.report, self.extras)

    def compare(self) -> Image.Image:
        """1:1 crops of the flattest and the busiest part, original beside protected (made on demand)."""
        if "compare" not in self.extras:
            from .visibility import compare_crops

            self.extras["compare"] = compare_crops(self.extras["original"], self.image.convert("RGB"))
        return self.extras["compare"]


@dataclass
class BytesResult:
    data: bytes
    format: str
    media_type: str
    width: int
    height: int
    report: dict[str, Any]
