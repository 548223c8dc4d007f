"""artshade: shade artwork locally before it is posted online."""

__version__ = "0.1.0"
