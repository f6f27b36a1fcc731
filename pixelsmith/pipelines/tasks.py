"""The five restoration tasks as functions of (C,H,W) float tensors in [0, 1]: the learned method, Deep Image
Prior where it applies, and the classical baselines, all behind one ``method`` argument."""

from __future__ import annotations

import torch
import torch.nn as nn

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.baselines import estimate_sigmas, in_unit_range
from pixelsmith.colorspace import (opponent_noise, opponent_to_rgb, rgb_to_opponent, rgb_to_ycbcr, ycbcr_to_rgb,
                                   ycbcr_to_rgb_in_gamut)
from pixelsmith.hub import from_pretrained, read_config
from pixelsmith.jpeg import ijg_luma_table, quantisation_constraint
from pixelsmith.methods import METHODS, TASKS
from pixelsmith.nn import dihedral
from pixelsmith.pipelines.tiling import ALL, FLIPS, ONE, ROTATIONS, apply_model, model_channels, run_tiled
from pixelsmith.pnp import DPIR_LAM, hqs

# Bundled defaults per task and colour mode. Super-resolution and deblurring are plug-and-play with the denoiser.
# Colour denoising defaults to the gray model on opponent channels, joined by the colour model when the noise was
# clipped (see denoise); on mcmaster each choice measured best in its case, see the README.
COLOUR_DENOISER = "resunet-denoise-color"
DEFAULT_MODELS = {
    "denoise": {1: "resunet-denoise-gray", 3: "resunet-denoise-gray"},
    "jpeg": {1: "resunet-jpeg-gray", 3: "resunet-jpeg-gray"},
    "inpaint": {1: "resunet-inpaint", 3: "resunet-inpaint"},
}
DEFAULT_MODELS["deblur"] = DEFAULT_MODELS["denoise"]
DEFAULT_MODELS["sr"] = {1: "resunet-denoise-gray", 3: "resunet-denoise-gray"}  # luma only, see super_resolve
_CACHE: dict[str, nn.Module] = {}


def model_task(config: dict) -> str:
    """Which restoration task a saved model does: inpainting, JPEG or (by default) denoising."""
    if config.get("model") != "resunet":
        return str(config.get("task", "unknown"))
    if config.get("args", {}).get("inpaint"):
        return "inpaint"
    recipe = config.get("metadata", {}).get("recipe", {})
    return "jpeg" if recipe.get("data_args", {}).get("degradation") == "jpeg" else "denoise"


def load_restorer(task: str, model: str | None = None, channels: int = 1) -> nn.Module:
    """The model for ``task``: ``model`` (bundled name or folder) or the bundled default for ``channels``; cached.
    Deblurring and super-resolution take a denoising model (they use it as a prior)."""
    if task not in METHODS:
        raise UsageError(f"unknown task '{task}'; accepted: {', '.join(TASKS)}")
    name = str(model or DEFAULT_MODELS[task][3 if channels == 3 else 1])
    config = read_config(name)
    needs = "denoise" if task in ("sr", "deblur") else task
    if model_task(config) != needs:
        raise UsageError(f"model '{name}' is not a model for {needs} (it is '{config.get('model')}', "
                         f"task '{model_task(config)}')")
    if name not in _CACHE:
        _CACHE[name] = from_pretrained(name)
    return _CACHE[name]


def check_method(task: str, method: str) -> None:
    """A usage error naming the accepted methods."""
    if task not in METHODS:
        raise UsageError(f"unknown task '{task}'; accepted: {', '.join(TASKS)}")
    if method not in METHODS[task]:
        raise UsageError(f"unknown method '{method}' for {task}; accepted: {', '.join(METHODS[task])}")


def check_sigma(sigma: float | None) -> None:
    if sigma is not None and not 0 <= sigma <= 255:
        raise UsageError(f"sigma={sigma} is out of range; accepted: 0 to 255 (the noise std on the 0-255 scale)")


