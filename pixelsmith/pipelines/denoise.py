"""Denoising: the learned noise-level-map denoiser (a gray model on colour images through opponent channels,
joined on colour files by the colour model), Deep Image Prior, and the classical baselines."""

from __future__ import annotations

import torch
import torch.nn as nn

from pixelsmith.baselines import estimate_sigmas, in_unit_range
from pixelsmith.colorspace import opponent_noise, opponent_to_rgb, rgb_to_opponent
from pixelsmith.errors import UsageError
from pixelsmith.nn import dihedral
from pixelsmith.pipelines.methods import COLOUR_DENOISER, check_method, check_sigma, load_restorer
from pixelsmith.pipelines.tiling import ONE, ROTATIONS, apply_model, model_channels
from pixelsmith.progress import Progress

# How a gray model denoises a colour image (the ``colour`` parameter of denoise):
# views: the gray model on the opponent channels of COLOUR_VIEWS, averaged (for unclipped Gaussian noise);
# mix:   two views mixed per pixel with the colour model by the noise level (a file's noise was clipped to [0, 1]);
# colour: the colour model alone on RGB (one pass: a third of the work of one view);
# auto:  on a file (every value within [0, 1]) mix, or with one pass (ensemble=False) the colour model from a
#        mean noise level of COLOUR_ALONE_SIGMA and one view below it; views otherwise.
COLOUR_STRATEGIES = ("auto", "mix", "views", "colour")
COLOUR_ALONE_SIGMA = 24.0  # about where one pass of the colour model stops trailing one gray view (docs/tasks.md)

# Views a gray model denoises a colour image in: a rotation of the colour channels (RGB, GBR, BRG; the opponent
# channels then differ) and a flip/rotation of the image (nn.dihedral), each view its own pair.
COLOUR_VIEWS = ((0, 0), (1, 2), (2, 4))
MIX_VIEWS = 2  # views of the gray model in the mix (two score as three there; docs/tasks.md)


def noise_map(x: torch.Tensor, sigma: float | torch.Tensor | None) -> torch.Tensor:
    """A (C,H,W) noise-level map on the 0-255 scale: from a number, a map broadcastable to the image, or, when
    ``sigma`` is None, estimated per channel from the image (wavelet MAD). A float32 map of the image's shape (as
    this returns; the pipelines pass it on) is returned as it is, not copied again."""
    if sigma is None:
        sigma = torch.tensor(estimate_sigmas(x)).view(-1, 1, 1)
    sigma = torch.as_tensor(sigma, dtype=torch.float32)
    return sigma if sigma.shape == x.shape else sigma.expand_as(x).clone()


def _opponent_pass(net: nn.Module, x: torch.Tensor, levels: torch.Tensor, rotation: int, flip: int,
                   bf16: bool, progress: Progress) -> torch.Tensor:
    """One pass of a gray noise-map model over the opponent channels of a colour view of ``x``, mapped back."""
    order, back = [(rotation + c) % 3 for c in range(3)], [(c - rotation) % 3 for c in range(3)]
    image, sigma = dihedral(x[order], flip), dihedral(levels[order], flip)
    restored = apply_model(net, rgb_to_opponent(image), opponent_noise(sigma) / 255.0, bf16=bf16, progress=progress)
    return dihedral(opponent_to_rgb(restored), flip, inverse=True)[back]


def _mean_of_views(net: nn.Module, x: torch.Tensor, levels: torch.Tensor, views: tuple, bf16: bool,
                   progress: Progress) -> torch.Tensor:
    return (sum(_opponent_pass(net, x, levels, r, f, bf16, progress) for r, f in views) / len(views)).clamp(0, 1)


def denoise_with(net: nn.Module, x: torch.Tensor, sigma: float | torch.Tensor | None, bf16: bool = True,
                 ensemble: bool = False, progress: Progress = None) -> torch.Tensor:
    """Denoise with a given model: a noise-map model gets the level map (/255), a blind one ignores it.
    A gray noise-map model given a colour image denoises its three opponent channels (luminance, red-blue,
    green-magenta), where RGB noise stays white at known levels, as CBM3D does; ``ensemble`` averages the
    COLOUR_VIEWS there and the 4 ROTATIONS elsewhere."""
    conditioned, views = net.config["args"].get("cond_channels", 0) > 0, ROTATIONS if ensemble else ONE
    if not conditioned:
        return apply_model(net, x, None, bf16=bf16, views=views, progress=progress)
    levels = noise_map(x, sigma)
    if x.shape[0] == 3 and model_channels(net) == 1:
        return _mean_of_views(net, x, levels, COLOUR_VIEWS if ensemble else COLOUR_VIEWS[:1], bf16, progress)
    return apply_model(net, x, levels / 255.0, bf16=bf16, views=views, progress=progress)


