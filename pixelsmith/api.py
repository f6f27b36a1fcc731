"""The top-level Python API: ``import pixelsmith as ps``, then ``ps.restore``, ``ps.generate``, ``ps.load`` and
``ps.list_models``. Thin over the pipelines, as the CLI and the server are."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from pixelsmith.errors import UsageError
from pixelsmith.io import ImageData, from_array, from_pil, read_image, to_array, to_pil
from pixelsmith.pipelines.restore import RestoreOptions, check_options, restore_image
from pixelsmith.progress import Progress

# The parameters ps.restore takes besides image, task, mask and progress: RestoreOptions less its file options.
PARAMETERS = tuple(f.name for f in dataclasses.fields(RestoreOptions)
                   if f.name not in ("task", "mask", "format", "overwrite"))


def _as_image(image: Any) -> tuple[ImageData, str]:
    """The image as an ImageData, and the kind it came as ('path', 'pil', 'array' or 'tensor')."""
    if isinstance(image, (str, Path)):
        return read_image(image), "path"
    if isinstance(image, Image.Image):
        return from_pil(image), "pil"
    if isinstance(image, np.ndarray):
        return from_array(image), "array"
    if torch.is_tensor(image):
        shape_ok = image.ndim == 2 or (image.ndim == 3 and image.shape[0] in (1, 3))
        if not image.is_floating_point() or not shape_ok or 0 in image.shape:
            raise UsageError(f"image is a {image.dtype} tensor of shape {tuple(image.shape)}; accepted: a float "
                             f"tensor (C,H,W) with C = 1 or 3, or (H,W), in [0, 1]")
        pixels = image.detach().float().cpu()
        if not torch.isfinite(pixels).all():
            raise UsageError("image holds values that are not finite numbers (NaN or infinity); accepted: values "
                             "in [0, 1]")
        return ImageData(pixels[None] if pixels.ndim == 2 else pixels), "tensor"
    raise UsageError(f"image is a {type(image).__name__}; accepted: a path, a PIL image, a uint8/uint16 numpy array "
                     f"or a float tensor")


def _as_mask(mask: Any) -> torch.Tensor | None:
    """A hole mask (1,H,W), 1 = missing, from a path, PIL image, array or tensor (None: none given)."""
    if mask is None:
        return None
    if isinstance(mask, (str, Path)):
        return read_image(mask, channels=1).pixels
    if isinstance(mask, Image.Image):
        return from_pil(mask.convert("L")).pixels
    if isinstance(mask, np.ndarray):
        array = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 65535.0 if mask.dtype == np.uint16
                                           else 1.0)
        mask = torch.from_numpy(array)
    if torch.is_tensor(mask):
        mask = mask.detach().float().cpu()
        if mask.ndim == 3 and mask.shape[0] > 1:
            mask = mask.amax(0, keepdim=True)
        if mask.ndim not in (2, 3):
            raise UsageError(f"mask has shape {tuple(mask.shape)}; accepted: (H,W) or (1,H,W)")
        return mask.reshape(1, *mask.shape[-2:])
    raise UsageError(f"mask is a {type(mask).__name__}; accepted: a path, a PIL image, an array or a tensor")


def restore(image: Any, task: str = "denoise", *, mask: Any = None, progress: Progress = None,
            **params: Any) -> Any:
    """Restore ``image`` (a path, a PIL image, a uint8/uint16 numpy array or a float tensor (C,H,W) in [0, 1])
    with ``task`` (denoise, inpaint, sr, deblur, jpeg); returns the same kind it was given (a path gives a PIL
    image). ``params`` take the CLI's names: sigma, scale, kernel, quality, method, model, iterations, colour,
    ensemble (False is the CLI's --fast, True its --ensemble; None, the default, averages
    the self-ensemble on images up to 4 megapixels), bf16 (False is --fp32), max_pixels."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise UsageError(f"{unknown[0]}={params[unknown[0]]!r} is not a parameter of restore; accepted: "
                         f"{', '.join(PARAMETERS)}")
    opts = RestoreOptions(task=task, **params)
    check_options(opts)
    data, kind = _as_image(image)
    restored = restore_image(data, opts, progress, mask=_as_mask(mask))
    if kind == "tensor":
        return restored.pixels if image.ndim == 3 else restored.pixels[0]
    if kind == "array":
        out = to_array(restored)
        return out[..., None] if image.ndim == 3 and out.ndim == 2 else out  # (H,W,1) stays (H,W,1)
    return to_pil(restored)


def load(name_or_dir: str | Path) -> nn.Module:
    """A model from a bundled name, a model folder or a training run, shared through the model store."""
    from pixelsmith.pipelines.store import load_model

    return load_model(name_or_dir)


def generate(name_or_model: str | Path | nn.Module, n: int, seed: int = 0, *, progress: Progress = None,
             **options: Any) -> torch.Tensor:
    """``n`` images (N,C,H,W) in [0, 1] from a generative model (or its name or folder); ``options`` are the
    model's sampling options (``model.sample_options``), e.g. ``temperature=0.8``."""
    from pixelsmith.pipelines.generate import generate as sample

    return sample(name_or_model, n, seed=seed, progress=progress, **options)


def evaluate(name_or_model: str | Path | nn.Module | None = None, n: int = 10_000, reference: str = "mnist-test",
             **kwargs: Any) -> dict[str, Any]:
    """Scores of a generator's ``n`` samples against ``reference`` (FID, KID, precision/recall, density/coverage,
    class spread, confidence), the floor of real data beside them, and the protocol; ``samples=FOLDER`` judges a
    folder of images instead (see :func:`pixelsmith.pipelines.evaluate.evaluate`)."""
    from pixelsmith.pipelines.evaluate import evaluate as score

    return score(name_or_model, n=n, reference=reference, **kwargs)


def list_models(family: str | None = None) -> list[str]:
    """Names of the bundled pretrained models (what :func:`load` accepts by name), optionally of one ``family``
    (restore, generate, predict, classify)."""
    from pixelsmith.catalog import list_bundled, read_config

    return [name for name in list_bundled() if family is None or read_config(name).get("family") == family]
