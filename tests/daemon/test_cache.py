"""The result cache: keyed by input and settings, bounded by size with least-recently-used eviction."""

from __future__ import annotations

from pathlib import Path

from artshade.daemon.jobs.cache import Result, ResultCache, cache_key
from artshade.shading.settings import Settings


def result(n: int) -> Result:
    return Result(
        data=bytes([n]) * 1000, format="png", media_type="image/png", width=8, height=8, report={"n": n}
    )


def test_key_depends_on_input_and_settings() -> None:
    a = cache_key(b"abc", Settings(preset="fast"))
    assert a == cache_key(b"abc", Settings(preset="fast"))
    assert a != cache_key(b"abd", Settings(preset="fast"))
    assert a != cache_key(b"abc", Settings(preset="fast", seed=1))


def test_key_depends_on_the_engine_version(monkeypatch) -> None:
    """An improved engine must not serve results an older one made for the same input and settings."""
    from artshade.shading import settings as settings_module

    before = cache_key(b"abc", Settings(preset="fast"))
    monkeypatch.setattr(settings_module, "ENGINE_VERSION", settings_module.ENGINE_VERSION + "-next")
    assert cache_key(b"abc", Settings(preset="fast")) != before


def test_put_get_survives_a_new_instance(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=10_000)
    cache.put("k1", result(1))
    again = ResultCache(tmp_path, max_bytes=10_000).get("k1")
    assert again == result(1)
    assert ResultCache(tmp_path, max_bytes=10_000).get("missing") is None


def test_least_recently_used_goes_first(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=3500)  # room for three entries of ~1.1 kB
    for n in (1, 2, 3):
        cache.put(f"k{n}", result(n))
    assert cache.get("k1") is not None  # k1 used again: k2 is now the oldest
    cache.put("k4", result(4))
    assert "k2" not in cache and not (tmp_path / "k2.bin").exists()
    assert all(k in cache for k in ("k1", "k3", "k4"))
    assert cache.size <= 3500


def test_too_large_results_are_not_cached(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=500)
    cache.put("big", result(1))
    assert "big" not in cache and not list(tmp_path.iterdir())


def test_the_key_is_the_settings_fingerprint_and_the_picture(monkeypatch) -> None:
    """One rule for "the same work" everywhere: the cache keys on ``Settings.fingerprint()`` (with the
    engine version), not on a spelling of its own."""
    data = b"the same picture"
    assert cache_key(data, Settings()) != cache_key(data, Settings(preset="fast"))
    assert cache_key(data, Settings()) != cache_key(b"another picture", Settings())
    monkeypatch.setattr(Settings, "fingerprint", lambda self: "one fingerprint")
    assert cache_key(data, Settings()) == cache_key(data, Settings(preset="fast"))
