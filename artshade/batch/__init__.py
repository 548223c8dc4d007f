"""``artshade batch``: a whole catalogue, or a platform's uploads, shaded on Ray Data.

One module, one job:

* ``sources`` -- which pictures (a folder, recursively, or a manifest of paths/URIs), and each one's output;
* ``manifest`` -- the Parquet manifest beside the outputs and the journal that makes a crash lose nothing;
* ``worker`` -- the Ray actor that loads the weights once and shades one picture at a time through the same
  entry point as ``artshade protect`` (``shading.api.protect_bytes``);
* ``pool`` -- the Ray side: starts (or joins) Ray, plans workers x threads, streams the actor pool's rows;
* ``run`` -- a whole run: the pictures, what is already done, each result recorded; the dry run;
* ``progress`` -- a bar on a terminal, plain lines off one, and the closing summary;
* ``cli`` -- the ``artshade batch`` subcommand.

Ray and pyarrow are the optional ``batch`` extra; only ``manifest`` imports one of them at module level,
and the command loads it only once it has checked they are installed.
"""

from __future__ import annotations

#: what to tell someone whose install has no Ray
INSTALL_HINT = "artshade batch needs Ray Data and pyarrow: pip install 'artshade[batch]'"
