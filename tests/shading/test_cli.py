"""`artshade protect` and `artshade models`: the command contract other parts rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from artshade.cli import main


@pytest.fixture
def art(tmp_path: Path, small_photo: Image.Image) -> Path:
    path = tmp_path / "art.jpg"
    small_photo.save(path, quality=92)
    return path


@pytest.mark.usefixtures("models_dir")  # found through ARTSHADE_MODELS, as a user's CLI would
def test_protect_writes_output_report_and_preview(art: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.jpg"
    code = main(["protect", str(art), "-o", str(out), "--preset", "fast", "--platform", "instagram",
                 "--report", str(tmp_path / "r.json"), "--preview", str(tmp_path / "p.png"),
                 "--seed", "3"])  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["settings"]["platform"] == "instagram" and report["settings"]["seed"] == 3
    assert "instagram" in report["pull"]["taef2"]
    target = report["targets"][0]  # enough to make the same target again (`artshade check`)
    assert target["kind"] == "restyle" and target["seed"] == 3 and target["digest"].startswith("sha256:")
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (160, 112)
    err = capsys.readouterr().err.splitlines()
    # stderr is not a terminal here: plain progress lines (each stage at least), then the summary
    progress = [line for line in err if line.startswith("shading art.jpg: ")]
    assert progress[0] == "shading art.jpg:   0% loading, 0s elapsed", err
    assert any(" optimising, " in line for line in progress) and " 100% done, " in progress[-1], err
    assert err[-1].startswith("protected "), err


@pytest.mark.usefixtures("models_dir")
def test_a_quiet_command_measures_nothing(art: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """A quiet command prints nothing, so it spends no encoder passes on figures nobody reads (about 4 s of
    a 20 s command on a 2-core CPU); a plain one measures what it prints."""
    from artshade.shading import api

    measured: list[str] = []
    real = api.pull_report
    monkeypatch.setattr(api, "pull_report", lambda *a, **k: measured.append("pull") or real(*a, **k))
    args = ["protect", str(art), "--preset", "fast", "--platform", "instagram"]
    assert main([*args, "-o", str(tmp_path / "quiet.jpg"), "--quiet"]) == 0
    assert measured == [] and capsys.readouterr().err == ""
    assert (tmp_path / "quiet.jpg").is_file()
    assert main([*args, "-o", str(tmp_path / "plain.jpg")]) == 0
    assert measured == ["pull"]
    assert "pull " in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.usefixtures("models_dir")
def test_a_pattern_the_guard_could_not_remove_is_said_even_when_quiet(
    art: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from artshade.shading import api

    real = api.finish

    def unresolved(*args, **kwargs):
        delta, factor, info = real(*args, **kwargs)
        return delta, factor, {**info, "periodic_peak_unresolved": True}

    args = ["protect", str(art), "--preset", "fast", "--quiet", "-o"]
    assert main([*args, str(tmp_path / "plain.jpg")]) == 0
    assert capsys.readouterr().err == "", "nothing to say for an ordinary picture"
    monkeypatch.setattr(api, "finish", unresolved)
    assert main([*args, str(tmp_path / "patterned.jpg")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "--compare" in err[0], err


@pytest.mark.parametrize(
    ("make_input", "extra", "needle"),
    [
        (lambda d: d / "missing.png", [], "missing.png"),
        (lambda d: _write(d / "notes.png", b"hello"), [], "not an image"),
        (lambda d: _write(d / "empty.jpg", b""), [], "empty"),
        (None, ["--preset", "turbo"], "invalid choice"),
        (None, ["--target", "spirals"], "target must be one of auto, poster"),  # before any weights load
        (None, ["--format", "gif"], "format must be one of"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(make_input, extra, needle, art, tmp_path, capsys, request) -> None:
    src = make_input(tmp_path) if make_input else art
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(SystemExit) if "invalid choice" in needle else _no_raise():
        code = main(["protect", str(src), "-o", str(tmp_path / "out.png"), "--preset", "fast", *extra])
        assert code != 0
    err = capsys.readouterr().err.strip()
    assert needle.lower() in err.lower(), err
    if "invalid choice" not in needle:  # one line of error, after any progress lines of a run that began
        *progress, last = err.splitlines()
        assert last.startswith("artshade: error:") and all(line.startswith("shading ") for line in progress)
    assert not (tmp_path / "out.png").exists()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--max-megapixels", "0.1"], "400x300 is 0.12 megapixels, over the limit of 0.1 (raise it with "
                                      "--max-megapixels N)"),
        (["--max-file-mb", "0.0001"], "the limit is 0.0001 MiB (raise it with --max-file-mb N)"),
        (["--max-megapixels", "500"], "--max-megapixels can be at most 179"),
    ],
)  # fmt: skip
def test_limits_are_flags_and_a_refusal_names_the_flag(flags, needle, tmp_path: Path, capsys) -> None:
    scan = tmp_path / "scan.png"
    Image.new("RGB", (400, 300), (200, 180, 160)).save(scan)
    assert main(["protect", str(scan), "-o", str(tmp_path / "out.png"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    assert not (tmp_path / "out.png").exists()


def test_refuses_to_overwrite_the_input(art: Path, capsys) -> None:
    before = art.read_bytes()
    assert main(["protect", str(art), "-o", str(art), "--preset", "fast"]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert art.read_bytes() == before


def test_models_list_json(models_dir: Path, capsys) -> None:
    assert main(["models", "list", "--json", "--models", str(models_dir)]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in data["models"]}
    assert rows["taef2"]["installed"] is True and rows["sd15"]["installed"] is False


def test_models_fetch_offline_is_one_clear_line(tmp_path: Path, capsys) -> None:
    assert main(["models", "fetch", "taef2", "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "HF_HUB_OFFLINE" in err and "artshade models add DIR" in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_flags_spell_the_settings_words_and_defaults() -> None:
    """The command line offers exactly the settings module's words, and no flag means the setting's own
    default: a word added there, or a default changed, reaches `artshade protect` and `batch` unchanged."""
    import argparse

    from artshade.shading import settings
    from artshade.shading.cli import add_settings_flags, settings_from_args

    parser = argparse.ArgumentParser()
    add_settings_flags(parser)
    offered = {a.dest: a.choices for a in parser._actions if a.choices is not None}
    assert offered == {"preset": settings.PRESETS, "intensity": settings.INTENSITIES, "mode": settings.MODES,
                       "platform": settings.PLATFORMS, "fallback": settings.FALLBACKS,
                       "device": settings.DEVICES}  # fmt: skip
    assert settings_from_args(parser.parse_args([])) == settings.Settings()
    words = {a.dest: a.help or "" for a in parser._actions}
    assert all(t in words["target"] for t in settings.TARGETS)
    assert all(f in words["format"] for f in settings.FORMATS)
