"""Property-based fuzzing of `pixelsmith restore` (hypothesis, seeded so CI is repeatable): random sizes from
1x1 up, PIL modes and bit depths, file formats, damaged files, masks, kernels and parameter values at and
beyond their limits, for every task and method. Each run ends in one of two ways: exit 0 with one output file
of the right size and mode, or a one-line error with exit 1 or 2, no traceback and no file written."""

import contextlib
import io
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pixelsmith.cli import main
from pixelsmith.pipelines.methods import METHODS

MODES = ["L", "LA", "RGB", "RGBA", "P", "1", "I;16"]
SUFFIXES = [".png", ".jpg", ".bmp", ".tif", ".webp", ".gif"]
KERNELS = ["gaussian:0.3", "gaussian:1.6", "motion:3:0", "motion:7:45", "gaussian:0.8", "motion:5:90",
           "motion:15:nan", "gaussian:inf", "gaussian:-1", "box:3", "motion:101:45", "gaussian:", "motion:5:1e308"]
FLOATS = st.one_of(st.none(), st.floats(-10, 300), st.sampled_from([0.0, 255.0, 255.1, math.nan, math.inf]))


def make_image(rng: np.random.Generator, h: int, w: int, mode: str) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 3, "1": 1}[mode]
    array = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    if mode == "LA" or mode == "RGBA":
        array[..., -1] = np.where(rng.random((h, w)) < 0.3, 0, 255)
    image = Image.fromarray(array[..., 0] if channels == 1 else array, {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels])
    return image.convert(mode) if mode in ("P", "1") else image


@st.composite
def cases(draw):
    task = draw(st.sampled_from(list(METHODS)))
    method = draw(st.sampled_from([m for m in METHODS[task] if m not in ("bm3d", "diffusion")]))  # diffusion: digits only
    method = "bogus" if draw(st.integers(0, 9)) == 0 else method
    args = ["--task", task, "--method", method]
    if draw(st.integers(0, 2)) == 0:
        args += ["--sigma", str(draw(FLOATS.filter(lambda v: v is not None)))]
    if task == "sr" or draw(st.integers(0, 5)) == 0:
        args += ["--scale", str(draw(st.integers(0, 5)))]
    if task == "deblur" or draw(st.integers(0, 5)) == 0:
        args += ["--kernel", draw(st.sampled_from(KERNELS))]
    if task == "jpeg" and draw(st.booleans()):
        args += ["--quality", str(draw(st.integers(-5, 105)))]
    if method == "dip" or draw(st.integers(0, 5)) == 0:
        args += ["--iterations", str(draw(st.integers(-1, 3)))]
    if draw(st.booleans()):
        args += ["--fast"]
    mask = draw(st.sampled_from(["none", "random", "white", "black", "wrong size"])) if task == "inpaint" else "none"
    return {"args": args, "mask": mask, "h": draw(st.integers(1, 40)), "w": draw(st.integers(1, 40)),
            "mode": draw(st.sampled_from(MODES)), "suffix": draw(st.sampled_from(SUFFIXES)),
            "damage": draw(st.sampled_from([None] * 8 + ["truncate", "zero"])), "seed": draw(st.integers(0, 99))}


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return code, err.getvalue()


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_restore_ends_in_a_right_output_or_a_clean_error(case):
    rng = np.random.default_rng(case["seed"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / f"in{case['suffix']}"
        image = make_image(rng, case["h"], case["w"], case["mode"])
        try:
            image.save(source)
        except (OSError, ValueError, KeyError):  # a mode this format cannot hold: save it as PNG instead
            source = source.with_suffix(".png")
            image.save(source)
        if case["damage"] == "truncate":
            source.write_bytes(source.read_bytes()[: max(1, source.stat().st_size // 2)])
        elif case["damage"] == "zero":
            source.write_bytes(b"")
        args = list(case["args"])
        h, w = case["h"], case["w"]
        if case["mask"] != "none":
            mh, mw = (h + 1, w) if case["mask"] == "wrong size" else (h, w)
            values = {"random": rng.integers(0, 2, (mh, mw)) * 255, "white": np.full((mh, mw), 255),
                      "black": np.zeros((mh, mw)), "wrong size": rng.integers(0, 2, (mh, mw)) * 255}[case["mask"]]
            Image.fromarray(values.astype(np.uint8)).save(tmp / "mask.png")
            args += ["--mask", tmp / "mask.png"]
        target = tmp / "out.png"
        code, err = run(["restore", source, "-o", target, *args])
        assert "Traceback" not in err, err
        if code == 0:
            out = Image.open(target)
            s = int(args[args.index("--scale") + 1]) if args[1] == "sr" else 1
            assert out.size == (w * s, h * s), (out.size, args)
        else:
            assert code in (1, 2), (code, err)
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("pixelsmith restore: error: "), err
            assert not target.exists(), args
        assert not [p for p in tmp.iterdir() if p.name.startswith(".")], "a temporary file was left"


@st.composite
def api_cases(draw):
    task = draw(st.sampled_from(list(METHODS)))
    method = draw(st.sampled_from([m for m in METHODS[task] if m not in ("bm3d", "dip", "diffusion")]))
    params = {"method": method, "ensemble": draw(st.booleans())}
    if task == "sr":
        params["scale"] = draw(st.sampled_from([2, 3, 4]))
    if task == "deblur":
        params["kernel"] = draw(st.sampled_from(["gaussian:0.3", "motion:3:0", "gaussian:1.0"]))
    if task == "jpeg":
        params["quality"] = draw(st.integers(1, 100))
    if task in ("denoise", "deblur") and draw(st.booleans()):
        params["sigma"] = draw(st.floats(0, 255))
    kind = draw(st.sampled_from(["uint8", "uint16", "tensor"]))
    channels = draw(st.sampled_from([1, 3] if kind == "tensor" else [0, 1, 2, 3, 4]))
    return task, params, kind, channels, draw(st.integers(1, 24)), draw(st.integers(1, 24)), draw(st.integers(0, 99))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(api_cases())
def test_the_api_gives_back_the_kind_it_was_given(case):
    """ps.restore on arrays and tensors: the same kind, dtype and layout back, at the right size, finite."""
    import torch

    import pixelsmith as ps
    from pixelsmith import PixelsmithError

    task, params, kind, channels, h, w, seed = case
    rng = np.random.default_rng(seed)
    if kind == "tensor":
        image = torch.from_numpy(rng.random((channels, h, w), dtype=np.float32))
    else:
        peak = 255 if kind == "uint8" else 65535
        shape = (h, w) if channels == 0 else (h, w, channels)
        image = rng.integers(0, peak + 1, shape).astype(kind)
    mask = (rng.random((h, w)) < 0.3).astype(np.uint8) * 255 if task == "inpaint" else None
    try:
        out = ps.restore(image, task, mask=mask, **params)
    except PixelsmithError as exc:  # only for what the inputs make impossible
        assert task == "deblur" or (task == "inpaint" and not (0 < mask.sum() < mask.size * 255)), exc
        return
    s = params.get("scale", 1)
    assert type(out) is type(image) and out.dtype == image.dtype
    if kind == "tensor":
        assert out.shape == (channels, h * s, w * s)
        assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    else:
        assert out.shape == (h * s, w * s, *image.shape[2:])
