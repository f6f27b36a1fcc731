import numpy as np
import pytest
import torch
from conftest import run_main
from PIL import Image

from pixelsmith import degradations as D
from pixelsmith.colorspace import rgb_to_ycbcr
from pixelsmith.jpeg import _block_dct, file_luma_table, fits, ijg_luma_table, misfit, quantisation_constraint
from pixelsmith.metrics import psnr
from pixelsmith.pipelines import tasks as T


def saved(plane: torch.Tensor, path, **options) -> torch.Tensor:
    """Save a (H, W) plane as a gray JPEG file and read its decoded pixels back."""
    Image.fromarray((plane * 255).round().byte().numpy()).save(path, format="JPEG", **options)
    return torch.from_numpy(np.array(Image.open(path))).float() / 255


def coefficient_steps(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Full-block DCT coefficients in quantisation steps."""
    h, w = plane.shape[0] // 8 * 8, plane.shape[1] // 8 * 8
    return _block_dct(plane[:h, :w]) / table


def inside(plane: torch.Tensor, decoded: torch.Tensor, table: torch.Tensor, tol: float = 1e-4) -> torch.Tensor:
    """Which coefficients of ``plane`` lie in the quantisation intervals of the decoded file's."""
    return (coefficient_steps(plane, table) - coefficient_steps(decoded, table).round()).abs() <= 0.5 + tol


@pytest.mark.parametrize("quality", [10, 37, 50, 90])
def test_ijg_table_is_the_one_libjpeg_writes(tmp_path, camera, quality):
    saved(camera[0, :64, :64], tmp_path / "a.jpg", quality=quality)
    assert torch.equal(file_luma_table(str(tmp_path / "a.jpg")), ijg_luma_table(quality))


def test_file_luma_table_of_other_formats(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    assert file_luma_table(str(tmp_path / "a.png")) is None


def test_decoded_jpeg_fits_its_table_and_nothing_else(tmp_path, camera):
    decoded = saved(camera[0, :200, :200], tmp_path / "a.jpg", quality=20)
    assert misfit(decoded, ijg_luma_table(20)) < 0.05
    assert misfit(decoded[3:, 5:], ijg_luma_table(20)) > 0.15  # cropped: the 8x8 grid moved
    assert misfit(decoded, ijg_luma_table(30)) > 0.15  # another table
    assert fits(decoded, ijg_luma_table(20))
    assert not fits(decoded, ijg_luma_table(40))  # a finer table fits the data, but so does twice it
    assert misfit(camera[0, :200, :200], ijg_luma_table(20)) > 0.15  # never compressed


def test_projection_brings_an_estimate_closer_and_into_the_constraint_set(tmp_path, camera):
    clean = camera[0, 100:300, 150:350]
    decoded = saved(clean, tmp_path / "a.jpg", quality=50)
    table = ijg_luma_table(50)
    estimate = (clean + 0.03 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    projected = quantisation_constraint(estimate, decoded, table)
    assert psnr(projected[None, None], clean[None, None]) > psnr(estimate[None, None], clean[None, None]) + 0.5
    assert inside(projected, decoded, table).all()
    assert not inside(estimate, decoded, table).all()
    assert torch.allclose(quantisation_constraint(projected, decoded, table), projected, atol=1e-5)  # idempotent
    assert torch.allclose(quantisation_constraint(decoded, decoded, table), decoded, atol=1e-5)  # already inside


def test_projection_keeps_partial_edge_blocks_and_works_in_strips(tmp_path, camera):
    clean = camera[0, 150:250, 150:250]
    decoded = saved(clean, tmp_path / "a.jpg", quality=10)
    estimate = (decoded + 0.05).clamp(0, 1)
    whole = quantisation_constraint(estimate, decoded, ijg_luma_table(10))
    assert torch.equal(whole[96:], estimate[96:]) and torch.equal(whole[:, 96:], estimate[:, 96:])
    assert not torch.equal(whole[:96, :96], estimate[:96, :96])
    assert torch.allclose(quantisation_constraint(estimate, decoded, ijg_luma_table(10), rows=1), whole, atol=1e-6)


def test_projection_is_skipped_when_the_image_does_not_fit(tmp_path, camera):
    decoded = saved(camera[0, :200, :200], tmp_path / "a.jpg", quality=10)
    estimate = (decoded + 0.02).clamp(0, 1)
    cropped = estimate[3:, 3:]
    assert quantisation_constraint(cropped, decoded[3:, 3:], ijg_luma_table(10)) is cropped
    assert quantisation_constraint(estimate, decoded, ijg_luma_table(40)) is estimate


def test_jpeg_removal_uses_a_files_own_table(tmp_path, camera):
    """A file written with a non-standard table: the model's output is constrained by the file's table (its
    coefficients quantise to the file's), which libjpeg's standard table at the estimated quality would not fit."""
    clean = camera[0, 128:256, 128:256]
    flat = [60] * 64
    decoded = saved(clean, tmp_path / "a.jpg", qtables=[flat])
    table = file_luma_table(str(tmp_path / "a.jpg"))
    assert torch.equal(table, torch.full((8, 8), 60.0, dtype=torch.float64))
    out = T.remove_jpeg_artifacts(decoded[None], 10, table=table)[0]
    # all but a few coefficients moved by the final clipping to [0, 1] stay in the file's intervals
    assert inside(out, decoded, table).float().mean() > 0.99
    assert psnr(out[None, None], clean[None, None]) > psnr(decoded[None, None], clean[None, None])


def test_jpeg_removal_projects_colour_luma(astronaut):
    decoded = D.jpeg_compress(astronaut, 10)
    out = T.remove_jpeg_artifacts(decoded, 10, ensemble=False)
    luma_out, luma_in = rgb_to_ycbcr(out)[0], rgb_to_ycbcr(decoded)[0]
    table = ijg_luma_table(10)
    # RGB clipping of the result may move a few coefficients; nearly all stay in the decoded file's intervals
    assert inside(luma_out, luma_in, table).float().mean() > 0.98


def test_cli_jpeg_reads_the_table_from_the_file(tmp_path, capsys, camera):
    clean = camera[0, 128:256, 128:256]
    decoded = saved(clean, tmp_path / "in.jpg", qtables=[[60] * 64])
    code, _, err = run_main(capsys, "restore", tmp_path / "in.jpg", "-o", tmp_path / "out.png", "--task", "jpeg",
                            "--fast")
    assert code == 0, err
    out = torch.from_numpy(np.array(Image.open(tmp_path / "out.png"))).float() / 255
    table = torch.full((8, 8), 60.0, dtype=torch.float64)
    assert inside(out, decoded, table).float().mean() > 0.99
