"""Which models exist, where they are on disk, how to install them, and a cache of loaded ones.

Where models are looked for, first match wins: ``--models DIR`` (``models_dir=``) > ``$ARTSHADE_MODELS`` >
``<user cache>/models`` (platformdirs; the home of weights).  Diffusers models may also sit in the model
hub's own local cache (loaded with ``local_files_only``).  Two ways put weights into that folder:

* ``artshade models add PATH...`` (``add``; also ``models fetch NAME --from DIR``) copies them from a folder
  the artist has (a USB stick, a shared drive) and checks each file whose bytes are known (``sha256`` in
  the catalogue) against its checksum; a file with no pinned checksum must at least load;
* ``artshade models fetch NAME`` (``fetch``), the one place that goes online.  It first checks, within
  ``HUB_PROBE_S``, that the hub (or the proxy in front of it) answers at all, so an offline machine gets one
  line that says what to do instead of the hub client's retries.

Nothing is ever downloaded implicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artshade import paths
from artshade.files import fsync_folder, write_atomic

from .errors import ModelError

if TYPE_CHECKING:  # torch only where weights are loaded: `models add`, `fetch` and `list` start fast
    import torch

    from .encoders.base import ImageEncoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    #: tiny-ae | vae | pipeline-sd | pipeline-sdxl | clip
    kind: str
    hub_id: str
    description: str
    download_mb: int
    #: file(s) to fetch from the hub; empty means the whole repo (filtered by ``allow``)
    files: tuple[str, ...] = ()
    subfolder: str | None = None
    allow: tuple[str, ...] = ()
    #: (file name, full sha256) of weight files whose published bytes are known; ``add`` checks them
    sha256: tuple[tuple[str, str], ...] = ()

    def checksum(self, filename: str) -> str | None:
        return dict(self.sha256).get(filename)


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("taef2", "tiny-ae", "madebyollin/taef2", "tiny autoencoder, FLUX.2 latent space (32 ch)", 5,
                  files=("taef2.safetensors",),
                  # madebyollin/taesd @ 5cccb12dc72074a4be35680c3b108548a7c69978, the reference .pth pair
                  sha256=(("taef2_encoder.pth",
                           "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6"),
                          ("taef2_decoder.pth",
                           "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5"))),
        ModelSpec("taef1", "tiny-ae", "madebyollin/taef1", "tiny autoencoder, FLUX.1 latent space (16 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesd3", "tiny-ae", "madebyollin/taesd3", "tiny autoencoder, SD3 latent space (16 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesdxl", "tiny-ae", "madebyollin/taesdxl",
                  "tiny autoencoder, SDXL latent space (4 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("taesd", "tiny-ae", "madebyollin/taesd",
                  "tiny autoencoder, SD 1.x/2.x latent space (4 ch)", 5,
                  files=("diffusion_pytorch_model.safetensors",)),
        ModelSpec("sd-vae", "vae", "stabilityai/sd-vae-ft-mse", "SD 1.x/2.x VAE (AutoencoderKL)", 335,
                  allow=("config.json", "diffusion_pytorch_model.safetensors")),
        ModelSpec("sdxl-vae", "vae", "madebyollin/sdxl-vae-fp16-fix",
                  "SDXL VAE (AutoencoderKL, fp16-safe)", 335,
                  allow=("config.json", "diffusion_pytorch_model.safetensors")),
        ModelSpec("flux-vae", "vae", "black-forest-labs/FLUX.1-schnell", "FLUX.1 VAE (AutoencoderKL)", 335,
                  subfolder="vae", allow=("vae/config.json", "vae/diffusion_pytorch_model.safetensors")),
        ModelSpec("sd15", "pipeline-sd", "stable-diffusion-v1-5/stable-diffusion-v1-5",
                  "Stable Diffusion 1.5 (img2img style targets, txt2img anchors)", 2600,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder/*.fp16.safetensors", "tokenizer/*")),
        ModelSpec("sd21", "pipeline-sd", "stabilityai/stable-diffusion-2-1",
                  "Stable Diffusion 2.1", 2600,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder/*.fp16.safetensors", "tokenizer/*")),
        ModelSpec("sdxl", "pipeline-sdxl", "stabilityai/stable-diffusion-xl-base-1.0",
                  "Stable Diffusion XL base", 7000,
                  allow=("*.json", "*.txt", "unet/*.fp16.safetensors", "vae/*.fp16.safetensors",
                         "text_encoder*/*.fp16.safetensors", "tokenizer*/*")),
        ModelSpec("clip", "clip", "openai/clip-vit-base-patch32",
                  "CLIP ViT-B/32 (concept and style detection)", 600,
                  allow=("*.json", "*.txt", "model.safetensors")),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Preset:
    name: str
    #: encoders the optimiser always uses (must be installed)
    encoders: tuple[str, ...]
    #: encoders added when installed and a GPU is present (too slow on a CPU)
    gpu_extras: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    "fast": Preset("fast", ("taef2",)),
    "default": Preset("default", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae")),
    "max": Preset("max", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae", "flux-vae")),
}

MODES_NEED: dict[str, tuple[str, ...]] = {
    "cloak": ("sd15", "clip"),
    "poison": ("sd15", "clip"),
    "cloak+poison": ("sd15", "clip"),
}


#: seconds ``fetch`` waits for the model hub (or the proxy in front of it) to accept a connection
HUB_PROBE_S = 3.0
#: seconds the hub client waits for a file's metadata once the hub has answered
HUB_ETAG_TIMEOUT_S = 10.0


def models_dir(explicit: str | Path | None = None) -> Path:
    """The folder models are looked for in (see module docstring for the order)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ARTSHADE_MODELS")
    if env:
        return Path(env).expanduser()
    return paths.cache_dir() / "models"


