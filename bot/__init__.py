"""imagine-bot: generate images in Discord with FLUX.1 SRPO."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed version (pyproject.toml's), for ``--version`` and the start line."""
    try:
        return version("imagine-bot")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"
