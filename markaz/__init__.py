"""markaz: the edge service of a police station's self-service hall, and the central view of all stations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("markaz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+src"
