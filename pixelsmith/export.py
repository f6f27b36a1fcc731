"""Export restoration models to ONNX, to run them without PyTorch (onnxruntime, browsers, mobile)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from pixelsmith.errors import PixelsmithError, UsageError
from pixelsmith.io import atomic_write
from pixelsmith.pipelines.store import load_model


def export_onnx(model: str, output: str | Path, overwrite: bool = False, opset: int = 17) -> Path:
    """Write ``model`` (bundled name, model folder or run) as ONNX with inputs ``image`` (N,C,H,W) and, for
    conditioned models, ``condition`` (N,K,H,W); output ``restored``. Height and width are dynamic but must be
    multiples of the model's ``multiple`` (16 for the bundled U-Nets): pad before, crop after."""
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise UsageError(f"{output}: the output must end in .onnx")
    if output.exists() and not overwrite:
        raise PixelsmithError(f"{output} exists; pass overwrite=True to replace it")
    net = load_model(model)
    args = net.config.get("args", {})
    if "channels" not in args or not hasattr(net, "multiple"):
        raise UsageError(f"'{model}' is not an image-to-image restoration model; only those export to ONNX")
    c, k, m = args["channels"], args.get("cond_channels", 0), net.multiple
    inputs = (torch.rand(1, c, 2 * m, 3 * m),) + ((torch.rand(1, k, 2 * m, 3 * m),) if k else ())
    names = ["image", "condition"][: len(inputs)]
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in names + ["restored"]}
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise PixelsmithError("ONNX export needs the 'onnx' package: pip install 'pixelsmith[onnx]'") from None

    def write(tmp: str) -> None:
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # shape checks fixed at trace time
        torch.onnx.export(net, inputs, tmp, input_names=names, output_names=["restored"], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)

    atomic_write(output, write)
    return output
