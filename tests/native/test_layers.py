"""The native host reaches the daemon only through files whose formats the common layer keeps
(``artshade.pairing``, ``artshade.runtime``): no module of ``native_messaging``, nor any common module it
imports, imports the daemon or the engine.  Read from the source (every import, at the top or inside a
function), so an import made only on one path (``pair``, say) is caught too."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("artshade.daemon", "artshade.shading")


def source_of(module: str) -> Path | None:
    """The file of an ``artshade.*`` module in this checkout (the common layer or the host), else None."""
    parts = module.split(".")
    if parts[0] != "artshade":
        return None
    root = REPO / ("native_messaging" if parts[1:2] == ["native_messaging"] else "artshade")
    rest = parts[2:] if parts[1:2] == ["native_messaging"] else parts[1:]
    candidates = [root.joinpath(*rest, "__init__.py")]
    if rest:
        candidates.insert(0, root.joinpath(*rest).with_suffix(".py"))
    return next((c for c in candidates if c.is_file()), None)


def imports_of(path: Path, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def reached_from(paths: list[Path]) -> dict[str, str]:
    """Every artshade module imported from ``paths``, following the common layer's own imports."""
    seen: dict[str, str] = {}
    todo = [(p, "artshade.native_messaging") for p in paths]
    done: set[Path] = set()
    while todo:
        path, package = todo.pop()
        if path in done:
            continue
        done.add(path)
        for name in imports_of(path, package):
            if not name.startswith("artshade"):
                continue
            seen.setdefault(name, str(path.relative_to(REPO)))
            if name.startswith(FORBIDDEN):
                continue
            found = source_of(name)
            if found is not None:
                todo.append((found, name if found.name == "__init__.py" else name.rsplit(".", 1)[0]))
    return seen


def test_the_native_host_imports_neither_the_daemon_nor_the_engine() -> None:
    reached = reached_from(sorted((REPO / "native_messaging").glob("*.py")))
    offenders = {name: where for name, where in reached.items() if name.startswith(FORBIDDEN)}
    assert offenders == {}
    assert {"artshade.pairing", "artshade.runtime"} <= set(reached)  # the walk does see the two files
