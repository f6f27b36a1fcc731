"""What the CLI, the HTTP API and the web page all call: restore, degrade, generate."""

from pixelsmith.pipelines.generate import generate, save_samples
from pixelsmith.pipelines.restore import denoise, load_restorer, restore_files, run_tiled

__all__ = ["denoise", "generate", "load_restorer", "restore_files", "run_tiled", "save_samples"]
