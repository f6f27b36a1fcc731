"""JPEG files and their quantisation (pixelsmith.jpeg, the module; the artifact-removal pipeline is tested in
test_jpeg.py): the quality and luma table a file was written with, whether decoded pixels fit a table, and the
projection onto a file's DCT quantisation intervals."""

import numpy as np
import pytest
import torch
from conftest import gen, inside_intervals, saved_jpeg
from PIL import Image

from pixelsmith import PixelsmithError
from pixelsmith.jpeg import (
    file_luma_table,
    fits,
    ijg_luma_table,
    jpeg_condition,
    jpeg_quality,
    misfit,
    quantisation_constraint,
)
from pixelsmith.metrics import psnr


# ---- quality and tables of a file ----------------------------------------------------------------------
@pytest.mark.parametrize("quality", [10, 30, 50, 75, 90])
def test_jpeg_quality_is_read_from_the_tables(tmp_path, quality):
    import cv2
    from skimage import data

    image = data.astronaut()[:96, :128]
    Image.fromarray(image).save(tmp_path / "colour.jpg", quality=quality)
    Image.fromarray(image).save(tmp_path / "444.jpg", quality=quality, subsampling=0, progressive=True)
    Image.fromarray(image[..., 1]).save(tmp_path / "gray.jpg", quality=quality)
    cv2.imwrite(str(tmp_path / "opencv.jpg"), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    for name in ("colour.jpg", "444.jpg", "gray.jpg", "opencv.jpg"):
        assert abs(jpeg_quality(str(tmp_path / name)) - quality) <= 1, name


def test_jpeg_quality_of_other_formats(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(PixelsmithError, match="not a JPEG file.*pass quality=Q"):
        jpeg_quality(str(tmp_path / "a.png"))
    assert file_luma_table(str(tmp_path / "a.png")) is None


@pytest.mark.parametrize("quality", [10, 37, 50, 90])
def test_ijg_table_is_the_one_libjpeg_writes(tmp_path, camera, quality):
    saved_jpeg(camera[0, :64, :64], tmp_path / "a.jpg", quality=quality)
    table = file_luma_table(str(tmp_path / "a.jpg"))
    assert table.shape == (8, 8) and table.dtype == torch.float64
    assert torch.equal(table, ijg_luma_table(quality))


def test_the_condition_map_names_the_quality():
    cond = jpeg_condition(30, 5, 7)
    assert cond.shape == (1, 5, 7) and torch.allclose(cond, torch.full((1, 5, 7), 0.7))
    assert jpeg_condition(90, 2, 2).max() < jpeg_condition(10, 2, 2).min()  # lower quality, stronger condition


# ---- fit and projection --------------------------------------------------------------------------------
def test_decoded_jpeg_fits_its_table_and_nothing_else(tmp_path, camera):
    decoded = saved_jpeg(camera[0, :200, :200], tmp_path / "a.jpg", quality=20)
    assert misfit(decoded, ijg_luma_table(20)) < 0.05
    assert misfit(decoded[3:, 5:], ijg_luma_table(20)) > 0.15  # cropped: the 8x8 grid moved
    assert misfit(decoded, ijg_luma_table(30)) > 0.15  # another table
    assert fits(decoded, ijg_luma_table(20))
    assert not fits(decoded, ijg_luma_table(40))  # a finer table fits the data, but so does twice it
    assert misfit(camera[0, :200, :200], ijg_luma_table(20)) > 0.15  # never compressed


def test_projection_brings_an_estimate_closer_and_into_the_constraint_set(tmp_path, camera):
    clean = camera[0, 100:300, 150:350]
    decoded = saved_jpeg(clean, tmp_path / "a.jpg", quality=50)
    table = ijg_luma_table(50)
    estimate = (clean + 0.03 * torch.randn(clean.shape, generator=gen(0))).clamp(0, 1)
    projected = quantisation_constraint(estimate, decoded, table)
    assert projected.shape == estimate.shape and projected.dtype == estimate.dtype
    assert psnr(projected[None, None], clean[None, None]) > psnr(estimate[None, None], clean[None, None]) + 0.5
    assert inside_intervals(projected, decoded, table).all()
    assert not inside_intervals(estimate, decoded, table).all()
    assert torch.allclose(quantisation_constraint(projected, decoded, table), projected, atol=1e-5)  # idempotent
    assert torch.allclose(quantisation_constraint(decoded, decoded, table), decoded, atol=1e-5)  # already inside


def test_projection_keeps_partial_edge_blocks_and_works_in_strips(tmp_path, camera):
    clean = camera[0, 150:250, 150:250]
    decoded = saved_jpeg(clean, tmp_path / "a.jpg", quality=10)
    estimate = (decoded + 0.05).clamp(0, 1)
    whole = quantisation_constraint(estimate, decoded, ijg_luma_table(10))
    assert torch.equal(whole[96:], estimate[96:]) and torch.equal(whole[:, 96:], estimate[:, 96:])
    assert not torch.equal(whole[:96, :96], estimate[:96, :96])
    assert torch.allclose(quantisation_constraint(estimate, decoded, ijg_luma_table(10), rows=1), whole, atol=1e-6)


def test_projection_is_skipped_when_the_image_does_not_fit(tmp_path, camera):
    decoded = saved_jpeg(camera[0, :200, :200], tmp_path / "a.jpg", quality=10)
    estimate = (decoded + 0.02).clamp(0, 1)
    cropped = estimate[3:, 3:]
    assert quantisation_constraint(cropped, decoded[3:, 3:], ijg_luma_table(10)) is cropped
    assert quantisation_constraint(estimate, decoded, ijg_luma_table(40)) is estimate
