"""Which pictures a batch shades, and where each protected copy goes.

``SRC`` is a folder (walked recursively; hidden and temporary files are left alone) or a manifest: a CSV file
(a column named ``path``, ``source`` or ``uri``, else the first column) or JSON Lines (each line a string
or an object with one of those keys).  A manifest's entries are local paths (relative ones are taken from the
manifest's folder) or URIs such as ``s3://bucket/key.jpg``, read through pyarrow's filesystems.

``OUT`` mirrors ``SRC``: a folder's pictures keep their path below it; a manifest's keep their path below the
deepest folder all its entries share (a URI's scheme and bucket count as folders).  ``--format`` changes the
extension.  Two pictures that would get the same output name are a refusal for the second, never an overwrite.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from artshade.files import is_temp_name, same_file
from artshade.shading import io
from artshade.shading.errors import InputError, SettingsError

#: what a folder walk takes (by extension; the content decides whether it really is a picture)
PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"})
MANIFEST_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
#: the names a manifest's column (or JSON key) with the picture may have
PATH_KEYS = ("path", "source", "uri")


@dataclass(frozen=True)
class Picture:
    """One picture: ``source`` (an absolute local path or a URI) and ``output`` (a local path)."""

    source: str
    output: str
    #: set when another picture already took this output name: that picture's source
    clash: str = ""


def is_uri(text: str) -> bool:
    """``s3://...``, ``gs://...``, ``file:///...``: anything pyarrow's filesystems open by URI."""
    scheme = urlsplit(text).scheme
    return "://" in text and len(scheme) > 1


def list_pictures(src: str, out: Path, fmt: str | None) -> list[Picture]:
    """The pictures under ``src`` (a folder or a manifest), each with its output path below ``out``."""
    if is_uri(src):
        keyed = _uri_source(src)
    else:
        path = Path(src).expanduser().absolute()
        if not path.exists():
            raise SettingsError(f"SRC {src} does not exist")
        if path.is_dir():
            _check_folders(path, out)
            keyed = [(str(p), rel) for p, rel in _walk(path)]
        else:
            keyed = _with_rel(list(_read_manifest(path.read_bytes(), path.name, str(path.parent.resolve()))))
    return _outputs(keyed, out, fmt)


def read_bytes(source: str, limits: io.Limits) -> bytes:
    """The bytes of one picture (a local path or a URI), refusing more than ``limits.max_bytes``."""
    if not is_uri(source):
        return io.read_input(source, limits)
    from pyarrow import fs as pafs

    try:
        filesystem, path = pafs.FileSystem.from_uri(source)
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise InputError(f"file not found: {source}")
        if info.type == pafs.FileType.Directory:
            raise InputError(f"{source} is a folder, not an image file")
        if info.size is not None and info.size > limits.max_bytes:
            raise io._too_many_bytes(info.size, limits)
        with filesystem.open_input_stream(path) as stream:
            data = stream.read(limits.max_bytes + 1)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise InputError(f"cannot read {source}: {one_line(exc)}") from None
    if len(data) > limits.max_bytes:
        raise io._too_many_bytes(len(data), limits)
    return bytes(data)


# ------------------------------------------------------------------------------------------------- folders


def _check_folders(src: Path, out: Path) -> None:
    s, o = src.resolve(), out.expanduser().resolve()
    if s == o or same_file(s, o):
        raise SettingsError("OUT must not be SRC: artshade never writes among the originals")
    if o.is_relative_to(s):
        raise SettingsError(f"OUT {out} is inside SRC {src}; choose a folder outside it")
    if s.is_relative_to(o):
        raise SettingsError(f"SRC {src} is inside OUT {out}; choose an OUT outside it")


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Pictures below ``root`` in a stable order, with their path relative to it (hidden names skipped)."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if (
                name.startswith(".")
                or is_temp_name(name)
                or Path(name).suffix.lower() not in PICTURE_SUFFIXES
            ):
                continue
            path = Path(folder) / name
            yield path, path.relative_to(root).as_posix()


# ----------------------------------------------------------------------------------------------- manifests


def _uri_source(src: str) -> list[tuple[str, str]]:
    """A folder or a manifest in object storage (or any pyarrow filesystem)."""
    from pyarrow import fs as pafs

    try:
        filesystem, root = pafs.FileSystem.from_uri(src)
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(root, recursive=True)
            found = sorted(i.path for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.File)
            base = src.rstrip("/")
            keyed = []
            for p in found:
                rel = PurePosixPath(p).relative_to(PurePosixPath(root)).as_posix()
                parts = rel.split("/")
                if any(part.startswith(".") for part in parts) or PurePosixPath(rel).suffix.lower() not in (
                    PICTURE_SUFFIXES
                ):
                    continue
                keyed.append((f"{base}/{rel}", rel))
            return keyed
        if info.type == pafs.FileType.NotFound:
            raise SettingsError(f"SRC {src} does not exist")
        with filesystem.open_input_stream(root) as stream:
            data = stream.read()
    except (OSError, ValueError) as exc:
        if isinstance(exc, SettingsError):
            raise
        raise SettingsError(f"cannot read SRC {src}: {one_line(exc)}") from None
    parent = src.rsplit("/", 1)[0]
    return _with_rel(list(_read_manifest(bytes(data), PurePosixPath(root).name, parent)))


