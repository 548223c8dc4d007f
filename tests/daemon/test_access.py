"""The one access table (``daemon.http.powers.ROUTE_ACCESS``): every route declares who may call it, and a
route someone forgot to declare is the artist's alone, never open to a paired extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from artshade.daemon.http import server as server_module
from artshade.daemon.http.app import create_app
from artshade.daemon.http.powers import EXTENSION, MACHINE, PUBLIC, ROUTE_ACCESS, route_access
from daemon_helpers import CHROME_ORIGIN, Daemons, client

from artshade.pairing import PairingStore


def test_every_route_of_the_app_is_declared(daemons: Daemons) -> None:
    app = create_app(daemons.config())
    names = {resource.name for resource in app.router.resources()}
    assert None not in names, "every route needs a name, and the name a line in ROUTE_ACCESS"
    undeclared = sorted(n for n in names if n not in ROUTE_ACCESS)
    assert not undeclared, f"declare who may call {undeclared} in daemon.http.powers.ROUTE_ACCESS"
    assert set(ROUTE_ACCESS) == names, "ROUTE_ACCESS names a route the app does not have"
    assert set(ROUTE_ACCESS.values()) <= {PUBLIC, EXTENSION, MACHINE}


def test_an_undeclared_name_is_the_artists_alone() -> None:
    assert route_access("something_new") == MACHINE
    assert route_access(None) == MACHINE


async def test_an_undeclared_route_refuses_a_paired_extension(
    daemons: Daemons, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def secret(request: web.Request) -> web.Response:
        return web.json_response({"secret": "/home/artist/private"})

    original: Callable[..., web.Application] = server_module.create_app

    def with_a_new_route(config: Any) -> web.Application:
        app = original(config)
        app.router.add_get("/v1/new-thing", secret, name="new_thing")  # nobody declared it
        return app

    monkeypatch.setattr(server_module, "create_app", with_a_new_route)
    config = daemons.config()
    token = PairingStore(config.pairing_path).issue_token(CHROME_ORIGIN)
    server = await daemons.start(config)
    async with client(server, token=token, Origin=CHROME_ORIGIN) as extension:
        refused = await extension.get("/v1/new-thing")
        assert refused.status == 403 and (await refused.json())["error"] == "machine_only"
        assert (await extension.get("/v1/status")).status == 200  # a declared route still works
        assert (await extension.get("/v1/no-such-route")).status == 404  # and a missing one is 404
    async with client(server) as artist:
        assert (await artist.get("/v1/new-thing")).status == 200
