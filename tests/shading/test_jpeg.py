"""The differentiable JPEG model against Pillow's real libjpeg encoder/decoder.

Thresholds were set from measured values (see the table in ``shading/transforms/jpeg.py``) with a
margin of about 3 dB, so a regression in any modelled step (tables, colour conversion, subsampling,
upsampling, rounding) fails them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from artshade.shading.transforms.jpeg import DiffJPEG, jpeg, quant_tables, real_jpeg
from PIL import Image

SIZE = 256
QUALITIES = (50, 75, 85, 95)
SUBSAMPLINGS = ("4:2:0", "4:4:4")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.float() - b.float()) ** 2).mean().item()
    return 10 * np.log10(1 / mse) if mse > 0 else float("inf")


def _square(path: Path, size: int = SIZE) -> torch.Tensor:
    with Image.open(path) as im:
        im.draft("RGB", (2 * size, 2 * size))  # JPEG: decode at a reduced scale, much faster
        im = im.convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.Resampling.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
        return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def real_images(eval_images: Path) -> torch.Tensor:
    files = sorted(p for p in eval_images.glob("*/*") if p.suffix.lower() in {".jpg", ".png"})
    chosen = files[::4][:8]  # spread over artworks and photos
    assert len(chosen) == 8
    return torch.stack([_square(p) for p in chosen])


def _synthetic(size: int = SIZE) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, size)
    edges = torch.zeros(3, size, size)
    edges[:, :, size // 3 :] = 1
    edges[0, size // 2 :, :] = 0.2
    edges[2, :, ::17] = 0.9
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy // 3 + xx // 5) % 2).float()
    return {
        "flat": torch.tensor([0.4, 0.32, 0.48]).view(3, 1, 1).expand(3, size, size),
        "gradient": torch.stack(
            [ramp.expand(size, size), ramp[:, None].expand(size, size), (xx + yy) / (2 * size)]
        ),
        "noise": torch.rand(3, size, size, generator=g),
        "edges": edges,
        "checker": checker.expand(3, size, size) * torch.tensor([0.9, 0.1, 0.5]).view(3, 1, 1),
    }


def _smooth(h: int, w: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, (h + 7) // 8, (w + 7) // 8, generator=g)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    return (x + 0.03 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


# ------------------------------------------------------------------------------------------ tables
@pytest.mark.parametrize("quality", [1, 5, 10, 25, 49, 50, 51, 70, 75, 80, 85, 90, 95, 99, 100])
def test_quant_tables_equal_what_pillow_writes(quality: int) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 140, 200)).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        written = im.quantization
    luma, chroma = quant_tables(quality)
    assert luma.flatten().int().tolist() == list(written[0])
    assert chroma.flatten().int().tolist() == list(written[1])


def test_quant_tables_take_integers_only() -> None:
    with pytest.raises(TypeError):
        quant_tables(75.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- agreement with Pillow
@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_matches_pillow_on_eval_images(real_images: torch.Tensor, quality: int, subsampling: str) -> None:
    approx = jpeg(real_images, quality, subsampling=subsampling)
    real = real_jpeg(real_images, quality, subsampling)
    for i in range(len(real_images)):
        close, loss = psnr(approx[i], real[i]), psnr(real_images[i], real[i])
        assert close >= 46.0, f"image {i}: {close:.1f} dB to Pillow"
        # It models the loss, not the identity: >= 6 dB (a quarter of the MSE) closer than the input.
        assert close >= loss + 6.0, f"image {i}: {close:.1f} dB vs input's {loss:.1f} dB"


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_matches_pillow_on_synthetic_images(quality: int, subsampling: str) -> None:
    images = _synthetic()
    x = torch.stack(list(images.values()))
    approx = jpeg(x, quality, subsampling=subsampling)
    real = real_jpeg(x, quality, subsampling)
    for i, name in enumerate(images):
        close, loss = psnr(approx[i], real[i]), psnr(x[i], real[i])
        assert close >= 40.0, f"{name}: {close:.1f} dB to Pillow"
        if loss < 48.0:  # where JPEG's loss is well above 8-bit rounding noise
            assert close >= loss + 4.0, f"{name}: {close:.1f} dB vs input's {loss:.1f} dB"


@pytest.mark.parametrize("quality", [50, 85])
def test_cubic_rounding_stays_close_to_pillow(real_images: torch.Tensor, quality: int) -> None:
    x = real_images[:4]
    approx = jpeg(x, quality, rounding="cubic")
    real = real_jpeg(x, quality)
    for i in range(len(x)):
        assert psnr(approx[i], real[i]) >= 41.0
        assert psnr(approx[i], real[i]) >= psnr(x[i], real[i]) + 6.0


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("shape", [(37, 53), (33, 35), (17, 2), (3, 17), (1, 1), (8, 8), (15, 16)])
def test_odd_sizes(shape: tuple[int, int], subsampling: str) -> None:
    x = _smooth(*shape)
    out = jpeg(x, 80, subsampling=subsampling)
    assert out.shape == x.shape
    assert psnr(out, real_jpeg(x, 80, subsampling)) >= 45.0


# ---------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("rounding", ["ste", "cubic"])
def test_gradients_flow_and_are_finite(rounding: str, subsampling: str) -> None:
    x = _smooth(40, 56, seed=3).repeat(2, 1, 1, 1).requires_grad_(True)
    target = torch.rand_like(x)
    loss = ((jpeg(x, 75, subsampling=subsampling, rounding=rounding) - target) ** 2).mean()
    loss.backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert (x.grad != 0).float().mean() > 0.9  # reaches (almost) every input pixel


def test_cubic_gradient_models_the_quantiser() -> None:
    """STE passes gradients through the quantiser unchanged; the cubic rounding damps them."""
    x = _smooth(32, 32, seed=4).requires_grad_(True)
    grads = []
    for rounding in ("ste", "cubic"):
        (g,) = torch.autograd.grad(jpeg(x, 50, rounding=rounding).sum(), x)
        grads.append(g)
    assert torch.isfinite(grads[1]).all()
    assert grads[1].abs().sum() > 0
    assert grads[1].abs().mean() < 0.9 * grads[0].abs().mean()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_precision_inputs(dtype: torch.dtype) -> None:
    x = _smooth(64, 64).to(dtype).requires_grad_(True)
    out = jpeg(x, 85)
    assert out.dtype == dtype
    assert psnr(out, jpeg(x.detach().float(), 85)) >= 50.0  # computed in float32 inside
    assert psnr(out, real_jpeg(x, 85)) >= 45.0
    out.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


# ---------------------------------------------------------------------------------- quality
def test_fractional_quality_lies_between_its_neighbours(real_images: torch.Tensor) -> None:
    x = real_images[:3]

    def err(q: float) -> float:
        return ((jpeg(x, q) - x) ** 2).mean().item()

    lo, mid, hi = err(72), err(72.5), err(73)
    assert hi < mid < lo
    assert jpeg(x, 72.0).equal(jpeg(x, 72))


def test_quality_per_image_tensor_matches_scalars(real_images: torch.Tensor) -> None:
    x = real_images[:2]
    out = jpeg(x, torch.tensor([50.0, 95.0]))
    assert out[0].equal(jpeg(x[:1], 50)[0])
    assert out[1].equal(jpeg(x[1:], 95)[0])


def test_gradient_reaches_a_tensor_quality() -> None:
    x = _smooth(16, 16)
    q = torch.tensor(60.5, requires_grad=True)
    ((jpeg(x, q, rounding="cubic") - x) ** 2).sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad) and q.grad != 0


# ------------------------------------------------------------------------------------ API
def test_module_equals_function() -> None:
    x = _smooth(20, 28)
    module = DiffJPEG(80, subsampling="4:4:4")
    assert module(x).equal(jpeg(x, 80, subsampling="4:4:4"))
    assert module(x, quality=60).equal(jpeg(x, 60, subsampling="4:4:4"))
    assert "quality=80" in repr(module)


def test_real_jpeg_keeps_shape_dtype_and_accepts_single_images() -> None:
    x = _smooth(21, 30)
    batch = real_jpeg(x, 70)
    single = real_jpeg(x[0], 70)
    assert batch.shape == x.shape and batch.dtype == x.dtype
    assert single.equal(batch[0])
    assert not batch.equal(x)
    assert real_jpeg(x.half(), 70).dtype == torch.float16


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quality": 0}, "between 1 and 100"),
        ({"quality": 100.5}, "between 1 and 100"),
        ({"quality": float("nan")}, "between 1 and 100"),
        ({"quality": 75, "subsampling": "4:2:2"}, "subsampling"),
        ({"quality": 75, "rounding": "floor"}, "rounding"),
        ({"quality": torch.tensor([50.0, 60.0, 70.0])}, "qualities for a batch"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jpeg(torch.rand(2, 3, 8, 8), **kwargs)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="RGB batch"):
        jpeg(torch.rand(3, 8, 8), 75)
    with pytest.raises(ValueError, match="RGB batch"):
        jpeg(torch.rand(1, 4, 8, 8), 75)
