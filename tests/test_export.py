"""ONNX export: onnxruntime computes what PyTorch computes, at sizes and batch sizes other than the traced one."""

import pytest
import torch

from pixelsmith import PixelsmithError, UsageError
from pixelsmith.hub import from_pretrained, save_pretrained
from pixelsmith.registry import create_model

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from pixelsmith.export import export_onnx  # noqa: E402


def run_both(path, model, shapes):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == (["image", "condition"] if model.cond_channels else ["image"])
    assert [o.name for o in session.get_outputs()] == ["restored"]
    g = torch.Generator().manual_seed(0)
    for n, h, w in shapes:
        x = torch.rand(n, model.channels, h, w, generator=g)
        feeds = {"image": x.numpy()}
        cond = None
        if model.cond_channels:
            cond = torch.rand(n, model.cond_channels, h, w, generator=g)
            cond = (cond > 0.7).float() if model.inpaint else cond * 0.2
            feeds["condition"] = cond.numpy()
        (onnx_out,) = session.run(["restored"], feeds)
        with torch.no_grad():
            torch_out = model(x, cond) if cond is not None else model(x)
        assert onnx_out.shape == tuple(torch_out.shape)
        assert (torch.from_numpy(onnx_out) - torch_out).abs().max() < 1e-4
        assert (torch_out - x).abs().mean() > 1e-3  # a model that does something, so the comparison means something


def test_bundled_denoiser_matches_onnxruntime(tmp_path):
    path = export_onnx("resunet-denoise-gray", tmp_path / "denoise.onnx")
    run_both(path, from_pretrained("resunet-denoise-gray"), [(1, 64, 96), (2, 96, 32), (1, 128, 128)])


def test_gated_inpainting_model_matches_onnxruntime(tmp_path):
    """A small gated inpainter with random weights everywhere (the bundled one may still be untrained)."""
    model = create_model("resunet", channels=3, widths=[8, 16, 32], blocks=1, cond_channels=1, gated=True, inpaint=True)
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    save_pretrained(model, tmp_path / "inpainter")
    path = export_onnx(str(tmp_path / "inpainter"), tmp_path / "inpaint.onnx")
    run_both(path, from_pretrained(tmp_path / "inpainter"), [(1, 32, 64), (3, 64, 32)])


def test_export_refuses(tmp_path):
    with pytest.raises(UsageError, match="must end in .onnx"):
        export_onnx("resunet-denoise-gray", tmp_path / "model.bin")
    with pytest.raises(UsageError, match="not an image-to-image restoration model"):
        export_onnx("dcgan-mnist", tmp_path / "gan.onnx")
    (tmp_path / "old.onnx").write_bytes(b"keep me")
    with pytest.raises(PixelsmithError, match="old.onnx exists; pass overwrite=True"):
        export_onnx("resunet-denoise-gray", tmp_path / "old.onnx")
    assert (tmp_path / "old.onnx").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]  # nothing half-written
    export_onnx("resunet-denoise-gray", tmp_path / "old.onnx", overwrite=True)
    assert (tmp_path / "old.onnx").stat().st_size > 1e6
