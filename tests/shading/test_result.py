"""The result types are plain records: naming them (the daemon's result cache, the watch folder) never loads
the engine's torch code."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["artshade.shading.result", "artshade.daemon.jobs.cache"])
def test_the_result_types_import_without_torch(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        "assert hasattr(sys.modules['artshade.shading.result'], 'BytesResult')\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{module} imports torch: {done.stdout.strip()[:200]}"


def test_the_daemon_cache_gives_back_the_engines_result_type() -> None:
    from artshade.daemon.jobs.cache import Result
    from artshade.shading.result import BytesResult

    assert Result is BytesResult
