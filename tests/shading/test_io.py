"""shading.io: formats, limits, metadata, alpha and atomic writes (tiny images made in each test)."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from artshade.shading import io as sio
from artshade.shading.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    NotAnImageError,
    OutputError,
    ShadingError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from PIL import Image, ImageCms, ImageFile, PngImagePlugin

PIL_NAME = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}
LOSSLESS = ("png", "webp", "tiff")


# ------------------------------------------------------------------------------------------ helpers


def pattern(size: tuple[int, int] = (48, 32)) -> Image.Image:
    """A smooth RGB gradient (compresses well and survives JPEG closely)."""
    w, h = size
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    arr = np.stack([x, y, (x + y) / 2], axis=-1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def alpha_ramp(size: tuple[int, int] = (48, 32)) -> Image.Image:
    """Every alpha value from 0 to 255, with a fully transparent corner."""
    w, h = size
    arr = (np.arange(w * h) % 256).astype(np.uint8).reshape(h, w)
    arr[:4, :4] = 0
    return Image.fromarray(arr, "L")


def save(im: Image.Image, fmt: str, **params: object) -> bytes:
    if fmt == "webp" and "lossless" not in params and "quality" not in params:
        params["lossless"] = True
    if fmt == "tiff" and isinstance(params.get("exif"), Image.Exif):
        params["exif"] = params["exif"].tobytes()  # Pillow writes sub-IFDs into a TIFF only from bytes
    buf = io.BytesIO()
    im.save(buf, format=PIL_NAME[fmt], **params)
    return buf.getvalue()


def rgba_source() -> Image.Image:
    return Image.merge("RGBA", (*pattern().split(), alpha_ramp()))


def chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_from_header(width: int, height: int, bit_depth: int, colour: int, rows: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def bomb_png(side: int = 100_000) -> bytes:
    """A real, well-formed PNG header declaring side x side greyscale pixels, with almost no data."""
    return png_from_header(side, side, 8, 0, b"\x00" * 64)


def exif_with(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x013B] = "Ada Artist"  # Artist
    exif[0x8298] = "(c) Ada Artist, all rights reserved"  # Copyright
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal, in the Exif sub-IFD
    return exif


def reread_exif(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as im:
        return im.getexif()


def cmyk_icc_constant_grey() -> bytes:
    """A minimal ICC v2 CMYK input profile whose A2B0 table maps every corner but black to L*=50, a*=b*=0.

    If load_image goes through the embedded profile, pure magenta+yellow (red) comes out grey; a plain
    CMYK->RGB conversion would give red.  That tells the two paths apart.
    """

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def desc(text: str) -> bytes:
        ascii_ = text.encode() + b"\x00"
        return (
            b"desc"
            + b"\x00" * 4
            + struct.pack(">I", len(ascii_))
            + ascii_
            + b"\x00" * 4
            + b"\x00" * 4
            + b"\x00" * 70
        )

    grid, n_in, n_out = 2, 4, 3
    lut = b"mft2" + b"\x00" * 4 + bytes([n_in, n_out, grid, 0])
    lut += b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut += struct.pack(">HH", 2, 2)
    lut += struct.pack(">HH", 0, 0xFFFF) * n_in
    # Every grid point is L=50, a=b=0 (v2 Lab), except full ink (the last point), which is black, so that
    # black point detection sees an ordinary profile.
    lut += struct.pack(">HHH", 0x8000, 0x8000, 0x8000) * (grid**n_in - 1) + struct.pack(
        ">HHH", 0, 0x8000, 0x8000
    )
    lut += struct.pack(">HH", 0, 0xFFFF) * n_out
    wtpt = b"XYZ " + b"\x00" * 4 + s15(0.9642) + s15(1.0) + s15(0.8249)
    cprt = b"text" + b"\x00" * 4 + b"none\x00"
    tags = [(b"desc", desc("test CMYK")), (b"wtpt", wtpt), (b"A2B0", lut), (b"cprt", cprt)]

    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, body = struct.pack(">I", len(tags)), b""
    for sig, payload in tags:
        payload += b"\x00" * (-len(payload) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(payload))
        body += payload
    size = 128 + table_size + len(body)
    header = struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"scnr" + b"CMYK" + b"Lab "
    header += b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0)
    header += s15(0.9642) + s15(1.0) + s15(0.8249) + b"\x00" * 4
    header += b"\x00" * (128 - len(header))
    return header + table + body


def assert_one_line(err: BaseException) -> None:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text


# ------------------------------------------------------------------------------- format identification


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"GIF89a\x01\x00", None),
        (b"BM\x00\x00", None),
        (b"hello, world", None),
        (b"", None),
    ],
)
def test_sniff_format(head: bytes, expected: str | None) -> None:
    assert sio.sniff_format(head) == expected


@pytest.mark.parametrize(
    ("fmt", "media", "ext"),
    [
        ("jpeg", "image/jpeg", ".jpg"),
        ("png", "image/png", ".png"),
        ("webp", "image/webp", ".webp"),
        ("tiff", "image/tiff", ".tif"),
        ("jpg", "image/jpeg", ".jpg"),
        ("TIF", "image/tiff", ".tif"),
    ],
)
def test_media_type_and_extension(fmt: str, media: str, ext: str) -> None:
    assert sio.media_type(fmt) == media
    assert sio.extension(fmt) == ext


def test_unknown_output_format_is_refused() -> None:
    with pytest.raises(OutputError) as err:
        sio.media_type("gif")
    assert_one_line(err.value)


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
def test_round_trip_every_format(fmt: str) -> None:
    src = pattern()
    loaded = sio.load_image(save(src, fmt, **({"quality": 95} if fmt == "jpeg" else {})))
    assert (loaded.format, loaded.rgb.mode, loaded.size, loaded.alpha) == (fmt, "RGB", (48, 32), None)
    out = sio.encode_image(loaded.rgb, loaded)
    assert sio.sniff_format(out) == fmt
    again = sio.load_image(out)
    a, b = np.asarray(loaded.rgb, dtype=int), np.asarray(again.rgb, dtype=int)
    if fmt in LOSSLESS:
        assert np.array_equal(a, b)
    else:
        assert np.abs(a - b).mean() < 1.5  # q95, 4:4:4


@pytest.mark.parametrize("src_fmt", ["jpeg", "png", "webp", "tiff"])
@pytest.mark.parametrize("out_fmt", ["jpeg", "png", "webp", "tiff"])
def test_format_conversion(src_fmt: str, out_fmt: str) -> None:
    loaded = sio.load_image(save(pattern(), src_fmt))
    out = sio.encode_image(loaded.rgb, loaded, out_fmt)
    again = sio.load_image(out)
    assert (sio.sniff_format(out), again.format, again.size) == (out_fmt, out_fmt, loaded.size)


def test_jpeg_output_is_quality_95_without_chroma_subsampling() -> None:
    loaded = sio.load_image(save(pattern(), "png"))
    out = sio.encode_image(loaded.rgb, loaded, "jpeg")
    with Image.open(io.BytesIO(out)) as im:
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
        q95 = Image.new("RGB", (8, 8))
        ref = io.BytesIO()
        q95.save(ref, "JPEG", quality=95)
        with Image.open(ref) as ref_im:
            assert im.quantization == ref_im.quantization


@pytest.mark.parametrize(
    ("src", "expect_lossless"),
    [("lossless-webp", True), ("lossy-webp", False), ("rgba-png", True)],
)
def test_webp_output_lossless_when_source_was(src: str, expect_lossless: bool) -> None:
    data = {
        "lossless-webp": lambda: save(pattern(), "webp", lossless=True),
        "lossy-webp": lambda: save(pattern(), "webp", quality=80),
        "rgba-png": lambda: save(rgba_source(), "png"),
    }[src]()
    loaded = sio.load_image(data)
    out = sio.encode_image(loaded.rgb, loaded, "webp")
    assert (b"VP8L" in out[12:40]) is expect_lossless
    if expect_lossless:
        assert np.array_equal(np.asarray(sio.load_image(out).rgb), np.asarray(loaded.rgb))


def test_real_eval_image_round_trip(eval_images: Path) -> None:
    path = eval_images / "artworks" / "monet_san_giorgio_maggiore_at_dusk.jpg"
    loaded = sio.load_image(path)
    assert (loaded.format, loaded.rgb.mode, loaded.size) == ("jpeg", "RGB", (567, 355))
    out = sio.encode_image(loaded.rgb, loaded)
    again = sio.load_image(out)
    diff = np.abs(np.asarray(again.rgb, dtype=int) - np.asarray(loaded.rgb, dtype=int))
    assert diff.mean() < 2.0
    assert sio.load_image(str(eval_images / "artworks" / "toulouse_lautrec_in_bed.png")).format == "png"


# ---------------------------------------------------------------------------------------- alpha


@pytest.mark.parametrize("src_fmt", LOSSLESS)
@pytest.mark.parametrize("out_fmt", LOSSLESS)
def test_alpha_is_bit_exact(src_fmt: str, out_fmt: str) -> None:
    src = rgba_source()
    loaded = sio.load_image(save(src, src_fmt, **({"exact": True} if src_fmt == "webp" else {})))
    assert loaded.alpha is not None and loaded.alpha.mode == "L"
    assert loaded.alpha.tobytes() == src.getchannel("A").tobytes()
    # The engine changes the colour; alpha must come back untouched.
    shaded = Image.fromarray(255 - np.asarray(loaded.rgb), "RGB")
    again = sio.load_image(sio.encode_image(shaded, loaded, out_fmt))
    assert again.alpha is not None
    assert again.alpha.tobytes() == src.getchannel("A").tobytes()
    assert np.array_equal(np.asarray(again.rgb), np.asarray(shaded))


def test_jpeg_output_of_transparent_image_is_refused() -> None:
    loaded = sio.load_image(save(rgba_source(), "png"))
    with pytest.raises(OutputError) as err:
        sio.encode_image(loaded.rgb, loaded, "jpeg")
    assert_one_line(err.value)
    assert "png" in str(err.value) and "webp" in str(err.value) and "tiff" in str(err.value)


def test_jpeg_output_of_fully_opaque_alpha_is_allowed() -> None:
    opaque = pattern().convert("RGBA")
    loaded = sio.load_image(save(opaque, "png"))
    assert loaded.alpha is not None
    assert sio.sniff_format(sio.encode_image(loaded.rgb, loaded, "jpeg")) == "jpeg"


def test_alpha_follows_a_resized_output() -> None:
    loaded = sio.load_image(save(rgba_source(), "png"))
    small = loaded.rgb.resize((24, 16))
    again = sio.load_image(sio.encode_image(small, loaded, "png"))
    assert again.alpha is not None and again.alpha.size == (24, 16)


def _palette_with_transparency() -> bytes:
    im = pattern().quantize(16)
    return save(im, "png", transparency=int(np.asarray(im)[0, 0]))


def _palette_with_alpha_palette() -> bytes:
    im = Image.fromarray((np.arange(48 * 32) % 4).astype(np.uint8).reshape(32, 48), "P")
    im.putpalette([255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 9, 9, 9, 255], "RGBA")
    return save(im, "png")


def _grey_with_trns() -> bytes:
    im = pattern().convert("L")
    return save(im, "png", transparency=int(np.asarray(im)[0, 0]))


def _rgb_with_trns() -> bytes:
    im = pattern()
    return save(im, "png", transparency=tuple(int(v) for v in np.asarray(im)[0, 0]))


def _grey16() -> bytes:
    rows = b"".join(b"\x00" + np.full(48, 257 * 100, dtype=">u2").tobytes() for _ in range(32))
    return png_from_header(48, 32, 16, 0, rows)


def _rgba16() -> bytes:
    px = np.array([65535, 0, 32768, 257 * 7], dtype=">u2")
    rows = b"".join(b"\x00" + np.tile(px, 48).tobytes() for _ in range(32))
    return png_from_header(48, 32, 16, 6, rows)


def _tiff16() -> bytes:
    return save(Image.fromarray(np.full((32, 48), 65535, dtype=np.uint16)), "tiff")


@pytest.mark.parametrize(
    ("make", "source_mode", "has_alpha", "corner_alpha", "corner_rgb"),
    [
        (lambda: save(pattern().convert("L"), "png"), "L", False, None, (0, 0, 0)),
        (lambda: save(pattern().convert("1"), "png"), "1", False, None, (0, 0, 0)),
        (lambda: save(pattern().convert("LA"), "png"), "LA", True, 255, (0, 0, 0)),
        (
            lambda: save(Image.merge("LA", (pattern().convert("L"), alpha_ramp())), "png"),
            "LA",
            True,
            0,
            (0, 0, 0),
        ),
        (_palette_with_transparency, "P", True, 0, None),
        (_palette_with_alpha_palette, "P", True, 0, None),
        (lambda: save(rgba_source().convert("PA"), "webp"), "RGBA", True, 0, None),
        (_grey_with_trns, "L", True, 0, (0, 0, 0)),
        (_rgb_with_trns, "RGB", True, 0, (0, 0, 0)),
        (lambda: save(rgba_source(), "png"), "RGBA", True, 0, (0, 0, 0)),
        (_grey16, "I;16", False, None, (100, 100, 100)),
        (_rgba16, "RGBA", True, 7, (255, 0, 128)),
        (_tiff16, "I;16", False, None, (255, 255, 255)),
    ],
    ids=[
        "L",
        "1",
        "LA-opaque",
        "LA",
        "P-trns",
        "P-rgba-palette",
        "PA-webp",
        "L-trns",
        "RGB-trns",
        "RGBA",
        "png-16-grey",
        "png-16-rgba",
        "tiff-16-grey",
    ],
)
def test_modes_become_rgb_plus_alpha(
    make: Callable[[], bytes],
    source_mode: str,
    has_alpha: bool,
    corner_alpha: int | None,
    corner_rgb: tuple[int, int, int] | None,
) -> None:
    loaded = sio.load_image(make())
    assert loaded.source_mode.startswith(source_mode)
    assert loaded.rgb.mode == "RGB" and loaded.size == (48, 32)
    assert (loaded.alpha is not None) is has_alpha
    if loaded.alpha is not None:
        assert loaded.alpha.mode == "L" and loaded.alpha.size == loaded.size
        assert loaded.alpha.getpixel((0, 0)) == corner_alpha
    if corner_rgb is not None:
        assert loaded.rgb.getpixel((0, 0)) == corner_rgb


# ------------------------------------------------------------------------------------- CMYK and ICC


def test_cmyk_jpeg_without_profile_becomes_rgb() -> None:
    data = save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "jpeg", quality=95)
    loaded = sio.load_image(data)
    assert (loaded.source_mode, loaded.rgb.mode, loaded.icc_profile) == ("CMYK", "RGB", None)
    r, g, b = loaded.rgb.getpixel((16, 16))
    assert r > 240 and g < 15 and b < 15


def test_cmyk_jpeg_goes_through_its_embedded_profile_to_srgb() -> None:
    icc = cmyk_icc_constant_grey()
    data = save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "jpeg", quality=95, icc_profile=icc)
    loaded = sio.load_image(data)
    r, g, b = loaded.rgb.getpixel((16, 16))
    assert max(r, g, b) - min(r, g, b) <= 3 and 100 <= r <= 140  # L*=50 grey, not red
    assert loaded.icc_profile is not None
    profile = ImageCms.ImageCmsProfile(io.BytesIO(loaded.icc_profile))
    assert profile.profile.xcolor_space.strip() == "RGB"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
def test_icc_profile_survives(fmt: str) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    loaded = sio.load_image(save(pattern(), fmt, icc_profile=icc))
    assert loaded.icc_profile == icc
    for out_fmt in ("jpeg", "png", "webp", "tiff"):
        assert sio.load_image(sio.encode_image(loaded.rgb, loaded, out_fmt)).icc_profile == icc


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff"])
def test_dpi_survives(fmt: str) -> None:
    loaded = sio.load_image(save(pattern(), fmt, dpi=(300, 300)))
    assert loaded.dpi is not None and round(loaded.dpi[0]) == 300
    again = sio.load_image(sio.encode_image(loaded.rgb, loaded))
    assert again.dpi is not None and round(again.dpi[0]) == 300 and round(again.dpi[1]) == 300


# ---------------------------------------------------------------------------------------------- EXIF


def _left_red_right_blue() -> Image.Image:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))
    return im


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
@pytest.mark.parametrize(
    ("orientation", "top_colour"),
    [(6, "red"), (8, "blue"), (1, None), (3, None)],
)
def test_exif_orientation_applied_and_saved_back_as_1(
    fmt: str, orientation: int, top_colour: str | None
) -> None:
    src = _left_red_right_blue()
    loaded = sio.load_image(save(src, fmt, exif=exif_with(orientation)))
    upright = (20, 40) if orientation in (6, 8) else (40, 20)
    assert loaded.size == upright
    if top_colour is not None:  # 6 = turn clockwise to view (left edge goes to the top); 8 = anticlockwise
        r, _, b = loaded.rgb.getpixel((10, 5))
        assert (r > 200 and b < 50) if top_colour == "red" else (b > 200 and r < 50)
    if orientation == 3:
        r, _, b = loaded.rgb.getpixel((5, 10))
        assert b > 200 and r < 50  # 180 degrees: the blue half is now on the left
    assert loaded.exif is not None and sio.load_image(save(src, fmt)).exif is None

    out = sio.encode_image(loaded.rgb, loaded)
    exif = reread_exif(out)
    assert exif.get(0x0112, 1) == 1
    assert exif[0x013B] == "Ada Artist"
    assert exif[0x8298] == "(c) Ada Artist, all rights reserved"
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert sio.load_image(out).size == upright  # not turned a second time


def test_exif_is_kept_byte_for_byte_except_orientation() -> None:
    data = save(_left_red_right_blue(), "jpeg", exif=exif_with(6))
    with Image.open(io.BytesIO(data)) as im:
        original = im.info["exif"]
    loaded = sio.load_image(data)
    assert loaded.exif is not None and len(loaded.exif) == len(original)
    changed = [i for i, (a, b) in enumerate(zip(original, loaded.exif, strict=True)) if a != b]
    assert len(changed) == 1  # only the low byte of the Orientation value


@pytest.mark.parametrize("out_fmt", ["jpeg", "png", "webp", "tiff"])
def test_exif_carries_across_formats(out_fmt: str) -> None:
    loaded = sio.load_image(save(_left_red_right_blue(), "jpeg", exif=exif_with(8)))
    exif = reread_exif(sio.encode_image(loaded.rgb, loaded, out_fmt))
    assert exif[0x013B] == "Ada Artist" and exif.get(0x0112, 1) == 1


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
    b' tiff:Orientation="6"><dc:rights>(c) Ada Artist</dc:rights></rdf:Description></rdf:RDF></x:xmpmeta>'
)


@pytest.mark.parametrize("src_fmt", ["jpeg", "png", "webp", "tiff"])
@pytest.mark.parametrize("out_fmt", ["jpeg", "png", "webp", "tiff"])
def test_xmp_survives_with_orientation_reset(src_fmt: str, out_fmt: str) -> None:
    params: dict[str, object] = {"exif": exif_with(6)}
    if src_fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        params["pnginfo"] = info
    elif src_fmt == "tiff":
        params["tiffinfo"] = {700: XMP, 274: 6}
        del params["exif"]
    else:
        params["xmp"] = XMP
    loaded = sio.load_image(save(_left_red_right_blue(), src_fmt, **params))
    assert loaded.size == (20, 40)
    # Orientation 1, or gone (Pillow's TIFF loader removes it when it turns the pixels itself).
    assert loaded.xmp is not None and b'tiff:Orientation="6"' not in loaded.xmp
    again = sio.load_image(sio.encode_image(loaded.rgb, loaded, out_fmt))
    assert again.size == (20, 40)
    assert again.xmp is not None and b"<dc:rights>(c) Ada Artist</dc:rights>" in again.xmp
    assert b'tiff:Orientation="6"' not in again.xmp
    if src_fmt != "tiff":
        assert b'tiff:Orientation="1"' in again.xmp


def test_camera_mpo_jpeg_uses_the_first_picture() -> None:
    buf = io.BytesIO()
    pattern().save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (48, 32), (9, 9, 9))])
    loaded = sio.load_image(buf.getvalue())
    assert loaded.format == "jpeg" and loaded.rgb.getpixel((47, 31))[0] > 200


# ------------------------------------------------------------------------------------------ bad input


def _truncated(fmt: str, keep: float = 0.6) -> Callable[[], bytes]:
    def make() -> bytes:
        noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
        data = save(noisy, fmt)
        return data[: int(len(data) * keep)]

    return make


def _corrupt_png() -> bytes:
    data = bytearray(save(pattern(), "png"))
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = b"\x00" * 20
    return bytes(data)


def _animated(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0))]
        buf = io.BytesIO()
        frames[0].save(
            buf,
            format=fmt,
            save_all=True,
            append_images=frames[1:],
            **({"lossless": True} if fmt == "WEBP" else {}),
        )
        return buf.getvalue()

    return make


def _other(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        buf = io.BytesIO()
        pattern().save(buf, format=fmt)
        return buf.getvalue()

    return make


BAD_INPUTS: list[tuple[str, Callable[[], bytes], sio.Limits | None, type[ShadingError], str]] = [
    ("empty", lambda: b"", None, NotAnImageError, "empty"),
    ("text", lambda: b"hello, this is a text file\n" * 10, None, NotAnImageError, "not an image"),
    ("html", lambda: b"<!doctype html><html></html>", None, NotAnImageError, "not an image"),
    ("jpeg-magic-only", lambda: b"\xff\xd8\xff\xe0", None, TruncatedImageError, "JPEG"),
    ("truncated-jpeg", _truncated("jpeg"), None, TruncatedImageError, "JPEG"),
    ("truncated-png", _truncated("png"), None, TruncatedImageError, "PNG"),
    ("png-without-iend", _truncated("png", 0.999), None, TruncatedImageError, "PNG"),
    ("corrupt-png", _corrupt_png, None, TruncatedImageError, "PNG"),
    ("truncated-webp", _truncated("webp"), None, TruncatedImageError, "WEBP"),
    ("truncated-tiff", _truncated("tiff"), None, TruncatedImageError, "TIFF"),
    ("gif", _other("GIF"), None, UnsupportedFormatError, "GIF"),
    ("bmp", _other("BMP"), None, UnsupportedFormatError, "BMP"),
    ("pcx", _other("PCX"), None, UnsupportedFormatError, "PCX"),
    (
        "heic",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
        None,
        UnsupportedFormatError,
        "HEIC",
    ),
    ("animated-webp", _animated("WEBP"), None, UnsupportedFormatError, "animated"),
    ("animated-png", _animated("PNG"), None, UnsupportedFormatError, "animated"),
    ("multi-page-tiff", _animated("TIFF"), None, UnsupportedFormatError, "multi-page"),
    ("bomb-100000x100000", bomb_png, None, ImageTooLargeError, "pixels"),
    ("bomb-over-pillow-warning", lambda: bomb_png(10_000), None, ImageTooLargeError, "pixels"),
    (
        "over-max-pixels",
        lambda: save(pattern(), "png"),
        sio.Limits(max_pixels=1000),
        ImageTooLargeError,
        "0.00154 megapixels, over the limit of 0.001 (raise it with --max-megapixels N)",
    ),
    (
        "over-max-bytes",
        lambda: save(pattern(), "png"),
        sio.Limits(max_bytes=100),
        ImageTooLargeError,
        "MiB (raise it with --max-file-mb N)",
    ),
    ("tiny-4x4", lambda: save(Image.new("RGB", (4, 4)), "png"), None, ImageTooSmallError, "4x4"),
    ("thin-200x8", lambda: save(Image.new("RGB", (200, 8)), "jpeg"), None, ImageTooSmallError, "16"),
]


@pytest.mark.parametrize(
    ("make", "limits", "error", "words"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_raises_one_clear_line(
    make: Callable[[], bytes], limits: sio.Limits | None, error: type[ShadingError], words: str
) -> None:
    data = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow warning (e.g. DecompressionBombWarning) may escape
        with pytest.raises(error) as err:
            sio.load_image(data, limits)
    assert type(err.value) is error
    assert_one_line(err.value)
    assert words.lower() in str(err.value).lower()


def test_unsupported_format_names_the_supported_ones() -> None:
    with pytest.raises(UnsupportedFormatError) as err:
        sio.load_image(_other("GIF")())
    assert all(name in str(err.value) for name in ("JPEG", "PNG", "WebP", "TIFF"))


def test_truncation_is_caught_even_when_pillow_is_told_to_accept_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for fmt in ("jpeg", "png", "webp", "tiff"):
        with pytest.raises(TruncatedImageError):
            sio.load_image(_truncated(fmt)())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_pillow_globals_are_left_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    for data in (bomb_png(), _truncated("jpeg")(), save(pattern(), "png")):
        with contextlib.suppress(InputError):
            sio.load_image(data)
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


def test_larger_limit_than_pillows_still_reports_our_error() -> None:
    with pytest.raises(ImageTooLargeError) as err:
        sio.load_image(bomb_png(), sio.Limits(max_pixels=10**11))
    assert_one_line(err.value)


@pytest.mark.parametrize("kind", ["path", "str"])
def test_load_from_a_path(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "art.png"
    p.write_bytes(save(pattern(), "png"))
    assert sio.load_image(p if kind == "path" else str(p)).size == (48, 32)


@pytest.mark.parametrize(
    ("setup", "words"),
    [("missing", "not found"), ("folder", "folder")],
)
def test_unreadable_path_is_a_clear_input_error(tmp_path: Path, setup: str, words: str) -> None:
    p = tmp_path / "x.png"
    if setup == "folder":
        p.mkdir()
    with pytest.raises(InputError) as err:
        sio.load_image(p)
    assert_one_line(err.value)
    assert words in str(err.value)


def test_read_input_refuses_a_huge_file_by_its_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.jpg"
    with open(big, "wb") as f:
        f.truncate(10 * 2**20)  # sparse: costs no disk
    limits = sio.Limits(max_bytes=2**20)
    reads: list[int] = []
    real_open = open

    class Spy(io.FileIO):
        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            reads.append(n)
            return super().read(n)

    monkeypatch.setattr(
        "builtins.open",
        lambda p, mode="r", *a, **k: Spy(p, "rb") if mode == "rb" else real_open(p, mode, *a, **k),
    )
    with pytest.raises(ImageTooLargeError) as err:
        sio.read_input(big, limits)
    assert_one_line(err.value)
    assert reads == []  # refused from the file's size, nothing read
    monkeypatch.undo()
    small = tmp_path / "small.png"
    small.write_bytes(save(pattern(), "png"))
    assert sio.read_input(small, limits) == small.read_bytes()


# ---------------------------------------------------------------------------------------- write_atomic


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_write_atomic_writes_with_sane_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    sio.write_atomic(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    if os.name == "posix":
        assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert _leftovers(tmp_path) == []


def test_write_atomic_keeps_the_mode_of_a_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    target.chmod(0o640)
    sio.write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640


def _spelling(tmp_path: Path, original: Path, how: str) -> Path:
    if how == "same":
        return original
    if how == "dotdot":
        return tmp_path / "sub" / ".." / original.name
    if how == "relative-dot":
        return Path(os.path.relpath(tmp_path, Path.cwd())) / "." / original.name
    if how == "symlink":
        link = tmp_path / "link.png"
        link.symlink_to(original)
        return link
    if how == "symlinked-folder":
        (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
        return tmp_path / "alias" / original.name
    if how == "hardlink":
        hard = tmp_path / "hard.png"
        os.link(original, hard)
        return hard
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["same", "dotdot", "relative-dot", "symlink", "symlinked-folder", "hardlink"])
def test_write_atomic_refuses_to_overwrite_the_original(tmp_path: Path, how: str) -> None:
    (tmp_path / "sub").mkdir()
    original = tmp_path / "art.png"
    original.write_bytes(b"the artist's original")
    target = _spelling(tmp_path, original, how)
    with pytest.raises(OutputError) as err:
        sio.write_atomic(target, b"shaded", forbid=[original])
    assert_one_line(err.value)
    assert original.read_bytes() == b"the artist's original"
    assert _leftovers(tmp_path) == []


def test_write_atomic_refuses_a_forbidden_path_that_does_not_exist_yet(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError):
        sio.write_atomic(tmp_path / "sub" / ".." / "new.png", b"x", forbid=[tmp_path / "new.png"])
    assert not (tmp_path / "new.png").exists()


def test_write_atomic_allows_a_different_file(tmp_path: Path) -> None:
    original = tmp_path / "art.png"
    original.write_bytes(b"orig")
    sio.write_atomic(tmp_path / "art.protected.png", b"shaded", forbid=[original])
    assert (tmp_path / "art.protected.png").read_bytes() == b"shaded"
    assert original.read_bytes() == b"orig"


@pytest.mark.parametrize(
    ("fails", "existing"),
    [
        ("os.replace", False),
        ("os.replace", True),
        ("os.fsync", False),
        ("os.fsync", True),
        ("os.chmod", True),
    ],
)
def test_write_atomic_failure_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str, existing: bool
) -> None:
    target = tmp_path / "out.png"
    if existing:
        target.write_bytes(b"previous output")
        target.chmod(0o644)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fails, boom)
    with pytest.raises(OutputError) as err:
        sio.write_atomic(target, b"new" * 1000)
    monkeypatch.undo()
    assert_one_line(err.value)
    assert _leftovers(tmp_path) == []
    if existing:
        assert target.read_bytes() == b"previous output"
    else:
        assert not target.exists()


def test_write_atomic_failure_on_interrupt_also_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sio.write_atomic(tmp_path / "out.png", b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "data"),
    [("empty-data", b""), ("missing-folder", b"x"), ("target-is-folder", b"x")],
)
def test_write_atomic_refuses_impossible_writes(tmp_path: Path, setup: str, data: bytes) -> None:
    target = {
        "empty-data": tmp_path / "out.png",
        "missing-folder": tmp_path / "nope" / "out.png",
        "target-is-folder": tmp_path / "folder",
    }[setup]
    if setup == "target-is-folder":
        target.mkdir()
    with pytest.raises(OutputError) as err:
        sio.write_atomic(target, data)
    assert_one_line(err.value)
    assert not (tmp_path / "out.png").exists()
    assert _leftovers(tmp_path) == []


def test_encode_then_write_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "art.webp"
    src.write_bytes(save(rgba_source(), "webp", exact=True))
    loaded = sio.load_image(src)
    dst = tmp_path / ("art.protected" + sio.extension(loaded.format))
    sio.write_atomic(dst, sio.encode_image(loaded.rgb, loaded), forbid=[src])
    again = sio.load_image(dst)
    assert again.alpha is not None and loaded.alpha is not None
    assert again.alpha.tobytes() == loaded.alpha.tobytes()
