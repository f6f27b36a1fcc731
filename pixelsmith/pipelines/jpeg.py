"""JPEG artifact removal: the quality-map model on each YCbCr plane, its luma projected onto the DCT
quantisation intervals of the file's own table; 'none' returns the decoded JPEG."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelsmith.colorspace import rgb_to_ycbcr, ycbcr_to_rgb_in_gamut
from pixelsmith.jpeg import ijg_luma_table, jpeg_condition, quantisation_constraint
from pixelsmith.pipelines.methods import check_method, check_quality, load_restorer
from pixelsmith.pipelines.tiling import FLIPS, ONE, apply_model, model_channels
from pixelsmith.progress import Progress

JPEG_VIEWS = FLIPS  # the self-ensemble of the JPEG model (why the flips: docs/tasks.md)


def remove_jpeg_artifacts(x: torch.Tensor, quality: int, *, method: str = "model", model: str | None = None,
                          bf16: bool = True, ensemble: bool = True, table: torch.Tensor | None = None,
                          chroma_halved: bool = False, progress: Progress = None) -> torch.Tensor:
    """Remove blocking and ringing from a decoded JPEG (C,H,W) saved at ``quality``.

    Colour images are restored in JPEG's own YCbCr space, each plane with the same model and quality; with
    ``chroma_halved`` (a 4:2:0 file) the chroma planes are restored at the half resolution they were coded at
    (2x2 means, then bilinear upsampling as libjpeg's), a quarter of the work for no loss (docs/tasks.md). The model
    averages the 4 flips (``ensemble=False`` is 4x faster), on the image padded to the model's multiple of 16
    by repeating its last row and column, as the encoder fills partial 8x8 blocks. Above the ``max_quality`` a
    model's metadata may give (above it those weights lower PSNR), the input is returned. The model's luma is
    then projected onto the DCT intervals the JPEG's quantisation leaves
    (:func:`pixelsmith.jpeg.quantisation_constraint`), with the file's luma ``table`` when given, else
    libjpeg's standard one at ``quality``; skipped where the image does not fit that table (cropped, resized)."""
    check_method("jpeg", method)
    check_quality(quality)
    if method == "none":
        return x
    net = load_restorer("jpeg", model)
    if quality > net.config.get("metadata", {}).get("max_quality", 100):
        return x
    cond, views = jpeg_condition(quality, *x.shape[-2:]), JPEG_VIEWS if ensemble else ONE

    def run(t: torch.Tensor) -> torch.Tensor:  # padded by edge repetition, as the encoder pads partial blocks
        condition = cond if t.shape[-2:] == cond.shape[-2:] else jpeg_condition(quality, *t.shape[-2:])
        return apply_model(net, t, condition, bf16=bf16, views=views, pad="replicate", progress=progress)

    table = ijg_luma_table(quality) if table is None else table
    if x.shape[0] == 3:
        decoded = rgb_to_ycbcr(x)
        if model_channels(net) == 1 and chroma_halved:
            restored = torch.cat([run(decoded[:1]), _half_resolution(run, decoded[1:])])
        elif model_channels(net) == 1:
            restored = run(decoded)
        else:
            restored = rgb_to_ycbcr(run(x))
        restored[0] = quantisation_constraint(restored[0], decoded[0], table)
        return ycbcr_to_rgb_in_gamut(restored)  # keeps the projected luma
    return quantisation_constraint(run(x)[0], x[0], table)[None].clamp(0, 1)


def _half_resolution(run, chroma: torch.Tensor) -> torch.Tensor:
    """Restore (2,H,W) decoded chroma at the half resolution a 4:2:0 file codes it at, then upsample it back."""
    h, w = chroma.shape[-2:]
    coded = F.avg_pool2d(F.pad(chroma[None], (0, w % 2, 0, h % 2), mode="replicate"), 2)[0]
    restored = F.interpolate(run(coded)[None], scale_factor=2, mode="bilinear", align_corners=False)
    return restored[0, :, :h, :w]