def _read_manifest(data: bytes, name: str, base: str) -> Iterator[str]:
    """The entries of a CSV or JSON Lines manifest, relative ones joined to ``base``; duplicates once."""
    kind = MANIFEST_SUFFIXES.get(PurePosixPath(name).suffix.lower())
    if kind is None:
        if PurePosixPath(name).suffix.lower() in PICTURE_SUFFIXES:
            raise SettingsError(f"SRC {name} is one picture; use `artshade protect` for a single file")
        raise SettingsError(f"SRC {name} is neither a folder nor a manifest (.csv, .jsonl)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SettingsError(f"manifest {name} is not UTF-8 text") from None
    entries = _csv_entries(text, name) if kind == "csv" else _jsonl_entries(text, name)
    seen: set[str] = set()
    for entry in entries:
        full = entry
        if not is_uri(entry) and not os.path.isabs(entry):
            full = f"{base.rstrip('/')}/{entry}" if is_uri(base) else os.path.join(base, entry)
        if not is_uri(full):
            full = os.path.normpath(full)
        if full not in seen:
            seen.add(full)
            yield full


def _csv_entries(text: str, name: str) -> Iterator[str]:
    rows = [r for r in csv.reader(_io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(k) for k in PATH_KEYS if k in header), None)
    body = rows[1:] if column is not None else rows
    column = column or 0
    for n, row in enumerate(body, start=2 if body is not rows else 1):
        value = row[column].strip() if column < len(row) else ""
        if not value:
            raise SettingsError(f"manifest {name}, row {n}: no path")
        if not value.startswith("#"):
            yield value


def _jsonl_entries(text: str, name: str) -> Iterator[str]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise SettingsError(f"manifest {name}, line {n}: not JSON") from None
        if isinstance(value, dict):
            value = next((value[k] for k in PATH_KEYS if k in value), None)
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f'manifest {name}, line {n}: expected a path string or {{"path": ...}}')
        yield value.strip()


def _key(source: str) -> list[str]:
    """A source as folder parts: ``s3://bucket/a/b.jpg`` -> [s3, bucket, a, b.jpg]; a local path's parts."""
    if is_uri(source):
        parts = urlsplit(source)
        return [parts.scheme, parts.netloc, *[p for p in parts.path.split("/") if p]]
    return [p for p in Path(source).parts if p not in ("/", "\\")]


def _with_rel(sources: list[str]) -> list[tuple[str, str]]:
    """Each entry with its path below the deepest folder all entries share."""
    keys = [_key(s) for s in sources]
    if not keys:
        return []
    common = keys[0][:-1]
    for k in keys[1:]:
        n = 0
        while n < len(common) and n < len(k) - 1 and common[n] == k[n]:
            n += 1
        common = common[:n]
    return [(s, "/".join(k[len(common) :])) for s, k in zip(sources, keys, strict=True)]


# ------------------------------------------------------------------------------------------------- outputs


def output_rel(rel: str, fmt: str | None) -> str:
    """The output's path below OUT: the same, with the extension of ``fmt`` when a format is forced."""
    if fmt is None:
        return rel
    path = PurePosixPath(rel)
    ext = path.suffix.lower()
    same = {"jpeg": (".jpg", ".jpeg"), "tiff": (".tif", ".tiff")}.get(fmt, (io.extension(fmt),))
    return rel if ext in same else path.with_suffix(io.extension(fmt)).as_posix()


def _outputs(keyed: list[tuple[str, str]], out: Path, fmt: str | None) -> list[Picture]:
    root = out.expanduser().resolve()
    taken: dict[str, str] = {}
    pictures = []
    for source, rel in keyed:
        rel_out = output_rel(rel, fmt)
        if any(part in ("", ".", "..") for part in rel_out.split("/")):
            raise SettingsError(f"cannot place {source} below OUT (its path {rel!r} leaves the folder)")
        output = str(root.joinpath(*rel_out.split("/")))
        folded = output.casefold()  # a.JPG and a.jpg are one file on macOS and Windows
        clash = taken.setdefault(folded, source)
        pictures.append(Picture(source, output, clash if clash != source else ""))
    return pictures


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
