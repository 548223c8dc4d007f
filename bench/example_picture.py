"""Paint the example picture that the README's first command shades, so a fresh clone has one to try:

    python3 bench/example_picture.py [OUT]      (default: docs/images/example-painting.jpg)

It is ``crops.painted_scene`` (a graded sky, a skin-toned oval lit from one side, grass with grain: the flat
areas where a change shows first) at 768x960, saved as JPEG quality 92.  The project paints it itself, so
it is ours to ship, unlike the eval pictures.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crops import painted_scene  # noqa: E402

SIZE = (768, 960)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "example-painting.jpg"


def example_picture() -> Image.Image:
    return painted_scene(*SIZE)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    example_picture().save(out, quality=92)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
