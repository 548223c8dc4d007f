"""What a caller may hand the daemon at most: list and string settings, multipart parts, JSON depth, slow
headers, pairing guesses (per origin)."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
import numpy as np
from artshade.shading.settings import MAX_ENCODERS, MAX_TEXT_CHARS
from daemon_helpers import CHROME_ORIGIN, FIREFOX_ORIGIN, Daemons, client, image_bytes
from PIL import Image

from artshade.pairing import PairingStore


def noise_png(side: int) -> bytes:
    rng = np.random.default_rng(side)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


async def test_an_extension_cannot_send_fifty_thousand_encoders(daemons: Daemons) -> None:
    config = daemons.config()
    token = PairingStore(config.pairing_path).issue_token(CHROME_ORIGIN)
    server = await daemons.start(config)
    form = aiohttp.FormData()
    form.add_field("image", image_bytes(), content_type="image/png", filename="a.png")
    form.add_field("settings", json.dumps({"encoders": [f"e{i}" for i in range(50_000)]}),
                   content_type="application/json")  # fmt: skip
    async with client(server, token=token, Origin=CHROME_ORIGIN) as extension:
        response = await extension.post("/v1/protect", data=form)
        assert response.status in (400, 422), await response.text()
        assert "at most" in (await response.json())["detail"]
        put = await extension.put("/v1/settings", json={"defaults": {"encoders": ["e"] * 20_000}})
        assert put.status in (400, 422)
        style = await extension.put("/v1/settings", json={"defaults": {"style": "s" * (MAX_TEXT_CHARS + 1)}})
        assert style.status in (400, 422) and "too long" in (await style.json())["detail"]
        sites = await extension.put("/v1/settings", json={"sites": {f"s{i}.example": {} for i in range(300)}})
        assert sites.status in (400, 422) and "at most" in (await sites.json())["detail"]
        saved = await (await extension.get("/v1/settings")).json()
        assert not saved["defaults"].get("encoders")
        repeated = await extension.put("/v1/settings", json={"defaults": {"encoders": ["taesd", "taesd"]}})
        assert repeated.status == 200 and (await repeated.json())["defaults"]["encoders"] == ["taesd"]
    assert MAX_ENCODERS < 50_000


async def chunked(data: bytes):
    for i in range(0, len(data), 64 * 1024):
        yield data[i : i + 64 * 1024]


def multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "artshade-test-boundary"
    out = bytearray()
    for name, ctype, body in parts:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'.encode()
        out += f"Content-Type: {ctype}\r\n\r\n".encode() + body + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


async def test_every_multipart_part_counts_against_the_body_limit(daemons: Daemons) -> None:
    """Sent chunked (no Content-Length to refuse up front): an image just under the limit plus a settings
    part that takes the whole over it is 413, as is a second settings part."""
    picture = noise_png(200)
    server = await daemons.start(max_body=len(picture) + 50_000)
    padded = b'{"preset": "fast"' + b" " * 100_000 + b"}"
    body, ctype = multipart([("image", "image/png", picture), ("settings", "application/json", padded)])
    async with client(server) as artist:
        response = await artist.post("/v1/protect", data=chunked(body), headers={"Content-Type": ctype})
        assert response.status == 413, await response.text()
        many = [("image", "image/png", picture)] + [("settings", "application/json", b"{}")] * 2
        body, ctype = multipart(many)
        response = await artist.post("/v1/protect", data=chunked(body), headers={"Content-Type": ctype})
        assert response.status == 400 and "more than one 'settings'" in (await response.json())["detail"]
        body, ctype = multipart([("image", "image/png", picture), ("settings", "application/json", b"{}")])
        fine = await artist.post("/v1/protect", data=chunked(body), headers={"Content-Type": ctype})
        assert fine.status == 202, await fine.text()


async def test_deeply_nested_json_is_a_400_in_one_line(daemons: Daemons, caplog) -> None:
    server = await daemons.start()
    deep = b"[" * 100_000 + b"]" * 100_000
    async with client(server, token=None, Origin=CHROME_ORIGIN) as extension:
        response = await extension.post("/v1/pair", data=deep, headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert "nested too deeply" in (await response.json())["detail"]
    async with client(server) as artist:
        response = await artist.put("/v1/settings", data=deep, headers={"Content-Type": "application/json"})
        assert response.status == 400
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


async def test_connections_that_send_half_their_headers_are_closed(daemons: Daemons) -> None:
    server = await daemons.start(header_timeout=1.0)
    connections = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
        connections.append((reader, writer))
    try:
        for reader, _ in connections:
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the daemon
    finally:
        for _, writer in connections:
            writer.close()
    async with client(server) as artist:  # and the daemon still answers
        assert (await artist.get("/v1/health")).status == 200


async def test_wrong_pairing_codes_from_one_origin_do_not_lock_out_another(daemons: Daemons) -> None:
    server = await daemons.start()
    async with client(server, token=None, Origin=FIREFOX_ORIGIN) as guesser:
        for i in range(12):
            await guesser.post("/v1/pair", json={"code": f"{server.port}-AAAA-AAAA-AAA{i}"})
        assert (await guesser.post("/v1/pair", json={"code": "x"})).status == 429
    async with client(server) as artist:
        code = (await (await artist.post("/v1/pair/code")).json())["code"]
    async with client(server, token=None, Origin=CHROME_ORIGIN) as real:
        response = await real.post("/v1/pair", json={"code": code})
        assert response.status == 200, await response.text()
