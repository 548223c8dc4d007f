"""Image files in and out: formats, limits, metadata and alpha, and atomic writes.

Everything the engine knows about files lives here (no torch).  Reading goes bytes -> checks -> pixels:

1. size in bytes (``Limits.max_bytes``), then the format from the magic bytes (``sniff_format``);
2. the header only: declared width x height against ``Limits.max_pixels`` (decompression bombs) and
   ``Limits.min_side``, single frame only, and a structural check that the file is complete;
3. the pixels, normalised to an upright 8-bit ``RGB`` image plus an optional ``L`` alpha channel.

Conversions made on the way in (documented, deliberate):

* EXIF orientation is applied to the pixels (and alpha); the EXIF kept for saving says Orientation = 1.
* 16-bit greyscale (PNG ``I;16``, TIFF ``I;16B``/``I``) is scaled to 8 bits with rounding (v * 255 / 65535);
  16-bit RGB/RGBA PNG and TIFF are reduced to 8 bits by Pillow's decoder.  The output is 8-bit.
* CMYK (and greyscale with a grey ICC profile) goes through its embedded ICC profile to sRGB with
  LittleCMS; the profile kept for saving is then sRGB.  CMYK without a profile uses Pillow's plain formula.
* Palette images, transparency keys (``tRNS``) and ``LA``/``PA`` become RGB + an 8-bit alpha channel.

Every failure is one of the ``shading.errors.InputError`` classes with one line an artist can act on.
Pillow's own process-wide settings (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) are
read by Pillow but never changed here; completeness is checked by this module itself.  Pillow refuses
outright any header over 2 x ``Image.MAX_IMAGE_PIXELS`` (about 179 megapixels); that also becomes
``ImageTooLargeError``, so a ``Limits.max_pixels`` above it has no effect.  The one process-wide thing
touched is a ``warnings.catch_warnings()`` block around the header read (to silence Pillow's
DecompressionBombWarning, which our own limit replaces); like every use of that context manager it is
not thread-safe for other threads' warning filters, which is harmless here.

Also kept: XMP (creator, rights...) with ``tiff:Orientation`` reset, EXIF/GPS sub-directories and DPI.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from artshade.shading.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    NotAnImageError,
    OutputError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from PIL import Image, ImageCms, PngImagePlugin, UnidentifiedImageError

from artshade import files

FORMATS = ("jpeg", "png", "webp", "tiff")
SUPPORTED = "JPEG, PNG, WebP or TIFF"

_PIL_NAME = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF"}
_MEDIA_TYPE = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff"}
_EXTENSION = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif"}

_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# TIFF tags that describe the work (kept from a TIFF source) and the sub-IFDs (Exif, GPS).
_TIFF_DESCRIPTIVE = (270, 271, 272, 305, 306, 315, 33432, 33723)
_EXIF_IFD, _GPS_IFD, _XMP_TAG = 0x8769, 0x8825, 700
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation\s*=\s*["\']|<tiff:Orientation>\s*)[1-8]')
# Tags that describe the layout of a particular file; never copied into a TIFF we write.
_TIFF_LAYOUT = frozenset(
    {
        254,
        255,
        256,
        257,
        258,
        259,
        262,
        273,
        277,
        278,
        279,
        282,
        283,
        284,
        296,
        317,
        320,
        322,
        323,
        324,
        325,
        338,
        339,
        513,
        514,
        530,
        531,
        532,
        34675,
    }
)

# Magic bytes of common formats we do not take, so the error can name them.
_OTHER_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"8BPS", "Photoshop (PSD)"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"%PDF", "PDF"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftyphevc", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypmsf1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypavis", "AVIF"),
)


@dataclass(frozen=True)
class Limits:
    """What an input may be.  ``max_pixels`` is checked on the header, before any pixel is decoded.

    A refusal names the setting that raises the limit: ``pixels_setting`` / ``bytes_setting`` are how the
    caller's artist changes it (the CLI's flags by default; the daemon names ``artshade serve``'s)."""

    max_pixels: int = 50_000_000
    max_bytes: int = 64 * 1024 * 1024
    min_side: int = 16
    pixels_setting: str = "--max-megapixels N"
    bytes_setting: str = "--max-file-mb N"


def hard_max_megapixels() -> float:
    """Megapixels beyond which Pillow refuses any image outright (see module docstring)."""
    return 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6 or float("inf")


