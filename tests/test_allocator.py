"""glibc's allocator keeps the engine's freed buffers for the next pass, and gives them back after a job."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from artshade.daemon.jobs.engine_thread import EngineThread

from artshade import allocator, cli

# A 96 MB block (over glibc's largest mmap threshold), touched, freed and asked for again, in a new thread
# as the daemon's engine thread would: the minor page faults of the second round tell whether the memory
# was kept (a few) or mapped afresh and zero-filled by the kernel (one per 4 KiB page: ~24,600).
SECOND_ROUND_FAULTS = textwrap.dedent(
    """
    import ctypes, resource, sys, threading
    from artshade import allocator
    kept = allocator.keep_freed_memory({}) if sys.argv[1] == "keep" else False
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    size = 96 << 20
    faults = []

    def rounds():
        for _ in range(2):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            block = libc.malloc(size)
            ctypes.memset(block, 1, size)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
            libc.free(ctypes.c_void_p(block))

    thread = threading.Thread(target=rounds)
    thread.start()
    thread.join()
    print(kept, faults[1])
    """
)

# The same block kept after it is freed, then given back: the resident size before and after, in MiB.
RESIDENT_AFTER_GIVE_BACK = textwrap.dedent(
    """
    import ctypes
    from artshade import allocator

    def resident():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20

    assert allocator.keep_freed_memory({})
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    block = libc.malloc(256 << 20)
    ctypes.memset(block, 1, 256 << 20)
    libc.free(ctypes.c_void_p(block))
    kept = resident()
    allocator.give_back()
    print(kept, resident())
    """
)

GLIBC = allocator._glibc() is not None


def run(script: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    ("environ", "verdict"),
    [
        ({}, None),
        ({"PATH": "/usr/bin", "HOME": "/home/artist"}, None),
        ({"MALLOC_ARENA_MAX": "2"}, "MALLOC_ARENA_MAX"),
        ({"MALLOC_MMAP_THRESHOLD_": "1000000"}, "MALLOC_MMAP_THRESHOLD_"),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, "GLIBC_TUNABLES"),
        ({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, "LD_PRELOAD"),
        ({"LD_PRELOAD": "/usr/lib/libtcmalloc_minimal.so.4"}, "LD_PRELOAD"),
        ({"LD_PRELOAD": "/usr/lib/libasan.so"}, None),
    ],
)
def test_the_users_own_allocator_settings_win(environ: dict[str, str], verdict: str | None) -> None:
    assert allocator.users_own_choice(environ) == verdict
    if verdict is not None:
        assert allocator.keep_freed_memory(environ) is False


def test_freed_blocks_are_kept_for_the_next_pass_even_in_another_thread() -> None:
    kept, faults = run(SECOND_ROUND_FAULTS, "keep")
    plain_kept, plain_faults = run(SECOND_ROUND_FAULTS, "plain")
    if not GLIBC:  # macOS, Windows, musl: nothing to set, and nothing is claimed
        assert kept == "False"
        return
    assert (kept, plain_kept) == ("True", "False")
    assert int(plain_faults) > 20_000  # the block mapped afresh: one fault per page
    assert int(faults) < 1_000


def test_give_back_returns_the_kept_memory_to_the_system() -> None:
    if not GLIBC:
        allocator.give_back()  # a no-op there, and no error
        return
    kept, after = map(int, run(RESIDENT_AFTER_GIVE_BACK))
    assert kept - after > 200, (kept, after)


def test_the_daemons_engine_thread_gives_memory_back_after_every_call(monkeypatch) -> None:
    import asyncio

    calls: list[str] = []
    monkeypatch.setattr("artshade.daemon.jobs.engine_thread.give_back", lambda: calls.append("give back"))

    def fails() -> None:
        calls.append("call")
        raise ValueError("bad picture")

    async def main() -> None:
        thread = EngineThread()
        thread.start()
        try:
            assert await thread.run(lambda: calls.append("call") or 7) == 7
            with pytest.raises(ValueError, match="bad picture"):
                await thread.run(fails)
        finally:
            assert thread.stop(timeout=5)

    asyncio.run(main())
    assert calls == ["call", "give back", "call", "give back"]


def test_the_command_sets_the_allocator_before_anything_else(monkeypatch, capsys) -> None:
    calls: list[str] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append("keep") or True)
    monkeypatch.setattr(cli, "build_parser", lambda: calls.append("parser") or cli.argparse.ArgumentParser())
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert calls == ["keep", "parser"]
