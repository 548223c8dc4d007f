"""The installed import names: everything lives under ``artshade.*`` (pyproject's package-dir mapping).

The folders ``shading/``, ``daemon/`` and ``native_messaging/`` sit at the top of the checkout, but
``daemon`` is python-daemon's import name and ``shading`` is generic: installed top-level, they could
shadow or be shadowed by a user's packages.  Run from a folder that is not the checkout, so the checkout
itself is not on ``sys.path``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import importlib.util, json
import artshade.shading, artshade.daemon, artshade.native_messaging
print(json.dumps({
    "shading": artshade.shading.__file__,
    "daemon": artshade.daemon.__file__,
    "native_messaging": artshade.native_messaging.__file__,
    "bare": {name: importlib.util.find_spec(name) is not None for name in ("shading", "native_messaging")},
    "bare_daemon_origin": getattr(importlib.util.find_spec("daemon"), "origin", None),
}))
"""


def test_parts_install_under_artshade(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    for part in ("shading", "daemon", "native_messaging"):
        assert Path(found[part]).resolve() == (REPO / part / "__init__.py").resolve()
    # nothing of ours answers to the bare names
    assert found["bare"] == {"shading": False, "native_messaging": False}
    origin = found["bare_daemon_origin"]
    assert origin is None or Path(origin).resolve().parent != (REPO / "daemon").resolve()


def test_no_bare_imports_of_the_parts() -> None:
    """Code imports the parts by their installed names only (a bare ``import daemon`` would find another)."""
    import re

    bare = re.compile(r"^\s*(from|import)\s+(shading|daemon|native_messaging)\b", re.M)
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("artshade", "shading", "daemon", "native_messaging", "tests", "bench")
        for path in (REPO / folder).rglob("*.py")
        if bare.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_every_test_import_is_declared() -> None:
    """`pip install -e '.[test]'` brings every third-party module the tests import, nothing else needed."""
    import ast
    import importlib.metadata as md
    import re

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {norm(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in md.requires("artshade") or []
                if 'extra == "bench"' not in r}  # fmt: skip
    ours = {"artshade"} | {p.stem for p in (REPO / "tests").rglob("*.py")}
    owners = md.packages_distributions()
    undeclared: dict[str, str] = {}
    for path in (REPO / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - ours - set(sys.stdlib_module_names):
                if not {norm(d) for d in owners.get(top, [])} & declared:
                    undeclared[top] = str(path.relative_to(REPO))
    assert undeclared == {}, "add these to pyproject's [test] extra"
