"""The exceptions a user sees: one line that says what was wrong and what is accepted."""


class PixelsmithError(Exception):
    """A user-facing error: its message is one line that says what was wrong and what is accepted."""


class UsageError(PixelsmithError):
    """A bad parameter value or combination; the message names the parameter as ``name=value`` (the CLI shows
    its flag instead) and the CLI exits with status 2."""


class Cancelled(Exception):
    """Raised by a progress callback to stop the work at its next event; nothing half-written is left. Work
    over several outputs raises it again with how many of them were ``written`` of the ``total``."""

    def __init__(self, message: str = "cancelled", written: int | None = None, total: int | None = None) -> None:
        super().__init__(message)
        self.written, self.total = written, total
