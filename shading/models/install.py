"""``artshade models add PATH...`` (``add``; also ``models fetch NAME --from DIR``): copy model files from a
folder the artist has (a USB stick, a shared drive) into the models folder, checking each file whose bytes
are known (``sha256`` in the catalogue) against its checksum; a file with no pinned checksum must at least
load.  Nothing is put in place until every file has been copied and checked."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from artshade import paths
from artshade.files import fsync_folder, sha256_file

from ..errors import ModelError
from .catalog import CATALOGUE, marker_file, spec_of
from .folder import expected_files, models_dir, tiny_file_names, weight_files


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
    dest = folder or models_dir()
    roots = [Path(s).expanduser() for s in sources]
    for root in roots:
        if not root.exists():
            raise ModelError(f"{root}: no such file or folder")
    found = _model_files(roots)
    if only:
        for name in only:
            spec_of(name)
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
    found: dict[str, list[Path]] = {}
    tiny = [spec.name for spec in CATALOGUE.values() if spec.kind == "tiny-ae"]
    by_name = {f.name: n for n in tiny for f in tiny_file_names(n)}
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
                if candidate.name == spec.name and (candidate / marker_file(spec)).is_file():
                    found.setdefault(spec.name, [candidate])
    for name, files in found.items():
        if spec_of(name).kind == "tiny-ae":  # one layout per model: the pair if given, else the single file
            pair = [f for f in files if f.suffix == ".pth"]
            found[name] = sorted(pair, key=lambda f: "_decoder" in f.name) if pair else files[:1]
    return found


def _stage(name: str, sources: list[Path], staging: Path, dest: Path) -> tuple[list[tuple[Path, Path]], str]:
    """Copy ``name``'s files into ``staging`` and check them; returns ([(staged, final)], how checked)."""
    spec = spec_of(name)
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
        digest = sha256_file(src)
        expected = spec.checksum(final.name)
        if expected is not None and digest != expected:
            raise ModelError(
                f"{src} is not the published {final.name} (sha256 {digest[:16]}..., expected "
                f"{expected[:16]}...): it is damaged or a different file; nothing was installed"
            )
        pinned_all = pinned_all and expected is not None
        if final.is_file() and sha256_file(final) == digest:
            continue  # already in place, byte for byte
        staged = here / final.name
        _copy_file(src, staged)
        if sha256_file(staged) != digest:
            raise ModelError(f"copying {src} gave different bytes (a failing disk?); nothing was installed")
        moves.append((staged, final))
    if moves and not pinned_all:
        from ..encoders.tiny import TinyAutoencoder

        TinyAutoencoder.from_files(
            name, weight_files(here, name)
        )  # no checksum to compare with: they must at least load
    return moves, "sha256" if pinned_all else "loads"


def _copy_file(src: Path, dest: Path) -> None:
    """Copy with the data on disk (fsync) before the caller renames it into place."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
