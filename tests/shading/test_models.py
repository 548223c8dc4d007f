"""Putting weights in place: `artshade models add` / `models fetch --from` (copied, checked, atomic) and
`models fetch` failing fast, in one line that says what to do, when the model hub cannot be reached."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from artshade.shading import models
from artshade.shading.encoders.tiny import VARIANTS, TinyAutoencoder
from artshade.shading.errors import ModelError

from artshade.cli import main

TAEF2_FILES = ["taef2_decoder.pth", "taef2_encoder.pth"]


def _weights(folder: Path) -> list[str]:
    """Every entry in ``folder``, hidden ones included (a failed add must leave no staging folder)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_models_package_starts_without_torch() -> None:
    """`artshade models list/add/fetch` start fast: naming the models package loads no torch (only loading
    an encoder does), and each job is its own module behind the package's one face."""
    probe = (
        "import sys\n"
        "from artshade.shading import models\n"
        "from artshade.shading.models import catalog, folder, hub, install, load\n"
        "assert models.add is install.add and models.fetch is hub.fetch and models.locate is folder.locate\n"
        "assert models.load_encoder is load.load_encoder and models.CATALOGUE is catalog.CATALOGUE\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout[:200]


def test_every_tiny_autoencoder_has_a_catalogue_entry() -> None:
    assert all(models.CATALOGUE[name].kind == "tiny-ae" for name in VARIANTS)


def test_add_copies_and_checks_pinned_weights(models_dir: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "cache"
    assert main(["models", "add", str(models_dir), "--models", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "taef2" in out and "checksums match" in out
    assert _weights(dest) == TAEF2_FILES
    for name in TAEF2_FILES:
        assert (dest / name).read_bytes() == (models_dir / name).read_bytes()
    assert models.locate("taef2", dest) == dest / "taef2_encoder.pth"
    assert main(["models", "add", str(models_dir), "--models", str(dest)]) == 0
    assert "already installed" in capsys.readouterr().out


def test_add_goes_where_the_cli_looks(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, isolated_home
) -> None:
    """No --models: ARTSHADE_MODELS if set, else the user cache, the folder protect then reads."""
    monkeypatch.delenv("ARTSHADE_MODELS")
    assert (
        main(["models", "add", str(models_dir / "taef2_encoder.pth"), str(models_dir / "taef2_decoder.pth")])
        == 0
    )
    assert _weights(isolated_home / "cache" / "models") == TAEF2_FILES
    assert models.locate("taef2") is not None


def test_a_damaged_file_is_refused_and_nothing_is_installed(tmp_path: Path, capsys) -> None:
    src, dest = tmp_path / "usb", tmp_path / "cache"
    src.mkdir()
    (src / "taef2_encoder.pth").write_bytes(os.urandom(4096))
    (src / "taef2_decoder.pth").write_bytes(os.urandom(4096))
    assert main(["models", "add", str(src), "--models", str(dest)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.count("\n") == 0
        and "not the published taef2_encoder.pth" in err
        and "nothing was installed" in err
    )
    assert _weights(dest) == []


def test_weights_with_no_pinned_checksum_must_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src, dest = tmp_path / "usb", tmp_path / "cache"
    src.mkdir()
    torch.manual_seed(0)
    ae = TinyAutoencoder(VARIANTS["taesd"])
    hub = {f"encoder.layers.{k}": v for k, v in ae.encoder.state_dict().items()}
    save_file(hub, str(src / "taesd.safetensors"))
    (added,) = models.add([src], dest)
    assert (added.model, added.checked) == ("taesd", "loads") and _weights(dest) == ["taesd.safetensors"]

    (src / "taesd.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read taesd weights"):
        models.add([src], tmp_path / "other")
    assert _weights(tmp_path / "other") == []


def test_fetch_from_a_folder_takes_only_the_named_models(models_dir: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "cache"
    assert main(["models", "fetch", "taef2", "--from", str(models_dir), "--models", str(dest)]) == 0
    assert _weights(dest) == TAEF2_FILES
    assert main(["models", "fetch", "taesd", "--from", str(models_dir), "--models", str(dest)]) == 2
    err = capsys.readouterr().err
    assert f"taesd not found in {models_dir}" in err and "taesd_encoder.pth" in err


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "nowhere", "no such file or folder"),
        (lambda d: _touch(d / "notes.txt"), "not a model file artshade knows"),
        (lambda d: _touch(d / "folder" / "notes.txt").parent, "no model files artshade knows"),
    ],
)
def test_add_with_nothing_to_add_is_one_line(make, needle, tmp_path: Path, capsys) -> None:
    assert main(["models", "add", str(make(tmp_path)), "--models", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("hello")
    return path


# -- offline ------------------------------------------------------------------------------------------------


def _fetch_cli(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`artshade models fetch taef2` as a user runs it, with the model hub switched on."""
    environ = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    environ.update(ARTSHADE_HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), **env)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "artshade", "models", "fetch", "taef2"], env=environ,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    return done, time.monotonic() - started


@pytest.mark.parametrize("endpoint", ["http://nonexistent.invalid", "closed-port"])
def test_fetch_without_the_hub_fails_fast_in_one_line(endpoint: str, tmp_path: Path) -> None:
    if endpoint == "closed-port":
        with socket.socket() as s:  # a port nobody listens on: connection refused
            s.bind(("127.0.0.1", 0))
            endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
    done, seconds = _fetch_cli(tmp_path, HF_ENDPOINT=endpoint)
    assert done.returncode == 2
    err = done.stderr.strip()
    assert err.count("\n") == 0, err  # no retry noise from the hub client
    assert seconds < 5, f"took {seconds:.1f} s"
    cache = tmp_path / "home" / "cache" / "models"
    for needle in ("cannot download taef2", "taef2_encoder.pth + taef2_decoder.pth",
                   f"{cache} (the user cache)", "artshade models add DIR", "--models DIR",
                   "ARTSHADE_MODELS=DIR"):  # fmt: skip
        assert needle in err, err
    assert not cache.exists() or _weights(cache) == []


def test_fetch_says_when_the_hub_is_switched_off(tmp_path: Path) -> None:
    done, _ = _fetch_cli(tmp_path, HF_HUB_OFFLINE="1")
    assert done.returncode == 2 and "switched off (HF_HUB_OFFLINE)" in done.stderr