def noise_map(x: torch.Tensor, sigma: float | torch.Tensor | None) -> torch.Tensor:
    """A (C,H,W) noise-level map on the 0-255 scale: from a number, a map broadcastable to the image, or, when
    ``sigma`` is None, estimated per channel from the image (wavelet MAD)."""
    if sigma is None:
        sigma = torch.tensor(estimate_sigmas(x)).view(-1, 1, 1)
    return torch.as_tensor(sigma, dtype=torch.float32).expand_as(x).clone()


# Views a gray model denoises a colour image in (see denoise_with): a rotation of the colour channels (RGB, GBR,
# BRG; the opponent channels then differ) and a flip/rotation of the image (nn.dihedral), each view its own pair.
# On mcmaster at sigma 25 (float protocol), these three passes score 0.10-0.14 dB above 4 flips of one opponent
# transform, in 3/4 of the time.
COLOUR_VIEWS = ((0, 0), (1, 2), (2, 4))


def _opponent_pass(net: nn.Module, x: torch.Tensor, levels: torch.Tensor, rotation: int, flip: int,
                   bf16: bool) -> torch.Tensor:
    """One pass of a gray noise-map model over the opponent channels of a colour view of ``x``, mapped back."""
    order, back = [(rotation + c) % 3 for c in range(3)], [(c - rotation) % 3 for c in range(3)]
    image, sigma = dihedral(x[order], flip), dihedral(levels[order], flip)
    restored = apply_model(net, rgb_to_opponent(image), opponent_noise(sigma) / 255.0, bf16=bf16)
    return dihedral(opponent_to_rgb(restored), flip, inverse=True)[back]


def _mean_of_views(net: nn.Module, x: torch.Tensor, levels: torch.Tensor, views: tuple, bf16: bool) -> torch.Tensor:
    return (sum(_opponent_pass(net, x, levels, r, f, bf16) for r, f in views) / len(views)).clamp(0, 1)


def denoise_with(net: nn.Module, x: torch.Tensor, sigma: float | torch.Tensor | None, bf16: bool = True,
                 ensemble: bool = False) -> torch.Tensor:
    """Denoise with a given model: a noise-map model gets the level map (/255), a blind one ignores it.
    A gray noise-map model given a colour image denoises its three opponent channels (luminance, red-blue,
    green-magenta), where RGB noise stays white at known levels, as CBM3D does; ``ensemble`` averages the
    COLOUR_VIEWS there and the 4 ROTATIONS elsewhere."""
    conditioned, views = net.config["args"].get("cond_channels", 0) > 0, ROTATIONS if ensemble else ONE
    if not conditioned:
        return apply_model(net, x, None, bf16=bf16, views=views)
    levels = noise_map(x, sigma)
    if x.shape[0] == 3 and model_channels(net) == 1:
        return _mean_of_views(net, x, levels, COLOUR_VIEWS if ensemble else COLOUR_VIEWS[:1], bf16)
    return apply_model(net, x, levels / 255.0, bf16=bf16, views=views)


# A colour file's noise was clipped to [0, 1], which the opponent views do not model and the colour model (trained
# on clipped noise half the time) does. Clipping grows with the noise level, and so does the colour model's best
# weight against the mean of two views: on mcmaster images 1-9 (realistic protocol) it was 0 at sigma 5, 0.1-0.2 at
# 15, 0.5 at 25, 0.7 at 35, 0.85 at 50 and 0.95 at 75. Two views score as three from sigma 25 up.
REALISTIC_VIEWS = 2


def colour_model_weight(levels: torch.Tensor) -> torch.Tensor:
    """Per-pixel weight (1,H,W) of the colour model against the gray model's views, from a (C,H,W) 0-255 level map."""
    return ((levels.mean(0, keepdim=True) - 8) / 35).clamp(0, 0.9)


