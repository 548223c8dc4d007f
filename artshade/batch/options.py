"""What a batch run is asked to do: the source, the output folder, the settings and the Ray side's
choices (``artshade batch``'s flags, or a caller's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from artshade.shading import io
from artshade.shading.settings import Settings


@dataclass
class Options:
    src: str
    out: Path
    settings: Settings = field(default_factory=Settings)
    limits: io.Limits = field(default_factory=io.Limits)
    models_dir: Path | None = None
    #: actors in the pool (default: one per core, or per GPU share with --gpus-per-worker)
    workers: int | None = None
    gpus_per_worker: float = 0.0
    #: torch threads per worker (default: the cores shared out among the workers)
    threads: int | None = None
    #: None: start an embedded local Ray; else join this cluster (``auto``, ``ray://host:10001``)
    address: str | None = None
    #: cores for the embedded Ray (default: this machine's)
    num_cpus: int | None = None
    dry_run: bool = False
    #: pictures shaded by a dry run
    sample: int = 4
    quiet: bool = False
    stream: IO[str] | None = None
