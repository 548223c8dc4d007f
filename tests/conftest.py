"""Fixtures every part's tests share.

The real weights and evaluation images live in ``../shared`` beside the checkout (never copied into the
project).  ``ARTSHADE_SHARED`` points elsewhere if needed.  Every test runs with ``ARTSHADE_HOME`` in a
temporary folder so nothing touches the real user's config, cache or keyring.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One intra-op thread: tests share two cores with the daemon, Chromium and each other; oversubscribed
# OpenMP threads make small convolutions ~10x slower, and one thread keeps results bit-reproducible.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARTSHADE_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared material not found at {SHARED}; set ARTSHADE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path) -> Path:
    """Folder with the real tiny-autoencoder weights (taef2_encoder.pth, taef2_decoder.pth)."""
    return shared_dir / "models"


@pytest.fixture(scope="session")
def eval_images(shared_dir: Path) -> Path:
    return shared_dir / "eval-images"


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> Path:
    """Keep every test away from the real user's folders; point model lookup at the shared weights."""
    home = tmp_path_factory.mktemp("artshade-home")
    monkeypatch.setenv("ARTSHADE_HOME", str(home))
    monkeypatch.setenv("ARTSHADE_MODELS", str(models_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home