def denoise_clipped_colour(net: nn.Module, colour: nn.Module, x: torch.Tensor, sigma: float | torch.Tensor | None,
                           bf16: bool = True) -> torch.Tensor:
    """Denoise a colour image with clipped noise: the gray model's views mixed with the colour model by
    colour_model_weight (the colour model is not run when its weight is 0 everywhere)."""
    levels = noise_map(x, sigma)  # estimated once for both models when sigma is None
    restored = _mean_of_views(net, x, levels, COLOUR_VIEWS[:REALISTIC_VIEWS], bf16)
    weight = colour_model_weight(levels)
    if weight.max() > 0:
        restored = (1 - weight) * restored + weight * denoise_with(colour, x, levels, bf16)
    return restored.clamp(0, 1)


# ---- denoise -------------------------------------------------------------------------------------------
def denoise(x: torch.Tensor, method: str = "model", sigma: float | torch.Tensor | None = None,
            model: str | None = None, bf16: bool = True, ensemble: bool = True, iterations: int = 2000
            ) -> torch.Tensor:
    """Denoise a (C,H,W) image. ``sigma`` (0-255; a number or a per-channel/spatial map) is estimated when None.

    The learned default averages several estimates (``ensemble=False``: one pass of the gray model, 2-4x faster).
    Gray images average the 4 rotations of the gray model. Colour images average the gray model's COLOUR_VIEWS on
    opponent channels, where Gaussian noise stays white at known levels. A colour image within [0, 1] (every
    file: its noise was clipped, which the opponent transform does not model) mixes two of those views with the
    colour model, by a weight that grows with the noise level (denoise_clipped_colour). On unclipped noise (float
    protocol), where the colour model is 0.6 dB below the views at sigma 25, it is left out."""
    check_method("denoise", method)
    if not torch.is_tensor(sigma):
        check_sigma(sigma)
    if method == "model":
        net = load_restorer("denoise", model, x.shape[0])
        if model is None and ensemble and x.shape[0] == 3 and in_unit_range(x):
            return denoise_clipped_colour(net, load_restorer("denoise", COLOUR_DENOISER, 3), x, sigma, bf16)
        return denoise_with(net, x, sigma, bf16, ensemble)
    level = None if sigma is None else float(torch.as_tensor(sigma, dtype=torch.float32).mean())
    if method == "dip":
        from pixelsmith.dip import deep_image_prior

        level = level if level is not None else float(sum(estimate_sigmas(x)) / x.shape[0])
        return deep_image_prior(x, sigma=level, iterations=iterations)
    from pixelsmith.baselines import classical_denoise

    return classical_denoise(method, x, level)


# ---- inpaint -------------------------------------------------------------------------------------------
def inpaint(x: torch.Tensor, mask: torch.Tensor, method: str = "model", model: str | None = None,
            bf16: bool = True, iterations: int = 2000, ensemble: bool = True) -> torch.Tensor:
    """Fill the pixels of (C,H,W) ``x`` where the (1,H,W) ``mask`` is 1; the other pixels are kept. The
    learned model averages all 8 flips and rotations by default (``ensemble=False`` is 8x faster)."""
    check_method("inpaint", method)
    if mask.shape != (1, *x.shape[-2:]):
        raise UsageError(f"mask of shape {tuple(mask.shape)} does not match the image's {tuple(x.shape[-2:])}")
    mask = (mask > 0.5).float()
    if method == "model":
        from pixelsmith.nn import pull_push_fill

        net = load_restorer("inpaint", model, x.shape[0])
        # A fill of the whole image first, so a tile that lies inside a large hole starts from it, not from black.
        filled = pull_push_fill((x * (1 - mask))[None], mask[None])[0]
        out = apply_model(net, filled, mask, bf16=bf16, tile=768, overlap=128, views=ALL if ensemble else ONE)
    elif method == "dip":
        from pixelsmith.dip import deep_image_prior

        out = deep_image_prior(x, mask=mask, iterations=iterations)
    else:
        from pixelsmith.baselines import classical_inpaint

        out = classical_inpaint(method, x, mask)
    return torch.where(mask > 0.5, out, x)


