"""The Ray side of a batch: the session (embedded or joined), the worker plan, and the actor-pool stream.

``stream`` builds the dataset of work items and maps it with ``Dataset.map_batches`` over an actor pool
of ``worker.ShadeWorker`` (``ActorPoolStrategy``): each actor loads the weights once and shades one picture
per call; ``iter_batches`` hands the rows back as they are finished.  Ray restarts an actor that dies and
retries its work elsewhere (Ray Data's defaults for actor pools: ``max_restarts=-1``,
``max_task_retries=-1``); the rows of a failed attempt are never delivered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artshade.shading import models
from artshade.shading.errors import SettingsError

if TYPE_CHECKING:
    from .options import Options

#: Ray's shared-memory store: work items and rows are small, so a small store is plenty
OBJECT_STORE_BYTES = 256 * 2**20
#: at most this many Ray blocks (a block is the unit Ray retries; one picture each for smaller catalogues)
MAX_BLOCKS = 10_000


def plan_workers(
    cpus: float,
    node_cpus: float,
    gpus: float,
    workers: int | None,
    gpus_per_worker: float,
    items: int,
    threads: int | None = None,
) -> tuple[int, int]:
    """(workers, torch threads per worker) so that workers x threads fits the cores.

    Without GPUs the default is one single-thread worker per core (the bench shows it scales best); with
    --gpus-per-worker F, as many workers as the GPUs hold.  Never more workers than cores (an actor pool
    waits for all its workers) nor than pictures; each worker gets an equal share of the cores, at least one
    thread and at most one node's cores.  ``threads`` (--threads) sets the share instead."""
    cores = max(1, int(cpus))
    if workers is None:
        workers = cores if gpus_per_worker <= 0 else max(1, int(gpus / gpus_per_worker))
    if workers < 1:
        raise SettingsError(f"--workers must be at least 1, got {workers}")
    if gpus_per_worker > 0 and workers * gpus_per_worker > gpus + 1e-9:
        raise SettingsError(
            f"{workers} workers x {gpus_per_worker:g} GPU need {workers * gpus_per_worker:g} GPUs; "
            f"Ray has {gpus:g}"
        )
    workers = min(workers, cores, max(1, items))
    if threads is None:
        threads = max(1, min(int(node_cpus) or 1, cores // workers))
    elif threads < 1 or workers * threads > cores:
        raise SettingsError(f"{workers} workers x {threads} threads do not fit in {cores} cores")
    return workers, threads


class session:
    """Use the Ray already running in this process, else start an embedded one or join ``opts.address``;
    shut down only what was started here.  Yields (cluster CPUs, the largest node's CPUs, cluster GPUs)."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.started = False

    def __enter__(self) -> tuple[float, float, float]:
        import ray

        if not ray.is_initialized():
            level = logging.INFO if logging.getLogger().isEnabledFor(logging.INFO) else logging.ERROR
            to_driver = level <= logging.INFO
            if self.opts.address:
                ray.init(address=self.opts.address, include_dashboard=False, log_to_driver=to_driver,
                         logging_level=level)  # fmt: skip
            else:
                cpus = self.opts.num_cpus or os.cpu_count() or 1
                ray.init(num_cpus=cpus, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                         log_to_driver=to_driver, logging_level=level)  # fmt: skip
            self.started = True
        quiet_ray_data()
        total = float(ray.cluster_resources().get("CPU", 1))
        nodes = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        gpus = float(ray.cluster_resources().get("GPU", 0))
        return total, float(max(nodes, default=total)), gpus

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import ray

            ray.shutdown()


def quiet_ray_data() -> None:
    """No Ray Data bars or per-operator logs in the artist's terminal; ours say what matters."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    for name in ("enable_operator_progress_bars", "print_on_execution_start"):
        if hasattr(ctx, name):
            setattr(ctx, name, False)
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("ray.data").setLevel(logging.ERROR)


def stream(
    opts: Options, work: list[dict[str, Any]], workers: int, threads: int, journals: Path | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of ``work`` as the workers finish them."""
    import ray.data

    from .worker import ShadeWorker, limits_to_dict

    blocks = min(len(work), MAX_BLOCKS)
    ds = ray.data.from_items(work, override_num_blocks=blocks)
    gpus = opts.gpus_per_worker if opts.gpus_per_worker > 0 else None
    config = {
        "settings": opts.settings.to_dict(),
        "models_dir": str(models.models_dir(opts.models_dir)),
        "limits": limits_to_dict(opts.limits),
        "threads": threads,
        "journals": str(journals) if journals is not None else None,
    }
    # An actor pool restarts a dead worker and retries its work (Ray Data's defaults for actor pools:
    # max_restarts=-1, max_task_retries=-1); tests/batch kill a worker to hold it to that.
    shaded = ds.map_batches(
        ShadeWorker,
        fn_constructor_kwargs=config,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=threads,
        num_gpus=gpus,
    )
    for batch in shaded.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield from batch.to_pylist()  # type: ignore[union-attr]  # a pyarrow.Table for "pyarrow"
