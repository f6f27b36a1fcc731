"""Model families; importing this package registers every architecture."""

from pixelsmith.models import gan, restoration  # noqa: F401
