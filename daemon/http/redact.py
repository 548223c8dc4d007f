"""What an extension may read: names, never the artist's paths.

A paired extension runs in a browser, next to pages; nothing it receives from the daemon may name a file or
folder on this machine (the model cache in a ``model_unavailable`` error, a report's
``settings.target_image`` and ``targets[].path``, ``/v1/status``'s ``models[].location``).  :func:`redact`
turns every path in a JSON value into its last part (``/home/ann/.cache/artshade/models`` -> ``models``);
:func:`for_caller` does so for an extension and hands the artist at the machine everything.  The API's own
endpoint paths (``/v1/...``) and URLs are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

from .powers import Caller

#: an absolute POSIX path, a home-relative one, or a Windows drive or UNC path, up to a space or quote.
_PATH = re.compile(
    r"""(?<![\w.:/\\])(?:~?/|[A-Za-z]:[\\/]|\\\\)[^\s'"`<>|,;()\[\]{}]*""",
)
_API = ("/v1/", "/v1")


def redact_text(text: str) -> str:
    """``text`` with each path replaced by its last part."""

    def last_part(match: re.Match[str]) -> str:
        path = match.group(0)
        if path.startswith(_API) or path in ("/", "~/"):
            return path
        trailing = ""
        while path and path[-1] in ".:!?":
            path, trailing = path[:-1], path[-1] + trailing
        parts = [p for p in re.split(r"[\\/]+", path) if p and not re.fullmatch(r"[A-Za-z]:|~", p)]
        return (parts[-1] if parts else "") + trailing

    return _PATH.sub(last_part, text)


def redact(value: Any) -> Any:
    """A copy of a JSON value with every path in its strings (keys included) cut to its last part."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(k) if isinstance(k, str) else k: redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def for_caller(value: Any, caller: Caller | None) -> Any:
    """``value`` as is for the artist at the machine; redacted for an extension (or an unknown caller)."""
    return value if caller is not None and caller.at_machine else redact(value)
