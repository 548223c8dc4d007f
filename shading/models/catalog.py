"""The models artshade knows (``CATALOGUE``: name, kind, where the hub has it, pinned checksums), the
encoders each preset attacks (``PRESET_ENCODERS``) and the models each diffusion mode needs
(``MODES_NEED``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError


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


PRESET_ENCODERS: dict[str, Preset] = {
    "fast": Preset("fast", ("taef2",)),
    "default": Preset("default", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae")),
    "max": Preset("max", ("taef2",), gpu_extras=("sd-vae", "sdxl-vae", "flux-vae")),
}

MODES_NEED: dict[str, tuple[str, ...]] = {
    "cloak": ("sd15", "clip"),
    "poison": ("sd15", "clip"),
    "cloak+poison": ("sd15", "clip"),
}


def spec_of(name: str) -> ModelSpec:
    """The catalogue entry for ``name``; an unknown name is a ModelError that lists the known ones."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(CATALOGUE)}") from None


def marker_file(spec: ModelSpec) -> str:
    """The file whose presence makes a folder hold ``spec``'s model (a pipeline's index or a config)."""
    return "model_index.json" if spec.kind.startswith("pipeline") else "config.json"
