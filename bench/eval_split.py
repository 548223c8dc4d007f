"""Which eval images the project trains on and which it only ever measures on.

The benchmark (``bench_engine.py``) reports on ``HELD_OUT`` only; the trainers (``train_start.py``) never
see those.  Paths are relative to the eval-images folder."""

from __future__ import annotations

#: measured by the benchmark, never trained on: flat skies and water, skin, fine brushwork, a photo
HELD_OUT = (
    "artworks/hokusai_great_wave.jpg",
    "artworks/monet_san_giorgio_maggiore_at_dusk.jpg",
    "photos/astronaut_eileen_collins.png",
    "photos/dog_beagle_pexels.jpg",
    "artworks/vangogh_starry_night.jpg",
    "photos/kodim21_lighthouse.png",
    "photos/portrait_face_pexels.png",
    "artworks/monet_water_lilies_1919.jpg",
)