# ---- super-resolution ----------------------------------------------------------------------------------
def plug_and_play(x: torch.Tensor, net: nn.Module, scale: int = 1, kernel: torch.Tensor | None = None,
                  noise: float = 0.0, iterations: int = 8, bf16: bool = True, tile: int = 256,
                  lam: float = DPIR_LAM) -> torch.Tensor:
    """DPIR half-quadratic splitting with ``net`` as the denoising prior, run in overlapping tiles of
    ``tile`` input pixels so memory stays bounded (see :func:`pixelsmith.pnp.hqs`)."""
    def denoiser(t: torch.Tensor, sigma: float) -> torch.Tensor:
        return torch.stack([denoise_with(net, image, sigma, bf16) for image in t])

    margin = 16 if kernel is None else max(16, 2 * max(kernel.shape))
    return run_tiled(lambda t: hqs(t, denoiser, scale, kernel, noise, iterations, lam=lam), x[None], tile=tile,
                     overlap=min(2 * margin, tile // 2 - 1), scale=scale)[0]


def super_resolve(x: torch.Tensor, scale: int, method: str = "model", model: str | None = None,
                  bf16: bool = True, iterations: int = 24) -> torch.Tensor:
    """Upscale (C,H,W) ``x`` by ``scale`` (2, 3 or 4), undoing bicubic downscaling. The learned method is
    plug-and-play with the gray denoiser on the luma channel; colour (chroma) is upscaled bicubically, as
    SRCNN and its successors do, since the eye and the literature's PSNR look at luma. 24 iterations (as DPIR
    uses for SR) score 0.26 dB above 8 at x4 on a quarter of set14, for 3x the time."""
    check_method("sr", method)
    if scale not in (2, 3, 4):
        raise UsageError(f"--scale {scale} is not supported; accepted: 2, 3, 4")
    from pixelsmith.baselines import classical_upscale

    if method != "model":
        return classical_upscale(method, x, scale)
    net = load_restorer("sr", model, x.shape[0])
    if x.shape[0] == 3 and model_channels(net) == 1:
        ycc = rgb_to_ycbcr(x)
        luma = plug_and_play(ycc[:1], net, scale=scale, iterations=iterations, bf16=bf16)
        chroma = classical_upscale("bicubic", ycc[1:], scale)
        return ycbcr_to_rgb(torch.cat([luma, chroma])).clamp(0, 1)
    return plug_and_play(x, net, scale=scale, iterations=iterations, bf16=bf16)


# ---- deblur --------------------------------------------------------------------------------------------
def parse_kernel(spec: str) -> torch.Tensor:
    """A blur kernel from 'gaussian:SIGMA', 'motion:LENGTH:ANGLE' or an image file (normalised to sum 1)."""
    from pathlib import Path

    from pixelsmith.degradations import gaussian_kernel, motion_kernel

    parts = spec.split(":")
    accepted = "accepted: gaussian:SIGMA (0 < SIGMA <= 15), motion:LENGTH:ANGLE (1 <= LENGTH <= 101) or an image file"
    try:
        values = [float(v) for v in parts[1:]]
    except ValueError:
        raise UsageError(f"bad kernel '{spec}'; {accepted}") from None
    if parts[0] == "gaussian" and len(parts) == 2:
        if not 0 < values[0] <= 15:
            raise UsageError(f"bad kernel '{spec}': sigma out of range; {accepted}")
        return gaussian_kernel(values[0])
    if parts[0] == "motion" and len(parts) == 3:
        if not 1 <= values[0] <= 101:
            raise UsageError(f"bad kernel '{spec}': length out of range; {accepted}")
        return motion_kernel(values[0], values[1])
    if Path(spec).is_file():
        from pixelsmith.io import read_image

        k = read_image(spec, channels=1).pixels[0]
        if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0 or k.sum() <= 0 or max(k.shape) > 101:
            raise UsageError(f"kernel image {spec} must have odd sides of at most 101 px and a non-zero sum, "
                             f"got {tuple(k.shape)}")
        return k / k.sum()
    raise UsageError(f"bad kernel '{spec}'; {accepted}")


# The data-term weight of deblurring's half-quadratic splitting (SR keeps DPIR_LAM, 0.23). On set14 luma (not
# in the prior's training, not scored for deblurring), gaussian:1.6 / motion:15:30 with noise 2: 0.23 gives 29.32 /
# 29.91 dB, 0.18 29.45 / 30.04, 0.15 29.52 / 29.85, 0.10 29.61 / 26.23 (motion diverges).
DEBLUR_LAM = 0.18


def deblur(x: torch.Tensor, kernel: torch.Tensor, method: str = "model", sigma: float | None = None,
           model: str | None = None, bf16: bool = True, iterations: int = 8) -> torch.Tensor:
    """Remove a known blur ``kernel`` from (C,H,W) ``x``; ``sigma`` is the noise std (0-255), estimated when None."""
    check_method("deblur", method)
    check_sigma(sigma)
    if method != "model":
        from pixelsmith.baselines import classical_deblur

        return classical_deblur(method, x, kernel, sigma)
    noise = float(sum(estimate_sigmas(x)) / x.shape[0]) if sigma is None else sigma
    net = load_restorer("deblur", model, x.shape[0])
    return plug_and_play(x, net, kernel=kernel, noise=noise, iterations=iterations, bf16=bf16, tile=512,
                         lam=DEBLUR_LAM)


# ---- JPEG ----------------------------------------------------------------------------------------------
# The 4 flips: on set14 at q10 (one pass each, on the grid) they score 0.009 dB above the 4 rotations, and all 8 only
# 0.001 above them for twice the time.
JPEG_VIEWS = FLIPS


def remove_jpeg_artifacts(x: torch.Tensor, quality: int, method: str = "model", model: str | None = None,
                          bf16: bool = True, ensemble: bool = True, table: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """Remove blocking and ringing from a decoded JPEG (C,H,W) saved at ``quality``. Colour images are restored in
    JPEG's own YCbCr space, each plane with the same model and quality (on live1 at q10, also restoring the chroma
    planes instead of keeping them as decoded adds 0.24 dB of RGB PSNR and removes visible colour blocks). The
    model averages 4 flips (JPEG_VIEWS, +0.05 dB on live1 at q10; ``ensemble=False`` is 4x faster), on the image
    padded to the model's multiple of 16 by repeating its last row and column, as the encoder fills partial 8x8
    blocks (reflection would fill them with content the encoder never coded; +0.004 dB on set14's images whose
    sides are not multiples of 8). Above the ``max_quality`` a model's metadata may give (measured for its weights:
    above it they lower PSNR), the input is returned. The model's luma is then projected onto the DCT intervals
    the JPEG's quantisation leaves (:func:`pixelsmith.jpeg.quantisation_constraint`), with the file's luma
    ``table`` when given, else libjpeg's standard one at ``quality``; skipped where the image does not fit that
    table (cropped, resized)."""
    from pixelsmith.data.patches import jpeg_condition

    check_method("jpeg", method)
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality {quality} is out of range; accepted: 1 to 100 (trained on 10-90)")
    if method == "none":
        return x
    net = load_restorer("jpeg", model, x.shape[0])
    if quality > net.config.get("metadata", {}).get("max_quality", 100):
        return x
    cond, views = jpeg_condition(quality, *x.shape[-2:]), JPEG_VIEWS if ensemble else ONE

    def run(t: torch.Tensor) -> torch.Tensor:  # padded by edge repetition, as the encoder pads partial blocks
        return apply_model(net, t, cond, bf16=bf16, views=views, pad="replicate")

    table = ijg_luma_table(quality) if table is None else table
    if x.shape[0] == 3:
        decoded = rgb_to_ycbcr(x)
        restored = run(decoded) if model_channels(net) == 1 else rgb_to_ycbcr(run(x))
        restored[0] = quantisation_constraint(restored[0], decoded[0], table)
        return ycbcr_to_rgb_in_gamut(restored)  # keeps the projected luma
    return quantisation_constraint(run(x)[0], x[0], table)[None].clamp(0, 1)
