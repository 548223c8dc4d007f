"""Several encoders with weights, so one perturbation works across latent spaces."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .base import ImageEncoder


@dataclass(frozen=True)
class Member:
    encoder: ImageEncoder
    weight: float = 1.0


class Ensemble:
    """An ordered, weighted list of encoders.  The optimiser sums each member's normalised pull loss."""

    def __init__(self, members: Sequence[Member]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one encoder")
        total = sum(m.weight for m in members)
        self.members = [Member(m.encoder, m.weight / total) for m in members]

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    @property
    def names(self) -> list[str]:
        return [m.encoder.name for m in self.members]

    @property
    def input_multiple(self) -> int:
        return max(m.encoder.input_multiple for m in self.members)

    def with_decoder(self) -> ImageEncoder | None:
        """The first member that can decode latents (for previews)."""
        for m in self.members:
            if getattr(m.encoder, "decoder", None) is not None or getattr(m.encoder, "keep_decoder", False):
                return m.encoder
        return None
