"""Property-based runs of daemon/http/openapi.yaml against a real daemon (schemathesis), as the artist's
command line (the daemon token, no Origin): every check schemathesis has, no server errors, no response
outside what the description promises, and every request the description allows is accepted.

- Stateless: bounded examples for every operation.
- Stateful: sequences that follow the description's links (``POST /v1/protect`` -> the five job endpoints
  through ``job_id``; ``POST /v1/pair/code`` -> ``POST /v1/pair`` with the code it returned).

The daemon runs with a throwaway config (its settings are the fuzzer's to overwrite) and an instant engine
stub: what is under test is the API, not the shading.  Image bodies are real pictures in the format the
media type names (the description says "a PNG image"; JSON Schema cannot say what a PNG is).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from artshade.daemon.config import DaemonConfig
from artshade.daemon.http.server import Server
from artshade.daemon.jobs.cache import Result
from daemon_helpers import AUTH, TOKEN, ThreadedDaemon, image_bytes
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

SPEC = resources.files("artshade.daemon.http").joinpath("openapi.yaml")
#: The suite runs the same examples every time (a CI run that fails, fails again on a rerun, and a
#: finding becomes a fixed case below).  ARTSHADE_FUZZ_EXPLORE=1 draws new ones: run it for a while after
#: changing the daemon or its description (each finding so far is now a regression test elsewhere).
EXPLORE = os.environ.get("ARTSHADE_FUZZ_EXPLORE", "") not in ("", "0")


def pictures(fmt: str) -> list[bytes]:
    """A few small real pictures in ``fmt`` (different sizes and modes)."""
    out = []
    for variant, (size, mode) in enumerate(((64, "RGB"), (48, "RGBA"), (96, "L"))):
        picture = Image.open(io.BytesIO(image_bytes(size=size, variant=variant))).convert(mode)
        if fmt == "JPEG" and mode == "RGBA":
            picture = picture.convert("RGB")
        buf = io.BytesIO()
        picture.save(buf, fmt)
        out.append(buf.getvalue())
    return out


IMAGES = {f"image/{f.lower()}": pictures(f) for f in ("PNG", "JPEG", "WEBP", "TIFF")}
ANY_IMAGE = [data for group in IMAGES.values() for data in group]
for media_type, samples in IMAGES.items():
    schemathesis.openapi.media_type(media_type, st.sampled_from(samples))
schemathesis.openapi.media_type("application/octet-stream", st.sampled_from(ANY_IMAGE))

schema = schemathesis.openapi.from_path(str(SPEC))

#: where a request can fit the schema and still be refused for what it means: watch-folder paths must be
#: real, separate, unlinked, non-system folders (422), and a checked picture must be one the daemon
#: protected (404, 422 when it is another picture), which JSON Schema cannot say.
SEMANTIC_422 = ("/v1/settings", "/v1/check")


class InstantEngine:
    """Answers every job at once with a real small PNG (or the error a real engine gives for a bad image)."""

    def __call__(self, data: bytes, settings: Any, **_: Any) -> Result:
        from artshade.shading.io import load_image

        loaded = load_image(data)
        w, h = loaded.rgb.size
        return Result(image_bytes(size=32), "png", "image/png", w, h, {"stub": True, "pixels": w * h})


def fuzz_config(root: Path, models_dir: Path) -> DaemonConfig:
    return DaemonConfig(port=0, token=TOKEN, models_dir=models_dir, config_dir=root / "config",
                        data_dir=root / "data", cache_dir=root / "cache", watch_folders=False,
                        engine=InstantEngine())  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Server]:
    with ThreadedDaemon(fuzz_config(tmp_path_factory.mktemp("fuzz"), models_dir)) as server:
        yield server


def auth_for(case: schemathesis.Case) -> dict[str, str]:
    """The daemon token, unless this case's headers are the part made invalid on purpose (then what the case
    sends, or leaves out, is the point: adding the token back would make a valid request of it)."""
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return {} if header is not None and header.mode == GenerationMode.NEGATIVE else dict(AUTH)


def wait_until_settled(url: str, job_id: str) -> None:
    import json
    import time
    import urllib.request

    request = urllib.request.Request(f"{url}/v1/jobs/{job_id}", headers=dict(AUTH))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=10) as answer:
            if json.load(answer)["state"] not in ("queued", "running"):
                return
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish within 30 s")


def excluded_for(path: str) -> list[Any]:
    return [positive_data_acceptance] if path in SEMANTIC_422 else []


def test_description_is_valid_openapi_3_1() -> None:
    import yaml
    from openapi_spec_validator import validate

    document = yaml.safe_load(SPEC.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_described_choices_are_the_engines_choices() -> None:
    # A name the description allows and the daemon refuses (or the reverse) is what the fuzzer finds late.
    import yaml
    from artshade.shading import settings as engine

    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    named = {"Preset": engine.PRESETS, "Intensity": engine.INTENSITIES, "Mode": engine.MODES,
             "Platform": engine.PLATFORMS, "Format": engine.FORMATS, "Target": engine.TARGETS}  # fmt: skip
    for schema, allowed in named.items():
        assert tuple(schemas[schema]["enum"]) == allowed, schema
    for part in ("Settings", "MachineSettings"):
        assert schemas[part]["properties"]["target"]["enum"] == [*engine.TARGETS, "", None]
    assert schemas["MachineSettings"]["properties"]["device"]["enum"] == [*engine.DEVICES, None]


def test_every_job_endpoint_and_pairing_are_reachable_through_links() -> None:
    import yaml

    document = yaml.safe_load(SPEC.read_text())
    ops = {
        op["operationId"]: op
        for item in document["paths"].values()
        for op in item.values()
        if "operationId" in op
    }
    linked = set()
    for op in ops.values():
        for response in op["responses"].values():
            for link in response.get("links", {}).values() if isinstance(response, dict) else ():
                linked.add(link["operationId"])
    assert {"getJob", "cancelJob", "jobEvents", "jobResult", "jobReport", "pair"} <= linked


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None,
          derandomize=not EXPLORE)  # fmt: skip
def test_no_server_errors(case: schemathesis.Case, live: Server) -> None:
    case.call_and_validate(
        base_url=live.url,
        headers=auth_for(case),
        timeout=30,
        excluded_checks=excluded_for(case.operation.path),
    )


StateMachine = schema.as_state_machine()


def test_stateful(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> None:
    class Fuzz(StateMachine):  # type: ignore[misc,valid-type]
        """Each sequence meets a fresh daemon: which transitions exist depends on the answers (200 or 202, a
        cached result, a pairing-code rate limit), so a daemon carried over from earlier sequences would make
        the same draws take another path, which hypothesis reports as FlakyStrategyDefinition."""

        def setup(self) -> None:
            self.daemon = ThreadedDaemon(fuzz_config(tmp_path_factory.mktemp("sequence"), models_dir))
            self.server = self.daemon.__enter__()

        def teardown(self) -> None:
            self.daemon.__exit__(None, None, None)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": self.server.url, "headers": auth_for(case), "timeout": 30}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            # A queued job finishes at once, but on the daemon's own thread: let it, so that the next
            # step's answer (running or done, 409 or 200) does not depend on the scheduler.
            if case.operation.path == "/v1/protect" and response.status_code == 202:
                wait_until_settled(self.server.url, response.json()["id"])

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=excluded_for(case.operation.path))

    Fuzz.run(
        settings=settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=not EXPLORE,
        )
    )
