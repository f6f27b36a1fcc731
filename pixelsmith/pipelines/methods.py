"""The restoration tasks, the methods each accepts, the bundled model each uses by default, and the checks of
their parameters. Kept free of heavy imports, so the CLI starts fast.

'model' is the learned method; 'pnp' is plug-and-play with the denoiser as prior; 'dip' is Deep Image Prior; 'diffusion' is RePaint with a diffusion model; the rest
are the classical baselines. Errors name the
parameter as ``name=value``; the CLI shows its flag instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixelsmith.errors import UsageError

if TYPE_CHECKING:
    import torch.nn as nn

DENOISERS = ("bm3d", "nlm", "tv", "wavelet")
INPAINTERS = ("telea", "ns", "biharmonic")
UPSCALERS = ("bicubic", "lanczos")
DEBLURRERS = ("wiener", "rl")

METHODS = {
    "denoise": ("model", "dip", *DENOISERS),
    "inpaint": ("model", "dip", "diffusion", *INPAINTERS),
    "sr": ("model", "pnp", *UPSCALERS),
    "deblur": ("model", *DEBLURRERS),
    "jpeg": ("model", "none"),
}
TASKS = tuple(METHODS)
SCALES = (2, 3, 4)

# The bundled model of each task. Deblurring (and super-resolution's method=pnp) is plug-and-play with the
# denoiser as prior.
DEFAULT_MODELS = {"denoise": "resunet-denoise-gray", "inpaint": "resunet-inpaint", "sr": "mdsr-sr",
                  "deblur": "resunet-denoise-gray", "jpeg": "resunet-jpeg-gray"}
DIFFUSION_MODEL = "ddpm-mnist"  # inpaint's method=diffusion (RePaint) on images of the model's domain and size
COLOUR_DENOISER = "resunet-denoise-color"  # joins the gray model's views on colour files (denoise's colour="mix")
# What a task's model must restore (its config.json's "restores").
NEEDS = {"denoise": "denoise", "inpaint": "inpaint", "sr": "sr", "deblur": "denoise", "jpeg": "jpeg"}


def check_task(task: str) -> None:
    """A usage error naming the tasks."""
    if task not in METHODS:
        raise UsageError(f"task={task} is not known; accepted: {', '.join(TASKS)}")


def check_method(task: str, method: str) -> None:
    """A usage error naming the accepted methods of ``task``."""
    check_task(task)
    if method not in METHODS[task]:
        raise UsageError(f"method={method} is not known for {task}; accepted: {', '.join(METHODS[task])}")


def check_sigma(sigma: float | None) -> None:
    """A noise level on the 0-255 scale, or None (estimated)."""
    if sigma is not None and not 0 <= sigma <= 255:
        raise UsageError(f"sigma={sigma} is out of range; accepted: 0 to 255 (the noise std on the 0-255 scale)")


def check_scale(scale: int) -> None:
    """A super-resolution factor."""
    if scale not in SCALES:
        raise UsageError(f"scale={scale} is not supported; accepted: {', '.join(map(str, SCALES))}")


def check_quality(quality: int | None) -> None:
    """A JPEG quality, or None (read from the file)."""
    if quality is not None and not 1 <= quality <= 100:
        raise UsageError(f"quality={quality} is out of range; accepted: 1 to 100 (the models are trained on 10-90)")


def check_iterations(iterations: int | None) -> None:
    """Iterations of Deep Image Prior or plug-and-play, or None (the method's default)."""
    if iterations is not None and iterations < 1:
        raise UsageError(f"iterations={iterations} must be at least 1")


def load_restorer(task: str, model: str | None = None) -> "nn.Module":
    """The model for ``task`` from the model store: ``model`` (bundled name, model folder or training run) or
    the task's bundled default; a usage error when it does not restore what the task needs."""
    from pixelsmith.pipelines.store import load_model

    check_task(task)
    name = str(model or DEFAULT_MODELS[task])
    net = load_model(name)
    family, does = net.config.get("family"), net.config.get("restores")
    if family == "restore" and does is None:
        raise UsageError(f"model={name} does not say what it restores: its config.json has no \"restores\" (set "
                         f"model.config['restores'] = '{NEEDS[task]}' before save_pretrained, or train it with a recipe)")
    if does != NEEDS[task]:
        what = f"it restores '{does}'" if does else f"it is a '{family}' model"
        raise UsageError(f"model={name} is not a model for {NEEDS[task]} ({what})")
    return net
