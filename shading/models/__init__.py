"""Which models exist, where they are on disk, how to install them, and a cache of loaded ones.

One module per job; import them from here (``from artshade.shading import models``):

* ``catalog``: the models artshade knows, the encoders each preset uses, the models each mode needs;
* ``folder``: the models folder (``--models DIR`` > ``$ARTSHADE_MODELS`` > the user cache), each model's
  files in it, which models are installed (``locate``, ``require``, ``status``);
* ``install``: ``artshade models add`` / ``models fetch --from DIR``, copied and checked before any is
  put in place;
* ``hub``: ``artshade models fetch``, the one place that goes online (nothing is downloaded implicitly);
* ``load``: an encoder by name, loaded once per process, and the encoders a preset attacks here.
"""

from .catalog import CATALOGUE, MODES_NEED, PRESET_ENCODERS, ModelSpec, Preset, spec_of
from .folder import (
    chosen_by,
    expected_files,
    locate,
    missing_message,
    models_dir,
    require,
    status,
    weight_files,
)
from .hub import HUB_ETAG_TIMEOUT_S, HUB_PROBE_S, fetch, hub_endpoint, probe
from .install import Added, add
from .load import clear_cache, load_encoder, preset_encoders

__all__ = [
    "CATALOGUE", "HUB_ETAG_TIMEOUT_S", "HUB_PROBE_S", "MODES_NEED", "PRESET_ENCODERS", "Added", "ModelSpec",
    "Preset", "add", "chosen_by", "clear_cache", "expected_files", "fetch", "hub_endpoint", "load_encoder",
    "locate", "missing_message", "models_dir", "preset_encoders", "probe", "require", "spec_of", "status",
    "weight_files",
]  # fmt: skip
