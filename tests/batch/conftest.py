"""One real local Ray for the whole session of batch tests (helpers: ``batch_helpers``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # batch_helpers, for the test modules


@pytest.fixture(scope="session")
def ray_session(unavailable: Callable[[str], NoReturn]) -> Iterator[None]:
    """One embedded Ray with 2 CPUs for every batch test (starting Ray takes seconds on 2 shared cores);
    ``artshade batch`` finds it running and uses it, as it would use any Ray already started in-process."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        unavailable("needs Ray Data, the batch extra: pip install -e '.[test]' brings it")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 2**20, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
