"""JPEG artifact removal (pipelines.jpeg; the table and projection helpers of pixelsmith.jpeg are tested in
test_jpeg_tables.py): the quality-map model removes blocking from gray and colour images, its luma stays in
the file's quantisation intervals, partial edge blocks are restored too, and it leaves alone what it would
make worse."""

import pytest
import torch
from conftest import inside_intervals, saved_jpeg

from pixelsmith import UsageError
from pixelsmith import degradations as D
from pixelsmith.colorspace import rgb_to_ycbcr
from pixelsmith.jpeg import file_luma_table, ijg_luma_table
from pixelsmith.metrics import psnr
from pixelsmith.pipelines.jpeg import remove_jpeg_artifacts
from pixelsmith.pipelines.methods import load_restorer


def test_jpeg_model_contract(astronaut):
    decoded = D.jpeg_compress(astronaut, 20)
    out = remove_jpeg_artifacts(decoded, 20)
    assert out.shape == astronaut.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    assert psnr(out, astronaut) > psnr(decoded, astronaut) - 0.05  # never worse than the JPEG itself
    chroma_out, chroma_in, chroma_clean = (rgb_to_ycbcr(t)[1:] for t in (out, decoded, astronaut))
    # chroma planes are restored too: closer to the clean chroma than the decoded ones
    assert (chroma_out - chroma_clean).abs().mean() < (chroma_in - chroma_clean).abs().mean()
    gray = D.jpeg_compress(astronaut[:1], 20)
    assert remove_jpeg_artifacts(gray, 20).shape == (1, 96, 128)
    assert torch.equal(remove_jpeg_artifacts(decoded, 20, method="none"), decoded)


@pytest.mark.parametrize("quality", [10, 50])
def test_jpeg_model_removes_artifacts(camera, quality):
    clean = camera[:, 128:256, 128:256]
    decoded = D.jpeg_compress(clean, quality)
    assert psnr(remove_jpeg_artifacts(decoded, quality), clean) > psnr(decoded, clean) + 0.5


def test_self_ensemble_is_not_worse(camera):
    clean = camera[:, 128:256, 128:256]
    decoded = D.jpeg_compress(clean, 20)
    one, four = (psnr(remove_jpeg_artifacts(decoded, 20, ensemble=e), clean) for e in (False, True))
    assert four > one


def test_partial_edge_blocks_are_restored_as_well_as_the_rest(camera):
    """An image whose sides are not multiples of 8 ends in partial 8x8 blocks, which the encoder fills by
    repeating the last row and column; the model sees its input padded the same way, so the edge strip beyond
    the last full block gains about as much as the image does (measured at q10: +1.69 dB on the strip, +1.76
    on the image; padding by reflection instead gains +0.76 on the strip)."""
    clean = camera[:, 100:193, 200:321]  # 93 x 121: 5 rows and 1 column beyond the last full block
    decoded = D.jpeg_compress(clean, 10)
    restored = remove_jpeg_artifacts(decoded, 10, bf16=False)
    assert restored.shape == clean.shape
    assert psnr(restored, clean) > psnr(decoded, clean) + 1

    def strip(t):
        return torch.cat([t[:, 88:, :].flatten(), t[:, :88, 120:].flatten()]).view(1, 1, -1)

    assert psnr(strip(restored), strip(clean)) > psnr(strip(decoded), strip(clean)) + 1.2


def test_jpeg_model_is_not_applied_where_it_would_hurt(camera):
    """Above the max_quality in its metadata the bundled model scores below the decoded file: the decoded
    JPEG comes back unchanged; at and below it, the model runs."""
    clean = camera[:, 128:256, 128:256]
    limit = load_restorer("jpeg").config["metadata"]["max_quality"]
    above = D.jpeg_compress(clean, limit + 1)
    assert torch.equal(remove_jpeg_artifacts(above, limit + 1), above)
    at_limit = D.jpeg_compress(clean, limit)
    assert not torch.equal(remove_jpeg_artifacts(at_limit, limit), at_limit)


