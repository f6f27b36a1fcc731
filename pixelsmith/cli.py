"""The ``pixelsmith`` command: a thin layer over ``pixelsmith.pipelines``.

Exit status: 0 success, 1 runtime failure (unreadable file, missing weights, ...), 2 usage error.
Errors are one line on stderr; set PIXELSMITH_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path

from pixelsmith import __version__
from pixelsmith.errors import Cancelled, PixelsmithError, UsageError
from pixelsmith.pipelines.methods import METHODS, TASKS
from pixelsmith.runtime import keep_freed_memory

EXAMPLES = {
    "models": "pixelsmith models",
    "restore": "pixelsmith restore noisy.png -o clean.png --task denoise\n"
               "  pixelsmith restore photos/ -o restored/ --method bm3d --sigma 25\n"
               "  pixelsmith restore holes.png -o filled.png --task inpaint --mask mask.png\n"
               "  pixelsmith restore digit.png -o filled.png --task inpaint --mask mask.png --method diffusion\n"
               "  pixelsmith restore small.png -o big.png --task sr --scale 4\n"
               "  pixelsmith restore shaky.png -o sharp.png --task deblur --kernel motion:15:30\n"
               "  pixelsmith restore photo.jpg -o clean.png --task jpeg\n"
               "  torchrun --standalone --nproc_per_node 2 --no-python pixelsmith restore photos/ -o out/",
    "degrade": "pixelsmith degrade clean.png -o noisy.png --noise 25 --seed 1\n"
               "  pixelsmith degrade clean.png -o small.png --downscale 4\n"
               "  pixelsmith degrade clean.png -o holes.png --mask strokes   (missing pixels become transparent)\n"
               "  pixelsmith degrade clean.png -o photo.jpg --jpeg 10",
    "export": "pixelsmith export --model resunet-denoise-gray --format onnx -o denoise.onnx",
    "generate": "pixelsmith generate --model dcgan-mnist -n 64 -o out/ --grid grid.png --seed 0\n"
                "  pixelsmith generate --model dcgan-mnist -n 16 -o out/ --option temperature=0.8\n"
                "  pixelsmith generate --model ddpm-mnist -n 100 -o out/ --sampler dpm --steps 25 --class 7 --guidance 1",
    "predict": "pixelsmith predict --model convlstm-movingmnist clip.gif -o predicted/\n"
               "  pixelsmith predict --model convlstm-movingmnist frames/ -o predicted/ --frames 5\n"
               "  pixelsmith predict --model convlstm-movingmnist clip.npy -o predicted/   (an array of frames, T x H x W)",
    "train": "pixelsmith train configs/dcgan-mnist.json --out runs/dcgan\n"
             "  pixelsmith train configs/dcgan-mnist.json steps=10000 --out runs/dcgan --resume\n"
             "  torchrun --standalone --nproc_per_node 2 --no-python pixelsmith train dcgan-mnist --out runs/ddp",
    "demo": "pixelsmith demo --out pixelsmith-demo",
    "serve": "pixelsmith serve            (then open http://127.0.0.1:8000)\n"
             "  pixelsmith serve --port 9000 --workers 2 --max-body-mb 20",
    "evaluate": "pixelsmith evaluate generate --model dcgan-mnist -n 10000 --reference mnist-test --json dcgan.json\n"
                "  pixelsmith evaluate generate --samples my_samples/ --reference mnist-test\n"
                "  pixelsmith evaluate likelihood --model vae-mnist --reference mnist-test -k 1000",
}


# Library errors name parameters as name=value; the CLI shows the flag that sets each.
FLAG_WORDS = {"ensemble=False": "--fast", "bf16=False": "--fp32", "overwrite=True": "--overwrite",
              "resume=True": "--resume", "download=True": "--download", "max_pixels=N": "--max-pixels N"}
PARAMETER = re.compile(r"\b(sigma|scale|kernel|quality|mask|iterations|model|method|format|colour|max_pixels|task|"
                       r"noise|poisson|blur|downscale|jpeg|seed|steps|guidance|label|out|n)=")


def flag_message(message: str) -> str:
    """``message`` with each ``name=value`` of a parameter written as the flag that sets it (``--scale 5``)."""
    for words, flag in FLAG_WORDS.items():
        message = message.replace(words, flag)

    def flag(match: re.Match) -> str:
        name = match.group(1)
        return {"n": "-n ", "label": "--class "}.get(name, f"--{name.replace('_', '-')} ")

    return PARAMETER.sub(flag, message)


def shard() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class Bars:
    """tqdm bars on stderr from progress events: one bar per stage, restarted when its count starts over; a
    context manager that closes them. Only the first process of a torchrun draws.

    Inside it, a first Ctrl-C asks the work to stop at its next progress event (raising Cancelled there, so
    nothing half-written is left) and a second one stops at once (KeyboardInterrupt)."""

    def __init__(self, enabled: bool = True, catch_interrupt: bool = True) -> None:
        self.enabled = enabled and shard()[0] == 0
        self.catch_interrupt = catch_interrupt
        self.bars: dict = {}
        self.stop_requested = False
        self.previous_handler = None

    def __enter__(self) -> "Bars":
        catch = (self.catch_interrupt and threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if catch:
            self.previous_handler = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous_handler is not None:
            signal.signal(signal.SIGINT, self.previous_handler)
            self.previous_handler = None
        self.close()

    def _interrupt(self, signum, frame) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True

    def __call__(self, event) -> None:
        if self.stop_requested:
            raise Cancelled("interrupted")
        if not self.enabled or event.total <= 1:
            return
        from tqdm import tqdm

        bar = self.bars.get(event.stage)
        if bar is not None and (event.done < bar.n or bar.total != event.total):
            bar.reset(total=event.total)
        if bar is None:
            bar = self.bars[event.stage] = tqdm(total=event.total, desc=event.stage, position=len(self.bars),
                                                leave=False, dynamic_ncols=True, file=sys.stderr)
        if event.info:
            bar.set_postfix({k: f"{v:.4g}" for k, v in event.info.items()}, refresh=False)
        bar.update(event.done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _sub(subparsers, name: str, help: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, help=help, description=help, epilog=f"example:\n  {EXAMPLES[name]}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = Parser(prog="pixelsmith", description="Deep-learning image restoration and generation on a CPU.",
                    epilog="run 'pixelsmith COMMAND --help' for a command's options and an example")
    parser.add_argument("--version", action="version", version=f"pixelsmith {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    _sub(sub, "models", "list registered architectures and bundled pretrained models")

    p = _sub(sub, "restore", "restore an image file or every image in a folder")
    p.add_argument("input", help="an image file or a folder (searched recursively)")
    p.add_argument("-o", "--output", required=True, help="output file, or folder when INPUT is a folder")
    p.add_argument("--task", default="denoise", choices=TASKS, help="restoration task (default: denoise)")
    p.add_argument("--method", default="model", help="model (default, the learned method) or, per task: "
                   + "; ".join(f"{t}: {', '.join(m[1:])}" for t, m in METHODS.items()))
    p.add_argument("--sigma", type=float, help="denoise/deblur: noise std on the 0-255 scale (estimated when absent)")
    p.add_argument("--scale", type=int, default=2, help="sr: upscaling factor 2, 3 or 4 (default 2)")
    p.add_argument("--kernel", help="deblur: gaussian:SIGMA, motion:LENGTH:ANGLE, or a kernel image file")
    p.add_argument("--quality", type=int, help="jpeg: the JPEG quality (read from the file's tables when absent)")
    p.add_argument("--mask", help="inpaint: mask image, white = missing (default: the transparent pixels)")
    p.add_argument("--iterations", type=int, help="dip: iterations (default 2000, with early stopping); "
                                                  "sr --method pnp, deblur: plug-and-play iterations (default 24 and 8); "
                                                  "inpaint --method diffusion: RePaint's reverse steps (default 100)")
    p.add_argument("--model", help="bundled model name or model folder (default: the bundled one for the task; "
                                   "ddpm-mnist for inpaint --method diffusion)")
    p.add_argument("--colour", default="auto", choices=["auto", "mix", "views", "colour"],
                   help="denoise, colour images: views (the gray model on opponent channels, for unclipped noise), "
                        "mix (two views mixed with the colour model by noise level, for files), colour (the colour "
                        "model alone, one pass) or auto (default: mix when every value lies in [0, 1], as a file's "
                        "do; with one pass, colour from noise level 24 and one view below)")
    p.add_argument("--format", default="png", help="output format for folders (default: png, lossless)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--max-pixels", type=int, default=100_000_000, help="refuse larger images (default 1e8)")
    p.add_argument("--fp32", action="store_true", help="run the model in float32 instead of bf16 autocast")
    passes = p.add_mutually_exclusive_group()
    passes.add_argument("--fast", action="store_true", help="denoise, inpaint, jpeg, sr: one pass of the model "
                        "instead of the average of several (flips and rotations of the input; 2-4x faster, 8x for "
                        "inpaint; a little lower PSNR: docs/tasks.md); deblur: 4 plug-and-play iterations instead of "
                        "8, colour images through the colour model in all but the last (3-4x faster); the "
                        "default on images over 4 megapixels")
    passes.add_argument("--ensemble", action="store_true", help="the average of several passes also on images over "
                        "4 megapixels (docs/speed.md)")

    p = _sub(sub, "degrade", "degrade an image or a folder (blur, downscale, noise, JPEG, holes) to make test inputs")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--noise", type=float, help="Gaussian noise std on the 0-255 scale")
    p.add_argument("--poisson", type=float, help="Poisson noise: photons at white level (with --noise as read noise)")
    p.add_argument("--blur", help="gaussian:SIGMA, motion:LENGTH:ANGLE or a kernel image")
    p.add_argument("--downscale", type=int, help="bicubic downscaling factor 2, 3 or 4")
    p.add_argument("--jpeg", type=int, help="JPEG quality; with a .jpg output the file itself is that JPEG")
    p.add_argument("--mask", help="strokes, box, pixels or text: those pixels become transparent (RGBA output)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="png")
    p.add_argument("--overwrite", action="store_true")

    p = _sub(sub, "export", "export a bundled or trained model to ONNX")
    p.add_argument("--model", required=True, help="bundled name, model folder or training run")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (default onnx)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--overwrite", action="store_true")

    p = _sub(sub, "generate", "sample images from a generative model")
    p.add_argument("--model", required=True, help="bundled name (e.g. dcgan-mnist), model folder or training run")
    p.add_argument("-n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("-o", "--output", required=True, help="folder for the PNG files")
    p.add_argument("--grid", help="also write all samples as one grid image here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="label", type=int, help="class label, for models that take one")
    p.add_argument("--sampler", help="diffusion sampler: ddpm, ddim or dpm (DPM-Solver++, the default)")
    p.add_argument("--steps", type=int, help="sampling steps, for models that take them")
    p.add_argument("--guidance", type=float, help="guidance strength, for models that take it")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any sampling option the model declares (see pixelsmith models), e.g. temperature=0.8")
    p.add_argument("--overwrite", action="store_true")

    p = _sub(sub, "predict", "predict the next frames of a clip (a GIF, a folder of frames or a .npy array)")
    p.add_argument("input", help="the clip: a GIF, a folder of frames (name order) or a .npy array (T, H, W); "
                   "frames after the ones the model reads are shown as the truth in strip.png")
    p.add_argument("--model", required=True, help="bundled name (e.g. convlstm-movingmnist), model folder or run")
    p.add_argument("-o", "--output", required=True, help="folder for the predicted frames (K.png), "
                   "prediction.gif and strip.png")
    p.add_argument("--frames", type=int, help="how many frames to predict (default: what the model was trained for)")
    p.add_argument("--overwrite", action="store_true")

    p = _sub(sub, "train", "train a model from a JSON recipe, with key=value overrides")
    p.add_argument("config", help="a recipe file, a name in ./configs, or a bundled model name (its recipe)")
    p.add_argument("overrides", nargs="*", help="key=value, e.g. steps=1000 bf16=true model_args.width=32")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, model/, samples/, metrics.csv")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--download", action="store_true", help="download the data set into data_root if missing")
    p.add_argument("--data-root", help="override the recipe's data_root")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = _sub(sub, "evaluate", "score a generator against real images (FID, KID, precision/recall, density/coverage, "
                              "class spread, with the floor of real data) or a likelihood model (test NLL)")
    what = p.add_subparsers(dest="what", required=True, parser_class=Parser)
    for name, help in (("generate", "sample quality against a reference split, beside the floor"),
                       ("likelihood", "test ELBO and importance-weighted NLL, in nats and bits per dimension")):
        q = what.add_parser(name, help=help, description=help, epilog=f"example:\n  {EXAMPLES['evaluate']}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        q.add_argument("--model", required=name == "likelihood", help="bundled name, model folder or training run")
        q.add_argument("--reference", default="mnist-test", help="the real images: mnist-test (default), "
                       "mnist-train, fashion-mnist-test or fashion-mnist-train")
        q.add_argument("--data-root", help="folder with the data set's IDX files (default ../shared/data/NAME)")
        q.add_argument("-n", type=int, default=10_000, help="images (and samples) to compare (default 10000)")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--json", help="also write the result, with its protocol, to this JSON file")
        if name == "generate":
            q.add_argument("--samples", help="a folder of images to judge instead of a model")
            q.add_argument("--features", default="classifier", choices=["classifier", "inception"],
                           help="feature network: the data set's bundled classifier (default) or Inception-v3")
            q.add_argument("--classifier", help="another classifier model as the feature network")
            q.add_argument("--inception-weights", help="with --features inception: the pt_inception-2015-12-05 "
                           "weights file of torch-fidelity (never downloaded)")
            q.add_argument("--class", dest="label", type=int, help="class label, for models that take one")
            q.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a sampling option")
        else:
            q.add_argument("-k", type=int, default=1000, help="importance samples per image (default 1000)")

    p = _sub(sub, "demo", "run every restoration task on sample photos and draw digits with the bundled models")
    p.add_argument("--out", default="pixelsmith-demo", help="output folder (default ./pixelsmith-demo)")

    p = _sub(sub, "serve", "the HTTP API and the web page (needs the [server] extra)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="jobs run at once (default 1)")
    p.add_argument("--queue", type=int, default=8, help="jobs that may wait; more get 503 (default 8)")
    p.add_argument("--max-body-mb", type=float, default=100, help="largest request body in MB (default 100)")
    p.add_argument("--max-pixels", type=int, help="largest uploaded image in pixels (default 100,000,000)")
    p.add_argument("--job-timeout", type=float, default=600, help="seconds a job may run (default 600)")
    p.add_argument("--expire", type=float, default=600, help="seconds a finished job's result is kept (default 600)")
    return parser


def _load_recipe(name: str):
    """A recipe file, a name in ./configs, or the recipe stored inside a bundled model."""
    from pixelsmith.config import TrainConfig
    from pixelsmith.catalog import list_bundled, read_config

    for candidate in (Path(name), Path("configs") / f"{name}.json"):
        if candidate.is_file():
            return TrainConfig.from_json(candidate)
    if name in list_bundled() and "recipe" in read_config(name).get("metadata", {}):
        return TrainConfig.from_dict(read_config(name)["metadata"]["recipe"])
    raise UsageError(f"no recipe '{name}': give a JSON file, a name in ./configs, or a bundled model "
                     f"({', '.join(list_bundled())})")


def _measured(scored: dict) -> str:
    """A bundled model's recorded figures in one phrase: FID against its floor, next-frame MSE against the
    better trivial predictor, and an exact or estimated NLL where there is one."""
    if "mse" in scored:
        return (f"MSE/frame={scored['mse']:.4g} ({scored['mse_ratio']:.2f}x the better trivial predictor, "
                f"{scored['reference']})")
    text = f"FID={scored['fid']:.4g} (floor {scored['floor_fid']:.4g}, {scored['reference']})"
    return text + (f" NLL={scored['nll_nats']:.4g} nats" if "nll_nats" in scored else "")


def cmd_models(args) -> int:
    from pixelsmith.catalog import folder_size, list_bundled, parameter_count, read_config

    # The bundled models first, from their files alone (no torch), so the answer starts at once.
    print("bundled pretrained models:", flush=True)
    for name in list_bundled():
        config = read_config(name)
        does = f"restores={config['restores']}" if "restores" in config else ""
        scored = config.get("metadata", {}).get("evaluation")
        if scored:  # measured by benchmarks/generate.py or benchmarks/predict.py, kept with the weights
            does = _measured(scored)
        print(f"  {name:<24} family={config['family']:<9} {does:<17} params={parameter_count(name) / 1e6:6.2f}M  "
              f"size={folder_size(name) / 1e6:5.1f} MB  arch={config['model']}  "
              f"{config.get('metadata', {}).get('description', '')}", flush=True)

    from pixelsmith.models.generative import sample_options
    from pixelsmith.registry import count_parameters, create_model, get_entry, list_models

    print("registered architectures (parameters at the default arguments):")
    for name in list_models():
        entry = get_entry(name)
        model = create_model(name)
        options = ", ".join(f"{k}={o.default}" for k, o in sample_options(model).items())
        print(f"  {name:<24} family={entry.family:<9} params={count_parameters(model) / 1e6:6.2f}M  "
              f"{entry.description}" + (f"  sampling options: {options}" if options else ""))
    return 0


def _report(result, what: str) -> int:
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    if result.skipped:
        print(f"skipped {len(result.skipped)} existing output(s); pass --overwrite to replace them", file=sys.stderr)
    print(f"{what} {len(result.written)} image(s)" + (f"; {len(result.errors)} failed" if result.errors else ""))
    return 1 if result.errors else 0


def check_inputs(source: str, max_pixels: int | None = None, mask: str | None = None) -> None:
    """The input file's header (or that a folder holds images), and the mask's, checked before torch and the
    models are loaded, so a bad input is refused at once."""
    from pixelsmith.probe import DEFAULT_MAX_PIXELS, check_max_pixels, find_images, probe

    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    check_max_pixels(max_pixels)
    if Path(source).is_dir():
        find_images(source)
    elif not Path(source).exists():
        raise PixelsmithError(f"{source}: no such file or folder")
    else:
        probe(source, max_pixels)
    if mask and not Path(mask).is_file():
        raise UsageError(f"mask={mask}: no such file")
    if mask:
        probe(mask, max_pixels)


def cmd_restore(args) -> int:
    check_inputs(args.input, args.max_pixels, args.mask)
    from pixelsmith.pipelines.restore import RestoreOptions, restore_files

    opts = RestoreOptions(task=args.task, method=args.method, sigma=args.sigma, scale=args.scale,
                          kernel=args.kernel, quality=args.quality, mask=args.mask, iterations=args.iterations,
                          model=args.model, colour=args.colour, format=args.format, overwrite=args.overwrite,
                          max_pixels=args.max_pixels, bf16=not args.fp32,
                          ensemble=False if args.fast else True if args.ensemble else None)
    with Bars() as bars:
        result = restore_files(args.input, args.output, opts, shard=shard(), progress=bars)
    return _report(result, "restored")


def cmd_degrade(args) -> int:
    check_inputs(args.input)
    from pixelsmith.pipelines.degrade import DegradeOptions, degrade_files

    opts = DegradeOptions(noise=args.noise, poisson=args.poisson, blur=args.blur, downscale=args.downscale,
                          jpeg=args.jpeg, mask=args.mask, seed=args.seed)
    with Bars() as bars:
        result = degrade_files(args.input, args.output, opts, args.format, args.overwrite, shard(), bars)
    return _report(result, "degraded")


def cmd_export(args) -> int:
    from pixelsmith.export import export_onnx

    path = export_onnx(args.model, args.output, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


def _sample_options(args) -> dict:
    """The sampling options of ``generate``'s flags: --class, --sampler, --steps, --guidance and each --option
    KEY=VALUE."""
    options = {name: getattr(args, name, None) for name in ("label", "sampler", "steps", "guidance")
               if getattr(args, name, None) is not None}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {item} is not KEY=VALUE (for example --option temperature=0.8)")
        options[key] = value
    return options


def cmd_generate(args) -> int:
    from pixelsmith.pipelines.generate import generate, save_samples

    with Bars() as bars:
        try:
            images = generate(args.model, args.n, seed=args.seed, progress=bars, **_sample_options(args))
        except (Cancelled, KeyboardInterrupt):
            raise Cancelled("interrupted while sampling", 0, args.n + bool(args.grid)) from None  # as save_samples counts
        paths = save_samples(images, args.output, args.grid, overwrite=args.overwrite, progress=bars)
    print(f"wrote {len(paths)} image(s) to {args.output}" + (f" and a grid to {args.grid}" if args.grid else ""))
    return 0


def cmd_predict(args) -> int:
    from pixelsmith.pipelines.predict import predict_file

    with Bars() as bars:
        paths = predict_file(args.model, args.input, args.output, args.frames, args.overwrite, progress=bars)
    print(f"wrote {len(paths) - 2} predicted frame(s), prediction.gif and strip.png to {args.output}")
    return 0


def cmd_train(args) -> int:
    from pixelsmith.training import train

    overrides = list(args.overrides)
    if args.download:
        overrides.append("download=true")
    if args.data_root:
        overrides.append(f"data_root={args.data_root}")
    cfg = _load_recipe(args.config).override(overrides)
    first = shard()[0] == 0
    try:
        with Bars(enabled=not args.no_progress, catch_interrupt=False) as bars:
            folder = train(cfg, args.out, resume=args.resume, overrides=overrides, progress=bars)
    except (KeyboardInterrupt, Cancelled):
        if first:
            print(f"interrupted; checkpoint saved in {args.out}; continue with --resume", file=sys.stderr)
        return 130
    if first:
        print(f"trained model written to {folder}; sample grids in {Path(args.out) / 'samples'}")
    return 0


def _print_scores(result: dict) -> None:
    columns = [("fid", "FID", ".4g"), ("kid", "KID", ".4g"), ("precision", "precision", ".3f"),
               ("recall", "recall", ".3f"), ("density", "density", ".3f"), ("coverage", "coverage", ".3f"),
               ("class_spread", "spread", ".3g"), ("confidence", "confidence", ".3f")]
    print(f"{'images':<28}" + "".join(f"{title:>11}" for _, title, _ in columns))
    for row in [result.get("floor"), result["model"]]:
        if row is not None:
            print(f"{row['name'][:27]:<28}" + "".join(f"{row[key]:>11{fmt}}" for key, _, fmt in columns))
    if "per_class_accuracy" in result["model"]:
        print("classified as the class asked for: " + " ".join(f"{k}:{a:.3f}" for k, a in
                                                              enumerate(result["model"]["per_class_accuracy"])))


def _write_json(path: str | None, result: dict) -> None:
    if path:
        import json

        from pixelsmith.io import atomic_write

        atomic_write(Path(path), lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
        print(f"wrote {path}")


def cmd_evaluate(args) -> int:
    if args.what == "likelihood":
        from pixelsmith.pipelines.evaluate import evaluate_likelihood

        with Bars() as bars:
            result = evaluate_likelihood(args.model, args.reference, args.data_root, n=args.n, k=args.k,
                                         seed=args.seed, progress=bars)
        m = result["model"]
        print(f"{m['name']} on {args.reference} ({result['protocol']['n']} images, {result['protocol']['data']}):")
        if result["protocol"]["k"] is None:
            print(f"  NLL = {m['nll_nats']:.2f} nats (+-{m['nll_std_error']:.2f}), {m['nll_bits_per_dim']:.4f} bits/dim "
                  f"(exact)")
        else:
            print(f"  NLL <= {m['nll_nats']:.2f} nats (+-{m['nll_std_error']:.2f}), {m['nll_bits_per_dim']:.4f} "
                  f"bits/dim (importance-weighted, k={args.k})")
            print(f"  -ELBO  {m['negative_elbo_nats']:.2f} nats, {m['negative_elbo_bits_per_dim']:.4f} bits/dim")
        _write_json(args.json, result)
        return 0
    from pixelsmith.pipelines.evaluate import evaluate

    if not args.model and not args.samples:
        raise UsageError("give --model NAME or --samples FOLDER")
    if args.samples:
        check_inputs(args.samples)
    options = _sample_options(argparse.Namespace(label=args.label, steps=None, guidance=None, option=args.option))
    with Bars() as bars:
        result = evaluate(args.model, n=args.n, reference=args.reference, data_root=args.data_root, seed=args.seed,
                          samples=args.samples, features=args.features, classifier=args.classifier,
                          inception_weights=args.inception_weights, progress=bars, **options)
    _print_scores(result)
    p = result["protocol"]
    print(f"protocol: {p['n']} samples against {p['n_reference']} images of {p['reference']}; features: "
          f"{p['feature_network']} (sha256 {p['sha256'][:12]}...); seed {p['seed']}")
    _write_json(args.json, result)
    return 0


def cmd_demo(args) -> int:
    from pixelsmith.pipelines.demo import run_demo

    with Bars() as bars:
        scores = run_demo(args.out, progress=bars)
    print(f"{'task':<14} {'input':>9} {'restored':>9}   (PSNR in dB against the clean image; sr input is bicubic)")
    for task, (before, after) in scores.items():
        print(f"{task:<14} {before:9.2f} {after:9.2f}")
    print(f"wrote <task>_clean.png, <task>_input.png, <task>_restored.png and dcgan_mnist_grid.png to {args.out}/")
    return 0


def cmd_serve(args) -> int:
    try:
        import uvicorn

        from pixelsmith.server.app import Settings, create_app
        from pixelsmith.server.guards import is_loopback
    except ImportError as exc:
        raise PixelsmithError(f"serve needs the server extra ({exc.name} is missing): "
                              f"pip install 'pixelsmith[server]'") from None
    from pixelsmith.probe import DEFAULT_MAX_PIXELS

    for name, value, low in (("port", args.port, 1), ("workers", args.workers, 1), ("queue", args.queue, 0),
                             ("max-body-mb", args.max_body_mb, 0.001), ("job-timeout", args.job_timeout, 1),
                             ("expire", args.expire, 0)):
        if value < low or (name == "port" and value > 65535):
            raise UsageError(f"--{name} {value} is out of range; accepted: at least {low}"
                             + (" and at most 65535" if name == "port" else ""))
    settings = Settings(host=args.host, port=args.port, max_body=int(args.max_body_mb * 2 ** 20),
                        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS, workers=args.workers,
                        max_queued=args.queue, time_limit=args.job_timeout, expire=args.expire)
    if not is_loopback(args.host):
        print(f"pixelsmith serve: warning: listening on {args.host}, not only this machine: anyone who can reach "
              f"this address can use the server", file=sys.stderr)
    print(f"pixelsmith serve: http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port} "
          f"(the API is documented at /docs; Ctrl-C stops)", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


COMMANDS = {"models": cmd_models, "restore": cmd_restore, "degrade": cmd_degrade, "export": cmd_export, "generate": cmd_generate,
            "predict": cmd_predict, "train": cmd_train, "evaluate": cmd_evaluate, "demo": cmd_demo,
            "serve": cmd_serve}


def _show_notes(command: str) -> None:
    """The library's notes (``logging.getLogger("pixelsmith")`` warnings, such as images being resized) as one
    line each on stderr."""
    import logging

    logger = logging.getLogger("pixelsmith")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"pixelsmith {command}: note: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def _interrupted(argv: list[str] | None) -> int:
    """Exit code 130. A process that is ending (the console script: argv None) lets a further Ctrl-C end it by the
    signal, not by a traceback from the interpreter's exit handlers (torch runs some)."""
    if argv is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # key=value overrides may follow the options of `train`
        if args.command != "train" or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides += extra
    _show_notes(args.command)
    keep_freed_memory()
    try:
        code = COMMANDS[args.command](args)
        return _interrupted(argv) if code == 130 else code
    except UsageError as exc:
        print(f"pixelsmith {args.command}: error: {flag_message(str(exc))}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled) as exc:
        if os.environ.get("PIXELSMITH_DEBUG"):
            raise
        counted = getattr(exc, "total", None) is not None
        done = f"{exc.written} of {exc.total} outputs written" if counted else "finished outputs are complete"
        print(f"pixelsmith {args.command}: interrupted; {done}, nothing partial left", file=sys.stderr)
        return _interrupted(argv)
    except BrokenPipeError:  # the reader went away (pixelsmith models | head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit stays quiet
        return 0
    except (PixelsmithError, OSError) as exc:
        if os.environ.get("PIXELSMITH_DEBUG"):
            raise
        message = str(exc) if isinstance(exc, PixelsmithError) else f"{exc.filename or ''}: {exc.strerror or exc}"
        print(f"pixelsmith {args.command}: error: {flag_message(message)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
