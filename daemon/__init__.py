"""The local daemon: an aiohttp API on loopback, the job queue and the watch folder."""
