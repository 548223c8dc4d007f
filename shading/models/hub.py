"""``artshade models fetch NAME`` (``fetch``): the one place that goes online.

It first checks, within ``HUB_PROBE_S``, that the model hub (or the proxy in front of it) answers at all, so
an offline machine gets one line that says what to do instead of the hub client's retries.  Nothing is ever
downloaded implicitly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from artshade import paths
from artshade.files import write_atomic

from ..errors import ModelError
from .catalog import spec_of
from .folder import missing_message, models_dir

#: seconds ``fetch`` waits for the model hub (or the proxy in front of it) to accept a connection
HUB_PROBE_S = 3.0
#: seconds the hub client waits for a file's metadata once the hub has answered
HUB_ETAG_TIMEOUT_S = 10.0


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def fetch(name: str, folder: Path | None = None, *, progress: bool = True) -> Path:
    """Download ``name`` from the model hub into the models folder.  The only code that goes online.

    Offline (no route, no name resolution, HF_HUB_OFFLINE) it fails within ``HUB_PROBE_S`` seconds with one
    line saying what is missing and how else to provide it."""
    spec = spec_of(name)
    folder = folder or models_dir()
    endpoint = hub_endpoint()
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            raise ModelError(
                missing_message(
                    [name], folder, f"cannot download {name}: the model hub is switched off ({var})"
                )
            )
    problem = probe(endpoint, HUB_PROBE_S)
    if problem is not None:
        raise ModelError(missing_message([name], folder, f"cannot download {name}: {problem}"))
    try:
        from huggingface_hub import hf_hub_download, snapshot_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

        (enable_progress_bars if progress else disable_progress_bars)()
        with _quiet_hub():
            if spec.kind == "tiny-ae":
                got = Path(hf_hub_download(spec.hub_id, spec.files[0], endpoint=endpoint,
                                           etag_timeout=HUB_ETAG_TIMEOUT_S))  # fmt: skip
                paths.ensure(folder)
                dest = folder / f"{name}.safetensors"
                write_atomic(dest, got.read_bytes())
                return dest
            dest = folder / name
            snapshot_download(spec.hub_id, local_dir=dest, allow_patterns=list(spec.allow) or None,
                              endpoint=endpoint, etag_timeout=HUB_ETAG_TIMEOUT_S)  # fmt: skip
            return dest
    except ModelError:
        raise
    except Exception as err:
        detail = (str(err).strip().splitlines() or [""])[0][:200]
        raise ModelError(
            missing_message(
                [name],
                folder,
                f"downloading {name} ({spec.hub_id}) from {endpoint} failed: {type(err).__name__}: {detail}",
            )
        ) from err


def probe(url: str, timeout: float) -> str | None:
    """None when a TCP connection to ``url``'s host (or the proxy for it) opens within ``timeout``
    seconds; otherwise why not, in words.  Name resolution has no timeout of its own, hence the thread."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    via = ""
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        via, host, port = f" through the proxy {p.hostname}", p.hostname or "", p.port or 8080
    errors: list[OSError] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as err:
            errors.append(err)

    worker = threading.Thread(target=connect, name="artshade-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"the model hub ({host}{via}) did not answer within {timeout:.0f} s"
    if not errors:
        return None
    err = errors[0]
    if isinstance(err, socket.gaierror):
        return f"the model hub's address ({host}{via}) cannot be resolved (offline?)"
    return f"cannot connect to the model hub ({host}:{port}{via}): {err.strerror or err}"


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """The hub client logs a warning per retry; the one line our error gives is enough."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
