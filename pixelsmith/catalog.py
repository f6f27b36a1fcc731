"""The models as files: where the bundled ones lie, which folder a name means, their ``config.json``, and their
parameter count read from the safetensors header. Nothing here imports torch or builds a network, so listing
models is fast; :mod:`pixelsmith.hub` loads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pixelsmith.errors import PixelsmithError

WEIGHTS_DIR = Path(__file__).parent / "weights"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
BUFFERS = ("running_mean", "running_var", "num_batches_tracked", "_u", "_v")  # saved with the weights, but not parameters (batch-norm statistics, spectral norm's power-iteration vectors)


def list_bundled() -> list[str]:
    """Names of the pretrained models that ship inside the package."""
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / CONFIG_NAME).is_file())


def resolve(name_or_dir: str | Path) -> Path:
    """Folder of a bundled name, a model folder, or a training run (its ``model/`` subfolder)."""
    path = Path(name_or_dir)
    for candidate in (path, path / "model"):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    bundled = WEIGHTS_DIR / str(name_or_dir)
    if "/" not in str(name_or_dir) and (bundled / CONFIG_NAME).is_file():
        return bundled
    raise PixelsmithError(
        f"no model at '{name_or_dir}': expected a bundled name ({', '.join(list_bundled()) or 'none'}), "
        f"a folder with {CONFIG_NAME} + {WEIGHTS_NAME}, or a training run folder"
    )


def read_config(name_or_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a bundled name or model folder: ``model`` and ``args`` rebuild the architecture,
    ``family`` says what it is for and, for a restorer, ``restores`` which task it performs."""
    folder = resolve(name_or_dir)
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PixelsmithError(f"{folder / CONFIG_NAME}: not a readable JSON model config ({exc})") from None
    if not isinstance(config, dict):
        raise PixelsmithError(f"{folder / CONFIG_NAME}: a model config must be a JSON object")
    return upgrade_config(config)


def upgrade_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config written before models said what they do (its ``task`` was the family; a restorer's task
    followed from its recipe's degradation), in today's keys."""
    if "family" in config or "task" not in config:
        return config
    from pixelsmith.data.patches import RESTORES

    config = dict(config)
    config["family"] = config.pop("task")
    if config["family"] == "restore" and "restores" not in config:
        recipe = config.get("metadata", {}).get("recipe", {})
        config["restores"] = RESTORES.get(recipe.get("data_args", {}).get("degradation", "noise"), "denoise")
    return config


def parameter_count(name_or_dir: str | Path) -> int:
    """Parameters in a model folder's weights file (buffers left out), from its header only."""
    from safetensors import safe_open

    weights = resolve(name_or_dir) / WEIGHTS_NAME
    try:
        with safe_open(weights, framework="numpy") as f:
            shapes = [f.get_slice(k).get_shape() for k in f.keys() if not k.endswith(BUFFERS)]
    except Exception as exc:  # safetensors raises several types for missing or corrupt files
        raise PixelsmithError(f"{weights}: not a valid safetensors file ({exc})") from None
    total = 0
    for shape in shapes:
        count = 1
        for side in shape:
            count *= side
        total += count
    return total


def folder_size(name_or_dir: str | Path) -> int:
    """Bytes in a model folder."""
    return sum(f.stat().st_size for f in resolve(name_or_dir).iterdir() if f.is_file())
