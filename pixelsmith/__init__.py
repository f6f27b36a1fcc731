"""pixelsmith: deep-learning image generation and restoration that runs well on a CPU.

    import pixelsmith as ps
    clean = ps.restore("noisy.png", task="denoise", sigma=25)
    digits = ps.generate("dcgan-mnist", 16, seed=0)
    scores = ps.evaluate("cgan-mnist", n=10_000, reference="mnist-test")  # FID, KID, ... beside the floor

The API functions are imported on first use, so ``import pixelsmith`` (and the CLI) start fast.
"""

from pixelsmith.errors import Cancelled, PixelsmithError, UsageError

__version__ = "0.1.0"
__all__ = ["Cancelled", "PixelsmithError", "UsageError", "evaluate", "generate", "list_models", "load", "restore"]


def __getattr__(name: str):
    if name in ("restore", "generate", "evaluate", "load", "list_models"):
        from pixelsmith import api

        return getattr(api, name)
    raise AttributeError(f"module 'pixelsmith' has no attribute '{name}'")
