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

#: the unrelated targets the benchmark pulls the held-out pictures toward (picture i -> target i): none of
#: them is held out, and none was used while tuning the engine
BENCH_TARGETS = (
    "photos/cow_pixabay.jpg",
    "photos/coffee_cup.png",
    "artworks/kandinsky_composition_vii.jpg",
    "artworks/munch_the_scream.jpg",
    "photos/car_sportscar_pixabay.jpg",
    "photos/chairs_terrace_pixabay.jpg",
    "photos/kodim05_motorbikes.png",
    "photos/rocket_falcon9.jpg",
)

#: what engine 3's settings were tuned on (picture, target): neither side appears above
TUNING = (
    ("artworks/turner_shipwreck.jpg", "photos/paris_eiffel_pexels.jpg"),
    ("photos/elephant_pexels.png", "artworks/picabia_udnie.jpg"),
    ("photos/kodim13_mountain_stream.png", "photos/teddybear_child_pexels.jpg"),
    ("photos/landscape_beach_city_pexels.jpg", "artworks/matisse_woman_with_a_hat.jpg"),
)
