"""Every caller is hostile: token, Host, Origin and CORS checks against a real server on loopback."""

from __future__ import annotations

import aiohttp
import pytest
from daemon_helpers import CHROME_ORIGIN, FIREFOX_ORIGIN, TOKEN, Daemons, client, image_bytes

from artshade.pairing import PairingStore


async def test_health_needs_no_token_and_reveals_only_liveness(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server, token=None) as http:
        response = await http.get("/v1/health")
        assert response.status == 200
        assert set(await response.json()) == {"status", "service", "version"}


@pytest.mark.parametrize("path", ["/v1/status", "/v1/settings", "/v1/jobs/" + "0" * 32, "/v1/nowhere"])
@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1]])
async def test_missing_or_wrong_token_is_401(daemons: Daemons, path: str, token: str | None) -> None:
    server = await daemons.start()
    async with client(server, token=token) as http:
        response = await http.get(path)
        assert response.status == 401
        body = await response.json()
        assert body["error"] == "unauthorized" and "artshade token" in body["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_protect_needs_the_token_too(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server, token=None) as http:
        response = await http.post(
            "/v1/protect", data=b"\x89PNG\r\n\x1a\n", headers={"Content-Type": "image/png"}
        )
        assert response.status == 401


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost", "0.0.0.0:{port}"]
)
async def test_foreign_host_is_refused_even_with_the_token(daemons: Daemons, host: str) -> None:
    server = await daemons.start()
    async with client(server, Host=host.format(port=server.port)) as http:
        for path in ("/v1/health", "/v1/status"):
            response = await http.get(path)
            assert response.status == 421
            assert (await response.json())["error"] == "bad_host"


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}"])
async def test_loopback_host_names_are_accepted(daemons: Daemons, host: str) -> None:
    server = await daemons.start()
    async with client(server, Host=host.format(port=server.port)) as http:
        assert (await http.get("/v1/status")).status == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:8000", "null", CHROME_ORIGIN])
async def test_web_or_unpaired_origin_is_403_even_with_the_token(daemons: Daemons, origin: str) -> None:
    server = await daemons.start()
    async with client(server, Origin=origin) as http:
        for method, path in (("GET", "/v1/status"), ("GET", "/v1/health"), ("POST", "/v1/protect")):
            response = await http.request(method, path, data=b"x", headers={"Content-Type": "image/png"})
            assert response.status == 403, (method, path)
            assert (await response.json())["error"] == "forbidden_origin"
            assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origin", [CHROME_ORIGIN, FIREFOX_ORIGIN])
async def test_paired_extension_origin_works_with_cors_headers(daemons: Daemons, origin: str) -> None:
    config = daemons.config()
    PairingStore(config.pairing_path).add(origin)
    server = await daemons.start(config)
    async with client(server, Origin=origin + "/") as http:
        response = await http.get("/v1/status")
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "X-Artshade-Report" in response.headers["Access-Control-Expose-Headers"]
    async with client(server, token="wrong", Origin=origin) as http:
        response = await http.get("/v1/status")
        assert response.status == 401  # paired is not enough: the token is still needed
        assert response.headers["Access-Control-Allow-Origin"] == origin  # so the extension can read why


async def test_origin_paired_while_running_is_picked_up(daemons: Daemons) -> None:
    config = daemons.config()
    server = await daemons.start(config)
    async with client(server, Origin=FIREFOX_ORIGIN) as http:
        assert (await http.get("/v1/status")).status == 403
        PairingStore(config.pairing_path).add(FIREFOX_ORIGIN)  # as the native host does
        assert (await http.get("/v1/status")).status == 200


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
        "Access-Control-Request-Private-Network": "true",
        "Access-Control-Request-Local-Network": "true",
    }


async def test_preflight_is_answered_for_paired_extensions_only(daemons: Daemons) -> None:
    config = daemons.config()
    PairingStore(config.pairing_path).add(CHROME_ORIGIN)
    server = await daemons.start(config)
    async with aiohttp.ClientSession(server.url) as http:
        ok = await http.options("/v1/protect", headers=preflight_headers(CHROME_ORIGIN))
        assert ok.status == 204
        assert ok.headers["Access-Control-Allow-Origin"] == CHROME_ORIGIN
        assert "POST" in ok.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
        assert ok.headers["Access-Control-Allow-Private-Network"] == "true"
        assert ok.headers["Access-Control-Allow-Local-Network"] == "true"
        for origin in ("https://evil.example", FIREFOX_ORIGIN):
            refused = await http.options("/v1/protect", headers=preflight_headers(origin))
            assert refused.status == 403
            assert "Access-Control-Allow-Origin" not in refused.headers
            assert "Access-Control-Allow-Private-Network" not in refused.headers
        # an unpaired but well-formed extension may preflight the pairing endpoint only
        pairing = await http.options("/v1/pair", headers=preflight_headers(FIREFOX_ORIGIN))
        assert pairing.status == 204


