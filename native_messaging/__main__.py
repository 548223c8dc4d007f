"""``python -m artshade.native_messaging [caller ...]``: the native-messaging host, as the launcher runs it.

Imports only the host (no engine, no daemon, no command-line parser), so it answers the browser at once.
"""

import sys

from .host import run

sys.exit(run(sys.argv[1:]))