@dataclass
class LoadedImage:
    """An input image, upright and 8-bit, with what must go back into the output file.

    ``exif`` is the source EXIF as an APP1 payload (starting ``Exif\\0\\0``) with Orientation set to 1;
    ``xmp`` the source XMP packet (creator, rights...) with any ``tiff:Orientation`` set to 1 as well;
    ``alpha`` (mode ``L``, same size and orientation as ``rgb``) is present exactly when the source had
    transparency; ``lossless_webp`` tells whether a WebP source was lossless.
    """

    rgb: Image.Image
    alpha: Image.Image | None
    format: str
    exif: bytes | None = None
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    lossless_webp: bool = False
    source_mode: str = "RGB"
    xmp: bytes | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size


# --------------------------------------------------------------------------------------------- formats


def sniff_format(data: bytes) -> str | None:
    """``"jpeg"``, ``"png"``, ``"webp"`` or ``"tiff"`` from the magic bytes alone; None otherwise."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def _check_format(fmt: str) -> str:
    key = (fmt or "").lower().lstrip(".")
    key = {"jpg": "jpeg", "tif": "tiff"}.get(key, key)
    if key not in FORMATS:
        raise OutputError(f"unknown output format {fmt!r}; choose jpeg, png, webp or tiff")
    return key


def media_type(fmt: str) -> str:
    return _MEDIA_TYPE[_check_format(fmt)]


def extension(fmt: str) -> str:
    return _EXTENSION[_check_format(fmt)]


def _name_other_format(data: bytes) -> str | None:
    for offset, magic, name in _OTHER_FORMATS:
        if data[offset : offset + len(magic)] == magic:
            return name
    try:  # Let Pillow's header parsers name anything else it knows (header only, no pixels).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return str(im.format)
    except Exception:
        return None


# ------------------------------------------------------------------------------------------- reading


def read_input(path: str | os.PathLike[str], limits: Limits | None = None) -> bytes:
    """The bytes of the file at ``path``; refuses files over ``limits.max_bytes`` without reading them."""
    limits = limits or Limits()
    p = Path(path)
    try:
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise InputError(f"{p.name} is a folder, not an image file")
            if stat.S_ISREG(st.st_mode) and st.st_size > limits.max_bytes:
                raise _too_many_bytes(st.st_size, limits)
            data = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"file not found: {p}") from None
    except IsADirectoryError:
        raise InputError(f"{p.name} is a folder, not an image file") from None
    except PermissionError:
        raise InputError(f"no permission to read {p}") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise _too_many_bytes(len(data), limits)
    return data


def _too_many_bytes(n: int, limits: Limits) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"the file is too large ({n / 2**20:.3g} MiB); the limit is {limits.max_bytes / 2**20:.3g} MiB "
        f"(raise it with {limits.bytes_setting})"
    )


def load_image(
    source: bytes | bytearray | str | os.PathLike[str], limits: Limits | None = None
) -> LoadedImage:
    """Read and check an image; see the module docstring for what is checked and converted."""
    limits = limits or Limits()
    data = bytes(source) if isinstance(source, bytes | bytearray) else read_input(source, limits)
    if not data:
        raise NotAnImageError("the file is empty")
    if len(data) > limits.max_bytes:
        raise _too_many_bytes(len(data), limits)
    fmt = sniff_format(data)
    if fmt is None:
        other = _name_other_format(data)
        if other:
            raise UnsupportedFormatError(f"{other} images are not supported; use {SUPPORTED}")
        raise NotAnImageError(f"this is not an image file (expected {SUPPORTED})")
    _check_complete(fmt, data)

    im = _open_header(fmt, data)
    try:
        _check_header(im, limits)
        if fmt == "tiff" and not _tiff_strips_inside(im, len(data)):
            raise TruncatedImageError(_damaged(fmt))
        try:
            im.load()
        except MemoryError:
            raise ImageTooLargeError("not enough memory to open this image") from None
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
            raise TruncatedImageError(_damaged(fmt)) from exc
        return _normalise(im, fmt, data)
    finally:
        im.close()


def _damaged(fmt: str) -> str:
    return f"the {fmt.upper()} file is damaged or incomplete (was it fully downloaded?)"


def _open_header(fmt: str, data: bytes) -> Image.Image:
    """Open (header only) with the one plugin the magic bytes name; Pillow's bomb check becomes ours."""
    try:
        with warnings.catch_warnings():
            # Our own pixel limit (checked next) decides; Pillow's warning is only noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[_PIL_NAME[fmt]])
    except Image.DecompressionBombError:
        raise ImageTooLargeError(
            f"the image declares over {hard_max_megapixels():.0f} megapixels, more than artshade can open "
            "(or a decompression bomb); refused"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        if "too large" in str(exc).lower():
            raise ImageTooLargeError("the image metadata is too large to read safely") from None
        raise TruncatedImageError(_damaged(fmt)) from exc


def _check_header(im: Image.Image, limits: Limits) -> None:
    w, h = im.size
    if w * h > limits.max_pixels:
        raise ImageTooLargeError(
            f"the image is too large: {w}x{h} is {w * h / 1e6:.3g} megapixels, over the limit of "
            f"{limits.max_pixels / 1e6:g} (raise it with {limits.pixels_setting})"
        )
    if min(w, h) < limits.min_side:
        raise ImageTooSmallError(
            f"the image is too small: {w}x{h}; each side must be at least {limits.min_side} pixels"
        )
    if im.format == "MPO":  # camera JPEG with extra pictures (previews, depth): the first is the photo
        return
    try:
        frames = int(getattr(im, "n_frames", 1))
    except Exception as exc:
        raise TruncatedImageError(_damaged(str(im.format))) from exc
    if frames > 1 or getattr(im, "is_animated", False):
        raise UnsupportedFormatError(
            f"animated or multi-page images ({frames} frames) are not supported; save a single still "
            f"image as {SUPPORTED}"
        )


def _check_complete(fmt: str, data: bytes) -> None:
    """Structural end-of-file checks, so a cut-off download is refused whatever Pillow's settings are."""
    ok = True
    if fmt == "png":
        ok = _png_has_iend(data)
    elif fmt == "jpeg":
        ok = _jpeg_has_eoi(data)
    elif fmt == "webp":
        (riff_size,) = struct.unpack_from("<I", data, 4)
        ok = len(data) >= 8 + riff_size
    if not ok:
        raise TruncatedImageError(_damaged(fmt))


def _tiff_strips_inside(im: Image.Image, n: int) -> bool:
    """Every strip or tile the TIFF header points at lies inside the file."""
    tags = getattr(im, "tag_v2", {})
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        if any(int(o) + int(c) > n for o, c in zip(offsets, counts, strict=False)):
            return False
    return True


def _png_has_iend(data: bytes) -> bool:
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from(">I4s", data, pos)
        pos += 12 + length
        if pos > len(data):
            return False
        if ctype == b"IEND":
            return True
    return False


def _jpeg_has_eoi(data: bytes) -> bool:
    """Walk the marker segments to the first scan, then look for the end-of-image marker after it."""
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return False  # EOI before any scan: no picture
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows; 0xFFD9 only occurs as EOI
            return data.find(b"\xff\xd9", min(pos, n)) != -1
    return False


def _webp_is_lossless(data: bytes) -> bool:
    pos = 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        pos += 8 + size + (size & 1)
    return False


# ------------------------------------------------------------------------------------- normalisation


def _normalise(im: Image.Image, fmt: str, data: bytes) -> LoadedImage:
    source_mode = im.mode
    info = dict(im.info)
    # Read after load(): Pillow's TIFF loader turns the pixels upright itself and then drops the tag.
    exif = im.getexif()
    orientation = exif.get(_ORIENTATION, 1)
    exif_bytes = _tiff_exif(im) if fmt == "tiff" else _raw_exif(info.get("exif"))
    if exif_bytes is None and fmt != "tiff" and len(exif):  # e.g. PNG text "Raw profile type exif"
        exif_bytes = exif.tobytes()
    xmp = info.get("xmp")

    if im.mode == "F":
        raise UnsupportedFormatError(
            f"floating-point images are not supported; save as 8 or 16-bit {SUPPORTED}"
        )
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        im = _sixteen_to_8bit(im)

    base, alpha = _split_alpha(im)
    rgb, icc = _to_srgb(base, info.get("icc_profile") or None)

    method = _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    if method is not None:
        rgb = rgb.transpose(method)
        alpha = alpha.transpose(method) if alpha is not None else None

    dpi = info.get("dpi")
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        format=fmt,
        exif=_reset_orientation(exif_bytes) if exif_bytes else None,
        icc_profile=icc,
        dpi=(float(dpi[0]), float(dpi[1])) if dpi and len(dpi) == 2 and all(dpi) else None,
        lossless_webp=fmt == "webp" and _webp_is_lossless(data),
        source_mode=source_mode,
        xmp=_XMP_ORIENTATION.sub(rb"\g<1>1", _as_bytes(xmp)) or None,
    )


