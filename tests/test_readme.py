"""The README's first command runs as written in a fresh clone: the picture it names is in the checkout,
is the one bench/example_picture.py paints, and the licence and changelog it leans on are there."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from artshade.shading.settings import ENGINE_VERSION
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _main_command() -> list[str]:
    block = re.search(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README has no bash block"
    steps = [shlex.split(part) for part in block.group(1).split("&&")]
    protect = [s for s in steps if s[:2] == ["artshade", "protect"]]
    assert protect, f"the README's first command does not protect a picture: {block.group(1)}"
    return protect[0]


def test_the_readme_first_command_names_a_picture_the_checkout_has() -> None:
    picture = ROOT / _main_command()[2]
    assert picture.is_file(), f"{picture.relative_to(ROOT)} is not in the checkout"
    with Image.open(picture) as img:
        assert img.format == "JPEG" and min(img.size) >= 512


def test_the_example_picture_is_the_one_the_project_paints(tmp_path: Path) -> None:
    out = tmp_path / "example.jpg"
    subprocess.run([sys.executable, str(ROOT / "bench" / "example_picture.py"), str(out)], check=True)
    committed = np.asarray(Image.open(ROOT / _main_command()[2]).convert("RGB"), dtype=np.float64)
    painted = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
    assert committed.shape == painted.shape
    assert np.abs(committed - painted).mean() < 1.0


def test_licence_and_changelog() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = { text = "MIT" }' in pyproject
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## Engine {ENGINE_VERSION}" in changelog, "the changelog says nothing of the current engine"
