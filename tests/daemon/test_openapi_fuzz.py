"""Property-based run of daemon/openapi.yaml against a real daemon (schemathesis): no 5xx, and the
responses match what the description promises.  Bounded examples per operation (well under a minute)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import schemathesis
from artshade.daemon.config import DaemonConfig
from artshade.daemon.server import Server
from daemon_helpers import AUTH, TOKEN, ThreadedDaemon
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

SPEC = resources.files("daemon").joinpath("openapi.yaml")
schema = schemathesis.openapi.from_path(str(SPEC))


#: where a request can fit the schema and still be refused for what it means: bytes that fit "a non-empty
#: image/png body" are almost never a picture (415); watch-folder paths must be absolute and distinct (422).
SEMANTIC_422 = ("/v1/protect", "/v1/settings")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, models_dir: Any) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    config = DaemonConfig(port=0, token=TOKEN, models_dir=models_dir, config_dir=root / "config",
                          data_dir=root / "data", cache_dir=root / "cache", watch_folders=False)  # fmt: skip
    with ThreadedDaemon(config) as server:
        yield server


def test_description_is_valid_openapi_3_1() -> None:
    import yaml
    from openapi_spec_validator import validate

    document = yaml.safe_load(SPEC.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live: Server) -> None:
    excluded = []
    if case.operation.path in SEMANTIC_422:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=live.url, headers=dict(AUTH), timeout=30, excluded_checks=excluded)
