"""The Ray actor that shades pictures: weights loaded once, then one picture at a time.

Each picture goes through ``shading.api.protect_bytes`` -- the same entry point, with the same reading
(``io.read_input`` limits, then ``io.load_image``) as ``artshade protect`` -- so for the same settings and
seed a batch writes the same bytes.  Its output is written atomically, never over the source.  Whatever
goes wrong with one picture becomes its ``failed`` row with one line of reason; the worker itself goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from artshade.allocator import keep_freed_memory
from artshade.errors import ShadingError
from artshade.shading import io
from artshade.shading.errors import OutputError
from artshade.shading.settings import ENGINE_VERSION, Settings

from . import sources

log = logging.getLogger(__name__)

#: the fields of one work item (the columns of the Ray dataset the driver builds)
ITEM_FIELDS = ("source", "output", "prior_sha256", "prior_fingerprint")


def limits_to_dict(limits: io.Limits) -> dict[str, Any]:
    return {"max_pixels": limits.max_pixels, "max_bytes": limits.max_bytes, "min_side": limits.min_side}


class ShadeWorker:
    """A callable class for ``Dataset.map_batches``: Ray makes one per worker of the actor pool."""

    def __init__(
        self,
        settings: dict[str, Any],
        models_dir: str | None,
        limits: dict[str, Any],
        threads: int,
        journals: str | None = None,
    ) -> None:
        import torch

        keep_freed_memory()  # the Ray worker is a process of its own: set it as ``artshade`` sets its own
        torch.set_num_threads(max(1, threads))
        self.settings = Settings.from_mapping(settings)
        self.fingerprint = self.settings.fingerprint()
        self.models_dir = models_dir
        self.limits = io.Limits(**limits)
        self.journal_dir = Path(journals) if journals else None
        self._journal: Any = None
        self._warm()

    def _warm(self) -> None:
        """Load the preset's encoders into this process's model cache once (``models.load_encoder``)."""
        from artshade.shading import device, models

        try:
            dev = device.pick(self.settings.device)
            folder = models.models_dir(self.models_dir)
            names = list(self.settings.encoders) or models.preset_encoders(self.settings.preset, dev, folder)
            for i, name in enumerate(names):
                models.load_encoder(name, folder=folder, device=dev, with_decoder=(i == 0))
        except ShadingError as exc:  # each picture then fails with the same one line
            log.warning("could not load the weights: %s", exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        n = len(batch["source"])
        rows = [self.shade_one({k: _plain(batch[k][i]) for k in ITEM_FIELDS}) for i in range(n)]
        return {key: [r[key] for r in rows] for key in rows[0]} if rows else {}

    def shade_one(self, item: dict[str, Any]) -> dict[str, Any]:
        t0, cpu0 = time.perf_counter(), time.process_time()
        source, output = str(item["source"]), Path(str(item["output"]))
        out: dict[str, Any] = {
            "source": source,
            "output": str(output),
            "status": "failed",
            "error": None,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
            "engine": ENGINE_VERSION,
            "colour_ssim": None,
            "pull": None,
            "platform": self.settings.platform,
            "source_sha256": None,
            "fingerprint": self.fingerprint,
        }
        try:
            data = sources.read_bytes(source, self.limits)
            sha = hashlib.sha256(data).hexdigest()
            out["source_sha256"] = sha
            if (
                item.get("prior_sha256") == sha
                and item.get("prior_fingerprint") == self.fingerprint
                and output.is_file()
            ):
                out["status"] = "skipped"
            else:
                out.update(self._shade(data, source, output))
                out["status"] = "shaded"
        except ShadingError as exc:
            out["error"] = str(exc)
        except MemoryError:
            out["error"] = "out of memory while shading this picture (try fewer --workers)"
        except Exception as exc:  # one bad picture never stops the run
            log.exception("unexpected failure on %s", source)
            out["error"] = sources.one_line(exc if str(exc) else RuntimeError(type(exc).__name__))
            out["error"] = f"unexpected {type(exc).__name__}: {out['error']}"
        out["seconds"] = round(time.perf_counter() - t0, 3)
        out["cpu_seconds"] = round(time.process_time() - cpu0, 3)
        if out["status"] == "shaded":
            self._remember(out)
        return out

    def _remember(self, row: dict[str, Any]) -> None:
        """Append the row to this worker's own journal (``manifest.WORKER_JOURNALS``) before handing it on."""
        if self.journal_dir is None:
            return
        try:
            if self._journal is None:
                self.journal_dir.mkdir(parents=True, exist_ok=True)
                name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
                self._journal = (self.journal_dir / name).open("a", encoding="utf-8")
            self._journal.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._journal.flush()
            os.fsync(self._journal.fileno())
        except OSError as exc:  # the driver still gets the row; only a crash right now would lose it
            log.warning("could not write the worker journal: %s", exc)

    def _shade(self, data: bytes, source: str, output: Path) -> dict[str, Any]:
        from artshade.shading.api import protect_bytes

        # the manifest holds colour SSIM and the pull after the platform: the brief measure, not every
        # profile, the transfer proxy and the clean-ups (which cost more than a fast shading)
        result = protect_bytes(
            data, self.settings, models_dir=self.models_dir, limits=self.limits, measure="brief"
        )
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot make the folder {output.parent}: {exc.strerror or exc}") from None
        io.write_atomic(output, result.data, forbid=[] if sources.is_uri(source) else [source])
        report = result.report
        pulls: dict[str, dict[str, dict[str, float]]] = report.get("pull", {})
        first = next(iter(pulls.values()), {})
        at = first.get(self.settings.platform, first.get("none", {}))
        return {
            "colour_ssim": _float(report.get("quality", {}).get("ssim")),
            "pull": _float(at.get("pull")),
            "engine": str(report.get("engine", ENGINE_VERSION)),
        }


def _float(value: object) -> float | None:
    try:
        return None if value is None else round(float(value), 5)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """A numpy scalar or object from a Ray batch as a plain Python value (``""`` for missing)."""
    if value is None:
        return ""
    return value.item() if hasattr(value, "item") else value
