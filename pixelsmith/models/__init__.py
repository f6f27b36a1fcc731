"""Model families; importing this package registers every architecture."""

from pixelsmith.models import classifier, diffusion, gan, restoration, vae  # noqa: F401