def _as_bytes(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    return bytes(value) if isinstance(value, bytes | bytearray) else b""


def _sixteen_to_8bit(im: Image.Image) -> Image.Image:
    """Scale a 16-bit (or 32-bit integer, clipped to 16-bit) greyscale image to 8 bits, rounding."""
    arr = np.asarray(im).astype(np.int64)
    arr = np.clip(arr, 0, 65535)
    out = Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8))
    if "transparency" in im.info and isinstance(im.info["transparency"], int):
        t = int(im.info["transparency"])
        alpha = Image.fromarray(np.where(np.asarray(im).astype(np.int64) == t, 0, 255).astype(np.uint8))
        out = Image.merge("LA", (out, alpha))
    return out


def _split_alpha(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(colour image in L, RGB or CMYK, alpha in L or None)."""
    grey = im.mode in ("1", "L", "LA", "La") or (im.mode in ("P", "PA") and _palette_is_grey(im))
    try:
        if im.has_transparency_data:
            both = im.convert("LA" if grey else "RGBA")
            return both.convert("L" if grey else "RGB"), both.getchannel("A")
        if im.mode in ("L", "RGB", "CMYK"):
            return im.copy(), None  # detached from the file, which load_image closes
        return im.convert("L" if grey else "RGB"), None
    except (ValueError, OSError) as exc:
        raise UnsupportedFormatError(
            f"images in colour mode {im.mode} are not supported; save as RGB {SUPPORTED}"
        ) from exc


def _palette_is_grey(im: Image.Image) -> bool:
    palette = im.getpalette("RGB") or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


_COLOUR_SPACE = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK"}


def _to_srgb(base: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """RGB pixels and the ICC profile that describes them (None = assume sRGB)."""
    space = _profile_space(icc) if icc else None
    if space != _COLOUR_SPACE.get(base.mode):
        icc = None  # no profile, or one that does not match the pixels: ignore it
    if base.mode == "RGB":
        return base, icc
    if icc is not None:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(  # relative colorimetric + black point compensation
                base,
                src,
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
            )
            if rgb is not None:
                return rgb, srgb_profile()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain conversion
    return base.convert("RGB"), None


def _profile_space(icc: bytes) -> str | None:
    try:
        return str(ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space).strip()
    except Exception:
        return None


def srgb_profile() -> bytes:
    """The bytes of an sRGB ICC profile (made by LittleCMS, no file needed)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ---------------------------------------------------------------------------------------------- EXIF


def _raw_exif(raw: object) -> bytes | None:
    if not isinstance(raw, bytes | bytearray) or not raw:
        return None
    raw = bytes(raw)
    return raw if raw.startswith(_EXIF_HEADER) else _EXIF_HEADER + raw


def _tiff_exif(im: Image.Image) -> bytes | None:
    """The descriptive tags of a TIFF (artist, copyright, Exif and GPS sub-IFDs...) as an EXIF block."""
    src = im.getexif()
    out = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE:
        if tag in src:
            out[tag] = src[tag]
    for tag in (_EXIF_IFD, _GPS_IFD):
        with contextlib.suppress(Exception):
            ifd = src.get_ifd(tag)
            if ifd:
                out.get_ifd(tag).update(ifd)
    if _ORIENTATION in src:
        out[_ORIENTATION] = 1
    if not len(out):
        return None
    return out.tobytes()


def _reset_orientation(exif: bytes) -> bytes:
    """``exif`` with the Orientation tag of IFD0 set to 1, patched in place so every other byte is kept."""
    tiff = 6  # offset of the TIFF header after "Exif\0\0"
    try:
        order = {b"II": "<", b"MM": ">"}[exif[tiff : tiff + 2]]
        (ifd,) = struct.unpack_from(order + "I", exif, tiff + 4)
        pos = tiff + ifd
        (count,) = struct.unpack_from(order + "H", exif, pos)
        for i in range(count):
            entry = pos + 2 + 12 * i
            tag, typ, n = struct.unpack_from(order + "HHI", exif, entry)
            if tag == _ORIENTATION and typ == 3 and n == 1:
                patched = bytearray(exif)
                struct.pack_into(order + "H", patched, entry + 8, 1)
                return bytes(patched)
        return exif
    except (KeyError, struct.error):
        pass
    try:  # unusual layout: let Pillow rewrite it
        parsed = Image.Exif()
        parsed.load(exif)
        if _ORIENTATION in parsed:
            parsed[_ORIENTATION] = 1
        return parsed.tobytes()
    except Exception:
        return exif


def _exif_for_tiff(exif: bytes) -> Image.Exif:
    """The EXIF tags to write into a TIFF's own directory, minus those that describe another file's layout."""
    parsed = Image.Exif()
    parsed.load(exif)
    for tag in [t for t in parsed if t in _TIFF_LAYOUT or t == _XMP_TAG]:
        del parsed[tag]
    return parsed


# ------------------------------------------------------------------------------------------- writing


def encode_image(
    rgb: Image.Image, like: LoadedImage, fmt: str | None = None, *, jpeg_quality: int = 95
) -> bytes:
    """Encode ``rgb`` as ``fmt`` (default: the source's format) with the source's alpha and metadata.

    The alpha channel goes back byte for byte when ``rgb`` has the source's size (it is resized with the
    pixels otherwise).  JPEG cannot store alpha: a source with any transparency is refused as JPEG.
    EXIF, XMP, ICC profile and DPI are written back where the format holds them (WebP has no DPI).
    JPEG is 4:4:4 at ``jpeg_quality``; PNG lossless; WebP lossless when the source was lossless WebP or has
    alpha, else quality 95; TIFF deflate (uncompressed when the EXIF has Exif/GPS sub-directories).
    """
    out_fmt = _check_format(fmt or like.format)
    if rgb.mode != "RGB":
        rgb = rgb.convert("RGB")
    alpha = like.alpha
    if alpha is not None and alpha.size != rgb.size:
        alpha = alpha.resize(rgb.size, Image.Resampling.LANCZOS)
    if alpha is not None and out_fmt == "jpeg":
        if alpha.getextrema() != (255, 255):
            raise OutputError(
                "this image has transparency, which JPEG cannot store; choose png, webp or tiff"
            )
        alpha = None
    image = rgb if alpha is None else Image.merge("RGBA", (*rgb.split(), alpha))

    params: dict[str, object] = {}
    if like.icc_profile:
        params["icc_profile"] = like.icc_profile
    if like.dpi and out_fmt != "webp":
        params["dpi"] = like.dpi
    if out_fmt == "tiff":
        tiff_tags = _exif_for_tiff(like.exif) if like.exif else Image.Exif()
        if like.xmp:
            tiff_tags[_XMP_TAG] = like.xmp
        if len(tiff_tags):
            params["exif"] = tiff_tags
    elif like.exif:
        params["exif"] = like.exif
    if like.xmp and out_fmt in ("jpeg", "webp"):
        params["xmp"] = like.xmp
    if like.xmp and out_fmt == "png":
        text = PngImagePlugin.PngInfo()
        text.add_itxt("XML:com.adobe.xmp", like.xmp.decode("utf-8", "replace"))
        params["pnginfo"] = text

    if out_fmt == "jpeg":
        params.update(quality=int(jpeg_quality), subsampling=0, optimize=True)
    elif out_fmt == "png":
        params.update(compress_level=6)
    elif out_fmt == "webp":
        if like.lossless_webp or alpha is not None:
            params.update(lossless=True, exact=True, quality=80, method=4)
        else:
            params.update(quality=95, method=4)
    else:
        # Deflate goes through libtiff, which Pillow cannot hand EXIF/GPS sub-directories to; rather than
        # drop the camera and date tags, such files are written uncompressed (still lossless).
        exif_obj = params.get("exif")
        sub_ifds = isinstance(exif_obj, Image.Exif) and any(t in exif_obj for t in (_EXIF_IFD, _GPS_IFD))
        params.update(compression="raw" if sub_ifds else "tiff_adobe_deflate")

    buf = io.BytesIO()
    try:
        image.save(buf, format=_PIL_NAME[out_fmt], **params)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"could not encode the image as {out_fmt.upper()}: {exc}") from exc
    return buf.getvalue()


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, forbid: Iterable[str | os.PathLike[str]] = ()
) -> None:
    """Write ``data`` to ``path`` all at once (``artshade.files.write_atomic``), refusing to write over any
    path in ``forbid`` (the originals), however it is spelled or linked; any failure is an OutputError."""
    try:
        files.write_atomic(path, data, forbid=forbid)
    except OSError as exc:
        raise OutputError(f"could not write {Path(path).name}: {exc.strerror or exc}") from exc
