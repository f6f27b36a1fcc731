"""What the CLI, the HTTP API and the web page all call: restore, degrade, generate."""

from pixelsmith.pipelines.generate import generate, save_samples
from pixelsmith.pipelines.restore import restore_files
from pixelsmith.pipelines.tasks import (deblur, denoise, inpaint, load_restorer, remove_jpeg_artifacts,
                                        super_resolve)
from pixelsmith.pipelines.tiling import apply_model, run_tiled

__all__ = ["apply_model", "deblur", "denoise", "generate", "inpaint", "load_restorer", "remove_jpeg_artifacts",
           "restore_files", "run_tiled", "save_samples", "super_resolve"]
