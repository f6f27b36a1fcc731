"""What ``GET /v1/models`` lists, so the web page builds its controls from it: each restoration task with its
methods and parameters (the CLI's names, types and ranges), and each bundled model with its family, what it
restores, the sampling options a generator declares, its classes and the size of its weights."""

from __future__ import annotations

import functools

from pixelsmith.catalog import WEIGHTS_DIR, WEIGHTS_NAME, list_bundled, read_config
from pixelsmith.pipelines.methods import DEFAULT_MODELS, METHODS, SCALES

# The parameters of each task: name -> (type, default, minimum, maximum, help)
PARAMETERS = {
    "denoise": {"sigma": ("number", None, 0, 255, "noise std on the 0-255 scale; empty = estimated")},
    "inpaint": {"iterations": ("integer", None, 1, 5000, "dip: iterations; diffusion: reverse steps")},
    "sr": {"scale": ("choice", 2, list(SCALES), None, "upscaling factor")},
    "deblur": {"kernel": ("text", "gaussian:2", None, None, "gaussian:SIGMA or motion:LENGTH:ANGLE"),
               "sigma": ("number", None, 0, 255, "noise std on the 0-255 scale; empty = estimated")},
    "jpeg": {"quality": ("integer", None, 1, 100, "the JPEG quality; empty = read from the file")},
}


def _parameter(name, spec) -> dict:
    kind, default, low, high, help = spec
    out = {"name": name, "type": kind, "default": default, "help": help}
    if kind == "choice":
        out["choices"] = low
    else:
        out |= {"minimum": low, "maximum": high}
    return out


@functools.lru_cache(maxsize=1)
def _models() -> tuple[dict, ...]:
    from pixelsmith.models.generative import sample_options
    from pixelsmith.pipelines.store import load_model

    rows = []
    for name in list_bundled():
        config = read_config(name)
        args = config.get("args", {})
        row = {"name": name, "family": config.get("family"), "task": config.get("restores"),
               "description": config.get("metadata", {}).get("description", ""),
               "size_bytes": (WEIGHTS_DIR / name / WEIGHTS_NAME).stat().st_size, "options": []}
        if row["family"] == "generate":
            net = load_model(name)
            row["options"] = [{"name": k, "type": o.type.__name__, "default": o.default, "minimum": o.minimum,
                               "maximum": o.maximum, "help": o.help} for k, o in sample_options(net).items()]
            row |= {"num_classes": getattr(net, "num_classes", 0), "image_size": args.get("size", 28),
                    "channels": args.get("channels", 1)}
        rows.append(row)
    return tuple(rows)


def catalogue() -> dict:
    """Tasks and bundled models, as ``GET /v1/models`` answers."""
    tasks = {task: {"methods": list(methods), "default_model": DEFAULT_MODELS[task],
                    "parameters": [_parameter(k, v) for k, v in PARAMETERS[task].items()]}
             for task, methods in METHODS.items()}
    return {"tasks": tasks, "formats": ["png", "jpg", "webp", "tiff", "bmp"], "models": list(_models())}
