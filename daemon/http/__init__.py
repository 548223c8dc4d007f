"""The daemon's HTTP API on loopback: the aiohttp app factory and server, the middlewares and the checks
every request passes (Host, Origin, token, powers), the endpoints, and ``openapi.yaml`` describing them."""
