"""pixelsmith: deep-learning image generation and restoration that runs well on a CPU."""

__version__ = "0.1.0"


class PixelsmithError(Exception):
    """A user-facing error: its message is one line that says what was wrong and what is accepted."""


class UsageError(PixelsmithError):
    """A bad option value or combination: the CLI exits with status 2."""