def chosen_by(folder: Path) -> str:
    """How ``folder`` came to be the models folder, in words (for messages)."""
    env = os.environ.get("ARTSHADE_MODELS")
    if env and Path(env).expanduser() == folder:
        return "from ARTSHADE_MODELS"
    if folder == paths.cache_dir() / "models":
        return "the user cache"
    return "from --models"


def expected_files(name: str) -> str:
    """What ``name`` looks like on disk, in words."""
    spec = _spec(name)
    if spec.kind == "tiny-ae":
        return f"{name}_encoder.pth + {name}_decoder.pth, or {name}.safetensors"
    return f"a folder {name}/ with {_marker(spec)}"


def missing_message(names: Collection[str], folder: Path, reason: str, *, fetch_hint: bool = False) -> str:
    """One line: why, which files are missing, where they were looked for, and the ways to provide them."""
    what = "; ".join(expected_files(n) for n in names)
    line = (
        f"{reason}; missing {what} in {folder} ({chosen_by(folder)}). Provide them one of three ways: "
        "`artshade models add DIR` copies them from a folder you have and checks them, "
        "`--models DIR` or ARTSHADE_MODELS=DIR uses such a folder in place"
    )
    if fetch_hint:
        megabytes = sum(_spec(n).download_mb for n in names)
        line += f"; online, `artshade models fetch {' '.join(names)}` downloads them (about {megabytes} MB)"
    return line


def locate(name: str, folder: Path | None = None) -> Path | str | None:
    """Where ``name`` is installed: a folder/file path, a hub id present in the hub cache, or None."""
    spec = _spec(name)
    folder = folder or models_dir()
    if spec.kind == "tiny-ae":
        from .encoders.tiny import weight_files

        files = weight_files(folder, name)
        return files[0] if files else None
    local = folder / name
    if (local / "config.json").is_file() or (local / "model_index.json").is_file():
        return local
    if spec.subfolder and (local / spec.subfolder / "config.json").is_file():
        return local
    if _in_hub_cache(spec):
        return spec.hub_id
    return None


def require(name: str, folder: Path | None = None) -> Path | str:
    """Like ``locate`` but a missing model is a ModelError saying how to provide it."""
    folder = folder or models_dir()
    where = locate(name, folder)
    if where is None:
        spec = _spec(name)
        raise ModelError(
            missing_message(
                [name], folder, f"model {name!r} ({spec.description}) is not installed", fetch_hint=True
            )
        )
    return where


