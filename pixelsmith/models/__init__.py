"""Model families; importing this package registers every architecture."""

from pixelsmith.models import classifier, convlstm, diffusion, gan, pixelcnn, restoration, sr, vae  # noqa: F401
