"""metdata: build, check and benchmark instance-level recognition datasets of artworks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("metdata")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+src"

USER_AGENT = (
    f"metdata/{__version__} (instance-level artwork recognition dataset builder; "
    "https://github.com/metdata/metdata; metdata@example.org)"
)