def status(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per catalogue model: installed or not, where, and which presets/modes use it."""
    folder = models_dir(folder)
    rows = []
    for spec in CATALOGUE.values():
        where = locate(spec.name, folder)
        used_by = [f"preset {p.name}" for p in PRESETS.values() if spec.name in p.encoders]
        used_by += [f"preset {p.name} (GPU)" for p in PRESETS.values() if spec.name in p.gpu_extras]
        used_by += [f"mode {m}" for m, names in MODES_NEED.items() if spec.name in names]
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "installed": where is not None,
                "location": str(where) if where is not None else None,
                "hub_id": spec.hub_id,
                "download_mb": spec.download_mb,
                "description": spec.description,
                "used_by": used_by,
            }
        )
    return rows


# ------------------------------------------------------------------------------------ adding from a folder


@dataclass(frozen=True)
class Added:
    """One model ``add`` put in place: its files in the models folder and how they were checked."""

    model: str
    files: tuple[Path, ...]
    #: "sha256" (every file matched its pinned checksum), "loads" (no pinned checksum; the weights load),
    #: "folder" (a diffusers/transformers folder, copied whole) or "already installed"
    checked: str


def add(
    sources: Iterable[str | Path], folder: Path | None = None, *, only: Collection[str] = ()
) -> list[Added]:
    """Copy the model files artshade knows from ``sources`` (files or folders) into ``folder``.

    Tiny-autoencoder weights (``NAME_encoder.pth`` + ``NAME_decoder.pth``, or ``NAME.safetensors``) and
    catalogue-named model folders (``sd-vae/``...) are taken; anything else is left alone.  ``only`` limits
    it to those models, each of which must be found.  Every file is copied and checked (pinned sha256, or
    else it must load) before any is put in place, each with an atomic rename: a file that fails its check
    leaves the models folder as it was.
    """
    from .encoders.tiny import weight_files

    dest = folder or models_dir()
    roots = [Path(s).expanduser() for s in sources]
    for root in roots:
        if not root.exists():
            raise ModelError(f"{root}: no such file or folder")
    found = _model_files(roots)
    if only:
        for name in only:
            _spec(name)
        missing = [n for n in only if n not in found]
        if missing:
            looked = ", ".join(str(r) for r in roots)
            raise ModelError(f"{', '.join(missing)} not found in {looked}: expected " +
                             "; ".join(expected_files(n) for n in missing))  # fmt: skip
        found = {n: found[n] for n in only}
    if not found:
        looked = ", ".join(str(r) for r in roots)
        raise ModelError(
            f"no model files artshade knows in {looked}: expected e.g. {expected_files('taef2')} "
            "(`artshade models list` shows every model)"
        )
    paths.ensure(dest)
    done: list[Added] = []
    with tempfile.TemporaryDirectory(dir=dest, prefix=".adding-") as tmp:
        staging = Path(tmp)
        staged = {name: _stage(name, files, staging, dest) for name, files in found.items()}
        for name, (moves, checked) in staged.items():
            for src, target in moves:
                if target.is_dir():  # a model folder being replaced: out of the way first, then gone
                    os.replace(target, staging / f"old-{target.name}")  # staged install: a move
                os.replace(src, target)  # staged install: a move of checked files, not a write
            fsync_folder(dest)
            if moves:
                done.append(Added(name, tuple(t for _, t in moves), checked))
            else:
                done.append(Added(name, tuple(weight_files(dest, name)), "already installed"))
    return done


def _model_files(roots: list[Path]) -> dict[str, list[Path]]:
    """Model name -> the source files (tiny AE) or the one source folder (other kinds) found in ``roots``."""
    from .encoders.tiny import weight_files

    found: dict[str, list[Path]] = {}
    tiny = [spec.name for spec in CATALOGUE.values() if spec.kind == "tiny-ae"]
    by_name = {f.name: n for n in tiny for f in _tiny_names(n)}
    for root in roots:
        if root.is_file():
            name = by_name.get(root.name)
            if name is None:
                raise ModelError(
                    f"{root.name} is not a model file artshade knows; expected e.g. {expected_files('taef2')}"
                )
            found.setdefault(name, []).append(root)
            continue
        for name in tiny:
            files = weight_files(root, name)
            if files and name not in found:
                found[name] = files
        for spec in CATALOGUE.values():
            if spec.kind == "tiny-ae":
                continue
            for candidate in (root / spec.name, root):
                if candidate.name == spec.name and (candidate / _marker(spec)).is_file():
                    found.setdefault(spec.name, [candidate])
    for name, files in found.items():
        if _spec(name).kind == "tiny-ae":  # one layout per model: the pair if given, else the single file
            pair = [f for f in files if f.suffix == ".pth"]
            found[name] = sorted(pair, key=lambda f: "_decoder" in f.name) if pair else files[:1]
    return found


def _tiny_names(name: str) -> list[Path]:
    return [Path(f"{name}_encoder.pth"), Path(f"{name}_decoder.pth"), Path(f"{name}.safetensors")]


def _stage(name: str, sources: list[Path], staging: Path, dest: Path) -> tuple[list[tuple[Path, Path]], str]:
    """Copy ``name``'s files into ``staging`` and check them; returns ([(staged, final)], how checked)."""
    spec = _spec(name)
    if spec.kind != "tiny-ae":
        staged = staging / name
        shutil.copytree(sources[0], staged, symlinks=False)
        return [(staged, dest / name)], "folder"
    here = staging / name
    here.mkdir()
    moves: list[tuple[Path, Path]] = []
    pinned_all = True
    for src in sources:
        # the hub's diffusers layout, NAME/diffusion_pytorch_model.safetensors, is kept as NAME.safetensors
        final = dest / (
            f"{name}.safetensors" if src.name == "diffusion_pytorch_model.safetensors" else src.name
        )
        digest = _sha256(src)
        expected = spec.checksum(final.name)
        if expected is not None and digest != expected:
            raise ModelError(
                f"{src} is not the published {final.name} (sha256 {digest[:16]}..., expected "
                f"{expected[:16]}...): it is damaged or a different file; nothing was installed"
            )
        pinned_all = pinned_all and expected is not None
        if final.is_file() and _sha256(final) == digest:
            continue  # already in place, byte for byte
        staged = here / final.name
        _copy_file(src, staged)
        if _sha256(staged) != digest:
            raise ModelError(f"copying {src} gave different bytes (a failing disk?); nothing was installed")
        moves.append((staged, final))
    if moves and not pinned_all:
        from .encoders.tiny import TinyAutoencoder

        TinyAutoencoder.from_folder(here, name)  # no checksum to compare with: they must at least load
    return moves, "sha256" if pinned_all else "loads"


def _marker(spec: ModelSpec) -> str:
    return "model_index.json" if spec.kind.startswith("pipeline") else "config.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy_file(src: Path, dest: Path) -> None:
    """Copy with the data on disk (fsync) before the caller renames it into place."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


# ------------------------------------------------------------------------------------------ the model hub


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def fetch(name: str, folder: Path | None = None, *, progress: bool = True) -> Path:
    """Download ``name`` from the model hub into the models folder.  The only code that goes online.

    Offline (no route, no name resolution, HF_HUB_OFFLINE) it fails within ``HUB_PROBE_S`` seconds with one
    line saying what is missing and how else to provide it."""
    spec = _spec(name)
    folder = folder or models_dir()
    endpoint = hub_endpoint()
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            raise ModelError(
                missing_message(
                    [name], folder, f"cannot download {name}: the model hub is switched off ({var})"
                )
            )
    problem = probe(endpoint, HUB_PROBE_S)
    if problem is not None:
        raise ModelError(missing_message([name], folder, f"cannot download {name}: {problem}"))
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

        (enable_progress_bars if progress else disable_progress_bars)()
        with _quiet_hub():
            if spec.kind == "tiny-ae":
                got = Path(hf_hub_download(spec.hub_id, spec.files[0], endpoint=endpoint,
                                           etag_timeout=HUB_ETAG_TIMEOUT_S))  # fmt: skip
                paths.ensure(folder)
                dest = folder / f"{name}.safetensors"
                write_atomic(dest, got.read_bytes())
                return dest
            dest = folder / name
            snapshot_download(spec.hub_id, local_dir=dest, allow_patterns=list(spec.allow) or None,
                              endpoint=endpoint, etag_timeout=HUB_ETAG_TIMEOUT_S)  # fmt: skip
            return dest
    except ModelError:
        raise
    except Exception as err:
        detail = (str(err).strip().splitlines() or [""])[0][:200]
        raise ModelError(
            missing_message(
                [name],
                folder,
                f"downloading {name} ({spec.hub_id}) from {endpoint} failed: {type(err).__name__}: {detail}",
            )
        ) from err


def probe(url: str, timeout: float) -> str | None:
    """None when a TCP connection to ``url``'s host (or the proxy for it) opens within ``timeout``
    seconds; otherwise why not, in words.  Name resolution has no timeout of its own, hence the thread."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    via = ""
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        via, host, port = f" through the proxy {p.hostname}", p.hostname or "", p.port or 8080
    errors: list[OSError] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as err:
            errors.append(err)

    worker = threading.Thread(target=connect, name="artshade-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"the model hub ({host}{via}) did not answer within {timeout:.0f} s"
    if not errors:
        return None
    err = errors[0]
    if isinstance(err, socket.gaierror):
        return f"the model hub's address ({host}{via}) cannot be resolved (offline?)"
    return f"cannot connect to the model hub ({host}:{port}{via}): {err.strerror or err}"


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """The hub client logs a warning per retry; the one line our error gives is enough."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------------------------------------- loading

_cache: dict[tuple[str, str, str, bool], ImageEncoder] = {}
_cache_lock = threading.Lock()


def load_encoder(
    name: str,
    *,
    folder: Path | None = None,
    device: torch.device | None = None,
    with_decoder: bool = False,
) -> ImageEncoder:
    """Load (once, then from the in-process cache) the encoder called ``name``."""
    import torch

    from .encoders.tiny import TinyAutoencoder

    folder = folder or models_dir()
    device = device or torch.device("cpu")
    key = (name, str(folder.resolve()), str(device), with_decoder)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        spec = _spec(name)
        where = require(name, folder)
        encoder: ImageEncoder
        if spec.kind == "tiny-ae":
            encoder = TinyAutoencoder.from_folder(folder, name, with_decoder=with_decoder)
        elif spec.kind == "vae":
            from .encoders.diffusers_vae import DiffusersVAEEncoder

            local = isinstance(where, Path)
            encoder = DiffusersVAEEncoder.load(
                where,
                name,
                subfolder=spec.subfolder
                if (not local or (Path(where) / (spec.subfolder or "")).is_dir())
                else None,
                device=device,
                keep_decoder=with_decoder,
            )
        else:
            raise ModelError(f"{name} is a {spec.kind} model, not an image encoder")
        encoder = encoder.to(device)
        if device.type == "cpu":
            encoder = encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # faster oneDNN convs
        _cache[key] = encoder
        log.info("loaded encoder %s from %s on %s", name, where, device)
        return encoder


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def preset_encoders(preset: str, device: torch.device, folder: Path | None = None) -> list[str]:
    """The encoder names a preset uses here: its required ones, plus installed GPU extras on a GPU."""
    p = PRESETS[preset]
    names = list(p.encoders)
    if device.type != "cpu":
        names += [n for n in p.gpu_extras if locate(n, folder) is not None]
    return names


def _spec(name: str) -> ModelSpec:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(CATALOGUE)}") from None


def _in_hub_cache(spec: ModelSpec) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        filename = f"{spec.subfolder}/config.json" if spec.subfolder else "config.json"
        if spec.kind.startswith("pipeline"):
            filename = "model_index.json"
        hit = try_to_load_from_cache(spec.hub_id, filename)
        return isinstance(hit, str)
    except Exception:  # no hub library or unreadable cache: treat as absent
        return False