def test_jpeg_removal_uses_a_files_own_table(tmp_path, camera):
    """A file written with a non-standard table: the model's output is constrained by the file's table (its
    coefficients quantise to the file's), which libjpeg's standard table at the estimated quality would not fit."""
    clean = camera[0, 128:256, 128:256]
    decoded = saved_jpeg(clean, tmp_path / "a.jpg", qtables=[[60] * 64])
    table = file_luma_table(str(tmp_path / "a.jpg"))
    assert torch.equal(table, torch.full((8, 8), 60.0, dtype=torch.float64))
    out = remove_jpeg_artifacts(decoded[None], 10, table=table)[0]
    # all but a few coefficients moved by the final clipping to [0, 1] stay in the file's intervals
    assert inside_intervals(out, decoded, table).float().mean() > 0.99
    assert psnr(out[None, None], clean[None, None]) > psnr(decoded[None, None], clean[None, None])


def test_jpeg_removal_projects_colour_luma(astronaut):
    decoded = D.jpeg_compress(astronaut, 10)
    out = remove_jpeg_artifacts(decoded, 10, ensemble=False)
    luma_out, luma_in = rgb_to_ycbcr(out)[0], rgb_to_ycbcr(decoded)[0]
    # RGB clipping of the result may move a few coefficients; nearly all stay in the decoded file's intervals
    assert inside_intervals(luma_out, luma_in, ijg_luma_table(10)).float().mean() > 0.98


def test_bad_arguments_are_usage_errors(camera):
    x = camera[:, :32, :32]
    with pytest.raises(UsageError, match="method=nlm is not known for jpeg; accepted: model, none"):
        remove_jpeg_artifacts(x, 30, method="nlm")
    with pytest.raises(UsageError, match="quality=0 is out of range"):
        remove_jpeg_artifacts(x, 0)
    with pytest.raises(UsageError, match="quality=101 is out of range"):
        remove_jpeg_artifacts(x, 101)
    with pytest.raises(UsageError, match="model=resunet-denoise-gray is not a model for jpeg"):
        remove_jpeg_artifacts(x, 30, model="resunet-denoise-gray")


def test_halved_chroma_of_a_420_file_is_restored_at_its_coded_size(tmp_path):
    """A 4:2:0 file's chroma restored at half resolution: a different result from the full-size planes, at
    least as close to the clean chroma, and the same luma; only 4:2:0 colour JPEG files are detected."""
    from PIL import Image
    from skimage import data

    from pixelsmith.jpeg import file_chroma_halved

    clean = torch.from_numpy(data.astronaut()[:256, :256].copy()).permute(2, 0, 1).float() / 255.0
    decoded = D.jpeg_compress(clean, 20)  # Pillow's default subsampling, 4:2:0
    full, half = (remove_jpeg_artifacts(decoded, 20, chroma_halved=h) for h in (False, True))
    chroma = [rgb_to_ycbcr(t)[1:] for t in (full, half, clean, decoded)]
    assert not torch.allclose(chroma[0], chroma[1], atol=1e-3)
    assert psnr(chroma[1], chroma[2]) >= psnr(chroma[0], chroma[2]) - 0.05 > psnr(chroma[3], chroma[2])
    assert (rgb_to_ycbcr(full)[0] - rgb_to_ycbcr(half)[0]).abs().max() < 2 / 255  # luma: the gamut fit only
    image = Image.fromarray(data.astronaut()[:64, :64])
    image.save(tmp_path / "420.jpg", quality=50)
    image.save(tmp_path / "444.jpg", quality=50, subsampling=0)
    image.convert("L").save(tmp_path / "gray.jpg")
    image.save(tmp_path / "x.png")
    assert [file_chroma_halved(tmp_path / n) for n in ("420.jpg", "444.jpg", "gray.jpg", "x.png")] == \
        [True, False, False, False]