async def test_pairing_with_a_one_time_code(daemons: Daemons) -> None:
    config = daemons.config()
    server = await daemons.start(config)
    async with client(server) as cli:
        issued = await (await cli.post("/v1/pair/code")).json()
    assert issued["code"].startswith(f"{server.port}-") and issued["expires_in"] > 500
    async with client(server, token=None, Origin=CHROME_ORIGIN) as ext:
        response = await ext.post("/v1/pair", json={"code": issued["code"]})
        assert response.status == 200
        paired = await response.json()
        assert set(paired) == {"token", "url"} and paired["url"] == f"http://127.0.0.1:{server.port}"
        assert paired["token"] != TOKEN and len(paired["token"]) >= 43  # its own token, not the daemon's
        again = await ext.post("/v1/pair", json={"code": issued["code"]})
        assert again.status == 403 and (await again.json())["error"] == "pairing_failed"
    assert CHROME_ORIGIN in PairingStore(config.pairing_path).origins()
    async with client(server, token=paired["token"], Origin=CHROME_ORIGIN) as ext:
        assert (await ext.get("/v1/status")).status == 200


@pytest.mark.parametrize("body", [{"code": "\r"}, {"code": 7}, {}, [], {"code": "{code}", "extra": 1}])
async def test_pairing_needs_exactly_a_code(daemons: Daemons, body: object) -> None:
    # What the description says: one property, a code with a letter or digit in it. A real code with
    # something beside it is refused too (and is not used up).
    server = await daemons.start()
    async with client(server) as cli:
        code = (await (await cli.post("/v1/pair/code")).json())["code"]
    if isinstance(body, dict) and body.get("code") == "{code}":
        body["code"] = code
    async with client(server, token=None, Origin=CHROME_ORIGIN) as ext:
        response = await ext.post("/v1/pair", json=body)
        assert response.status == 400 and (await response.json())["error"] == "bad_request"
        assert (await ext.post("/v1/pair", json={"code": code})).status == 200


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
async def test_pairing_only_from_an_extension_origin(daemons: Daemons, origin: str | None) -> None:
    server = await daemons.start()
    async with client(server) as cli:
        code = (await (await cli.post("/v1/pair/code")).json())["code"]
    headers = {"Origin": origin} if origin else {}
    async with client(server, token=None, **headers) as page:
        response = await page.post("/v1/pair", json={"code": code})
        assert response.status == 403
        assert "token" not in await response.json()


async def test_pairing_codes_are_not_handed_to_browsers(daemons: Daemons) -> None:
    config = daemons.config()
    PairingStore(config.pairing_path).add(CHROME_ORIGIN)
    server = await daemons.start(config)
    async with client(server, Origin=CHROME_ORIGIN) as ext:
        assert (await ext.post("/v1/pair/code")).status == 403
    async with client(server, token=None) as anonymous:
        assert (await anonymous.post("/v1/pair/code")).status == 401


async def test_guessing_pairing_codes_is_rate_limited(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server, token=None, Origin=CHROME_ORIGIN) as ext:
        statuses = [
            (await ext.post("/v1/pair", json={"code": f"{server.port}-AAAA-AAAA-AAA{i}"})).status
            for i in range(12)
        ]
        assert statuses[:10] == [403] * 10
        limited = await ext.post("/v1/pair", json={"code": "x"})
        assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await ext.get("/v1/health")).status == 403  # and still not paired


async def test_responses_are_not_cached_or_sniffed(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server) as http:
        response = await http.get("/v1/status")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("origin", [None, "https://evil.example", "0"])
@pytest.mark.parametrize(
    ("method", "path"), [("TRACE", "/v1/pair"), ("PATCH", "/v1/settings"), ("PUT", "/v1/protect")]
)
async def test_a_method_no_route_has_is_405_for_anyone(
    daemons: Daemons, origin: str | None, method: str, path: str
) -> None:
    # What the published description says anyway: no guard verdict is needed to say a method does not exist,
    # and a 405 carries no data and no CORS headers.
    server = await daemons.start()
    headers = {"Origin": origin} if origin else {}
    async with client(server, token=None, **headers) as http:
        response = await http.request(method, path)
        assert response.status == 405
        assert (await response.json())["error"] == "method_not_allowed"
        assert "Allow" in response.headers
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_a_bad_host_is_refused_before_the_method_is_looked_at(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server, Host="evil.example") as http:
        assert (await http.request("TRACE", "/v1/pair")).status == 421


@pytest.mark.parametrize(("query", "detail"), [("target=" + "0" * 65, "target must be one of auto"),
                                               ("site=" + "a" * 254, "at most 253 characters")])  # fmt: skip
async def test_over_long_settings_in_the_query_are_400(daemons: Daemons, query: str, detail: str) -> None:
    server = await daemons.start()
    async with client(server) as http:
        response = await http.post(
            f"/v1/protect?{query}", data=image_bytes(), headers={"Content-Type": "image/png"}
        )
        assert response.status in (400, 422)
        assert detail in (await response.json())["detail"]
