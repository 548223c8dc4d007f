"""Subcommands of this part (filled in by its issue)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this part's subcommands to the ``artshade`` parser."""
