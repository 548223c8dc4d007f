"""Fixtures every part's tests share.

Nothing here depends on where the checkout sits.  Two things come from outside the project, and each is
found one documented way; a test that needs one and cannot find it is skipped with the reason (under
``ARTSHADE_TESTS_STRICT=1``, as ``.ci/run`` sets it, it fails instead, so CI never loses a test silently):

* real model weights (``models_dir``): looked up exactly as the CLI does without ``--models``, that is
  ``$ARTSHADE_MODELS``, else the user cache (``artshade models list`` names it; ``artshade models add DIR``
  fills it).  The session copies them with that same ``models.add`` (checksums checked) into a temporary
  folder, so no test can spoil the artist's own copy;
* real photos and paintings (``eval_images``): the folder ``$ARTSHADE_EVAL_IMAGES`` (``photos/`` and
  ``artworks/``).  Most tests make their own pictures instead.

Tests that need neither never look for them.  Every test runs with ``ARTSHADE_HOME`` in a temporary folder
(so nothing touches the real user's config, cache or keyring) and with the model hub switched off; its
``ARTSHADE_MODELS`` is the session's copy of the weights when the test uses them, and unset otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
import torch
from artshade.shading import models

sys.path.insert(0, str(Path(__file__).resolve().parent))  # serve_processes, for native and extension tests

# One intra-op thread: tests share two cores with the daemon, Chromium and each other; oversubscribed
# OpenMP threads make small convolutions ~10x slower, and one thread keeps results bit-reproducible.
torch.set_num_threads(1)

STRICT = os.environ.get("ARTSHADE_TESTS_STRICT") == "1"
# Read once, at collection, before any fixture changes the environment: where the CLI would look.
WEIGHTS_SOURCE = models.models_dir()
WEIGHTS_SOURCE_IS = models.chosen_by(WEIGHTS_SOURCE)
EVAL_IMAGES = os.environ.get("ARTSHADE_EVAL_IMAGES")


#: a browser test's time limit (pyproject's ``timeout`` is the rest's): its waits give up well before this
BROWSER_TEST_TIMEOUT_S = 360


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S))


def unavailable(reason: str) -> NoReturn:
    """Something a test needs is not on this machine: skip with ``reason`` (fail when strict, as in CI)."""
    if STRICT:
        pytest.fail(f"{reason} (ARTSHADE_TESTS_STRICT=1 expects everything to be provided)")
    pytest.skip(reason)


@pytest.fixture(name="unavailable", scope="session")
def unavailable_fixture() -> Callable[[str], NoReturn]:
    """``unavailable(reason)`` for other conftests (test modules cannot import this one)."""
    return unavailable


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the real TAEF2 weights (taef2_encoder.pth + taef2_decoder.pth, or taef2.safetensors)."""
    if models.locate("taef2", WEIGHTS_SOURCE) is None:
        unavailable(
            f"needs the real TAEF2 weights, not found in {WEIGHTS_SOURCE} ({WEIGHTS_SOURCE_IS}): put them "
            "there with `artshade models add DIR` or point ARTSHADE_MODELS at a folder that has them"
        )
    folder = tmp_path_factory.mktemp("models")
    models.add([WEIGHTS_SOURCE], folder, only=["taef2"])
    return folder


@pytest.fixture(scope="session")
def eval_images() -> Path:
    """Real photos (``photos/``) and public-domain paintings (``artworks/``) from $ARTSHADE_EVAL_IMAGES."""
    if not EVAL_IMAGES:
        unavailable("needs real photos: set ARTSHADE_EVAL_IMAGES to a folder with photos/ and artworks/")
    folder = Path(EVAL_IMAGES).expanduser()
    if not (folder / "photos").is_dir() or not (folder / "artworks").is_dir():
        unavailable(f"ARTSHADE_EVAL_IMAGES={folder} has no photos/ and artworks/ folders")
    return folder


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """Keep every test away from the real user's folders and from the network."""
    weights = request.getfixturevalue("models_dir") if "models_dir" in request.fixturenames else None
    home = tmp_path_factory.mktemp("artshade-home")
    monkeypatch.setenv("ARTSHADE_HOME", str(home))
    for kind in ("CONFIG", "DATA", "CACHE", "LOG", "PICTURES"):
        monkeypatch.delenv(f"ARTSHADE_{kind}_DIR", raising=False)
    if weights is not None:
        monkeypatch.setenv("ARTSHADE_MODELS", str(weights))
    else:
        monkeypatch.delenv("ARTSHADE_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home