def denoise_luminance(net: nn.Module, x: torch.Tensor, sigma: float | torch.Tensor | None, bf16: bool = True,
                      progress: Progress = None) -> torch.Tensor:
    """A gray noise-map model over the opponent luminance of colour ``x`` only, its chroma kept as it is: a third
    of denoise_with's work (plug-and-play's last iteration on large images, docs/tasks.md)."""
    channels = rgb_to_opponent(x)
    luminance = opponent_noise(noise_map(x, sigma))[:1]
    channels[:1] = apply_model(net, channels[:1], luminance / 255.0, bf16=bf16, progress=progress)
    return opponent_to_rgb(channels)


def colour_model_weight(levels: torch.Tensor) -> torch.Tensor:
    """Per-pixel weight (1,H,W) of the colour model against the gray model's views, from a (C,H,W) 0-255 level
    map: it grows with the noise level, as clipping does (how the weights were chosen: docs/tasks.md)."""
    return ((levels.mean(0, keepdim=True) - 8) / 35).clamp(0, 0.9)


def denoise_clipped_colour(net: nn.Module, colour: nn.Module, x: torch.Tensor, sigma: float | torch.Tensor | None,
                           bf16: bool = True, views: int = MIX_VIEWS, progress: Progress = None) -> torch.Tensor:
    """Denoise a colour image with clipped noise: ``views`` views of the gray model mixed with the colour model
    by colour_model_weight (the colour model is not run when its weight is 0 everywhere)."""
    levels = noise_map(x, sigma)  # estimated once for both models when sigma is None
    restored = _mean_of_views(net, x, levels, COLOUR_VIEWS[:views], bf16, progress)
    weight = colour_model_weight(levels)
    if weight.max() > 0:
        restored = (1 - weight) * restored + weight * denoise_with(colour, x, levels, bf16, progress=progress)
    return restored.clamp(0, 1)


def check_colour(colour: str) -> None:
    """A usage error naming the colour strategies."""
    if colour not in COLOUR_STRATEGIES:
        raise UsageError(f"colour={colour} is not known; accepted: {', '.join(COLOUR_STRATEGIES)}")


def colour_strategy(x: torch.Tensor, colour: str, ensemble: bool, levels: torch.Tensor) -> str:
    """The strategy ``colour`` resolves to for image ``x`` with noise-level map ``levels`` (0-255): 'mix',
    'views' or 'colour' (see COLOUR_STRATEGIES)."""
    check_colour(colour)
    if colour != "auto":
        return colour
    if not in_unit_range(x):
        return "views"
    if ensemble:
        return "mix"
    return "colour" if float(levels.mean()) >= COLOUR_ALONE_SIGMA else "views"


def denoise(x: torch.Tensor, sigma: float | torch.Tensor | None = None, *, method: str = "model",
            model: str | None = None, colour: str = "auto", colour_model: str = COLOUR_DENOISER, bf16: bool = True,
            ensemble: bool = True, iterations: int = 2000, progress: Progress = None) -> torch.Tensor:
    """Denoise a (C,H,W) image. ``sigma`` (0-255; a number or a per-channel/spatial map) is estimated when None.

    The learned method averages several estimates (``ensemble=False``: one pass, 2-4x faster): a gray image
    the 4 rotations of the gray model; a colour image, with a gray model, follows the ``colour`` strategy
    (COLOUR_STRATEGIES; 'mix' and 'colour' bring in ``colour_model``). A colour ``model`` runs on RGB directly."""
    check_method("denoise", method)
    if not torch.is_tensor(sigma):
        check_sigma(sigma)
    if method == "model":
        net = load_restorer("denoise", model)
        if x.shape[0] == 3 and model_channels(net) == 1:
            sigma = noise_map(x, sigma)  # estimated once for the choice and the models
            strategy = colour_strategy(x, colour, ensemble, sigma)
            if strategy == "colour":
                return denoise_with(load_restorer("denoise", colour_model), x, sigma, bf16, ensemble, progress)
            if strategy == "mix":
                return denoise_clipped_colour(net, load_restorer("denoise", colour_model), x, sigma, bf16,
                                              MIX_VIEWS if ensemble else 1, progress)
        return denoise_with(net, x, sigma, bf16, ensemble, progress)
    level = None if sigma is None else float(torch.as_tensor(sigma, dtype=torch.float32).mean())
    if method == "dip":
        from pixelsmith.dip import deep_image_prior

        level = level if level is not None else float(sum(estimate_sigmas(x)) / x.shape[0])
        return deep_image_prior(x, sigma=level, iterations=iterations, progress=progress)
    from pixelsmith.baselines import classical_denoise

    return classical_denoise(method, x, level)
