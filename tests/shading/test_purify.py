"""The clean-ups the report measures robustness against behave as an attacker's tools do."""

from __future__ import annotations

import numpy as np
from artshade.shading import purify
from PIL import Image


def _picture() -> Image.Image:
    rng = np.random.default_rng(0)
    arr = np.zeros((64, 96, 3), np.float64)
    arr[:, 48:] = 200  # a hard edge
    arr += rng.normal(0, 6, arr.shape)  # fine noise everywhere
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def test_bilateral_matches_opencv_and_keeps_edges() -> None:
    import cv2

    img = _picture()
    ours = np.asarray(purify.bilateral(img, passes=3), np.int16)
    ref = np.asarray(img)
    for _ in range(3):
        ref = cv2.bilateralFilter(ref, 5, 8, 8)
    assert np.abs(ours - ref.astype(np.int16)).max() <= 1
    assert ours[:, :40].std() < np.asarray(img, np.int16)[:, :40].std(), "smooths fine noise"
    assert abs(float(ours[:, 52:].mean()) - float(ours[:, :44].mean())) > 150, "keeps the edge"


def test_every_purifier_is_deterministic_and_keeps_the_size() -> None:
    img = _picture()
    for name, clean in purify.PURIFIERS.items():
        a, b = clean(img), clean(img)
        assert a.size == img.size and a.mode == "RGB", name
        assert np.array_equal(np.asarray(a), np.asarray(b)), name
        assert not np.array_equal(np.asarray(a), np.asarray(img)), f"{name} changes the image"
