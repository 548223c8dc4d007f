"""HTTP to the daemon on this machine: straight to loopback, never through a proxy.

``urllib.request.urlopen`` honours ``HTTP_PROXY`` / ``HTTPS_PROXY``; a request carrying the daemon's token (or
a pairing code) must never leave the machine that way, so every local caller uses :data:`OPENER`.
"""

from __future__ import annotations

import urllib.request

#: an opener with no proxies at all, whatever the environment says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
