"""Built-in targets: none prints geometry into the image, removed names are refused with the valid ones,
and ``auto`` picks the candidate with the largest predicted pull."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from artshade.shading.errors import SettingsError
from artshade.shading.settings import Settings
from artshade.shading.targets.base import TargetRequest
from artshade.shading.targets.builtin import AUTO_CANDIDATES, BUILTIN_TARGETS, builtin_target, choose
from artshade.shading.tensors import to_tensor
from artshade.shading.visibility import PEAK_LIMIT, peak_ratio_map
from PIL import Image
from scipy import ndimage


@pytest.fixture(scope="module")
def artwork() -> Image.Image:
    """A 'painting' of soft colour masses with curved edges and a little grain, 320 x 240."""
    rng = np.random.default_rng(5)
    masses = Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize(
        (320, 240), Image.BICUBIC
    )
    arr = np.asarray(masses, np.float64) + rng.normal(0, 2, (240, 320, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name", BUILTIN_TARGETS)
def test_no_target_has_a_periodic_structure(artwork: Image.Image, name: str) -> None:
    """What a target adds to the artwork must not be regular: a grid in the target prints a grid."""
    target = np.asarray(builtin_target(name, artwork, seed=0).convert("L"), np.float64)
    change = target - np.asarray(artwork.convert("L"), np.float64)
    # judge the structure, not the slow shading (a ramp's spectrum is one line), over a faint noise floor
    # such as every real image has
    detail = change - ndimage.gaussian_filter(change, 4) + np.random.default_rng(0).normal(0, 1, change.shape)
    assert peak_ratio_map(detail).max() <= PEAK_LIMIT, name


def test_the_test_sees_a_grid(artwork: Image.Image) -> None:
    grid = np.asarray(artwork.convert("L"), np.float64).copy()
    grid[::12, :] += 20
    grid[:, ::12] += 20
    change = grid - np.asarray(artwork.convert("L"), np.float64)
    detail = change - ndimage.gaussian_filter(change, 4) + np.random.default_rng(0).normal(0, 1, change.shape)
    assert peak_ratio_map(detail).max() > 10 * PEAK_LIMIT


@pytest.mark.parametrize("gone", ["mosaic", "stripes", "checker", "rings"])
def test_geometric_targets_are_refused_with_the_valid_names(artwork: Image.Image, gone: str) -> None:
    with pytest.raises(SettingsError, match="choose auto or one of poster, texture, sketch, blobs"):
        builtin_target(gone, artwork, seed=0)


def test_settings_know_the_same_target_names_as_the_engine() -> None:
    # Settings (torch-free, checked at the daemon's door) and the engine must agree on the names.
    from artshade.shading.settings import TARGETS, Settings

    assert ("auto", *BUILTIN_TARGETS) == TARGETS
    with pytest.raises(SettingsError, match="target must be one of auto, poster"):
        Settings(target="mosaic")
    with pytest.raises(SettingsError, match=r"got '0{36}\.\.\.$"):
        Settings.from_mapping({"target": "0" * 65})


def test_targets_are_deterministic_per_seed(artwork: Image.Image) -> None:
    for name in BUILTIN_TARGETS:
        a, b = builtin_target(name, artwork, 1), builtin_target(name, artwork, 1)
        assert np.array_equal(np.asarray(a), np.asarray(b)), name
    assert not np.array_equal(np.asarray(builtin_target("texture", artwork, 1)),
                              np.asarray(builtin_target("texture", artwork, 2)))  # fmt: skip


@pytest.mark.parametrize("size", [(320, 240), (1024, 1280)])
def test_the_poster_is_pillows_median_filter_posterized(artwork: Image.Image, size: tuple[int, int]) -> None:
    """The poster's median comes from OpenCV for speed; Pillow's ``MedianFilter`` is the reference it must
    match pixel for pixel, borders included (a 3x3 median at 320 x 240, 9x9 at an upload's working size)."""
    from PIL import ImageFilter, ImageOps

    picture = artwork.resize(size, Image.BICUBIC)
    radius = max(1, round(min(size) / 256))
    reference = ImageOps.posterize(picture.filter(ImageFilter.MedianFilter(2 * radius + 1)), 2)
    assert np.array_equal(np.asarray(builtin_target("poster", picture, 0)), np.asarray(reference))


class Colour(torch.nn.Module):
    """A stand-in encoder that sees colour only (8x8 means): a flat-colour target is the easy one."""

    name = "colour"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 8)


def test_auto_picks_the_largest_first_order_pull(artwork: Image.Image, tmp_path) -> None:
    cpu = torch.device("cpu")
    request = TargetRequest(
        image=artwork, settings=Settings(), models_dir=tmp_path, device=cpu, encoders=[Colour()]
    )
    chosen = choose(request, AUTO_CANDIDATES)
    scores = chosen.info["scores"]
    assert set(scores) == set(AUTO_CANDIDATES) and chosen.info["name"] == max(scores, key=scores.get)
    assert to_tensor(chosen.image).shape[-2:] == (240, 320)


class Recorder(Colour):
    """The colour encoder, noting whether each pass ran under autocast and at which dtype."""

    def __init__(self) -> None:
        self.seen: list[torch.dtype | None] = []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return super().encode(x)


@pytest.mark.parametrize("precision", [None, torch.bfloat16])
def test_auto_judges_in_the_optimisers_precision(artwork: Image.Image, tmp_path, monkeypatch, precision):
    monkeypatch.setattr("artshade.shading.targets.builtin.autocast_dtype", lambda device: precision)
    recorder = Recorder()
    request = TargetRequest(
        image=artwork,
        settings=Settings(),
        models_dir=tmp_path,
        device=torch.device("cpu"),
        encoders=[recorder],
    )
    chosen = choose(request, AUTO_CANDIDATES)
    assert recorder.seen == [precision] * (1 + 2 * len(AUTO_CANDIDATES))  # the artwork, then two a candidate
    assert all(np.isfinite(v) and v > 0 for v in chosen.info["scores"].values())
