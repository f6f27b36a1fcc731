"""Model families; importing this package registers every architecture."""

from pixelsmith.models import classifier, gan, restoration, vae  # noqa: F401
