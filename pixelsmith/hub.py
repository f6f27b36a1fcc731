"""Save and load models as a folder holding ``config.json`` + ``model.safetensors`` (as diffusers does); finding
the folders and reading their configs is :mod:`pixelsmith.catalog`, which needs no torch."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from pixelsmith import __version__
from pixelsmith.catalog import CONFIG_NAME, WEIGHTS_DIR, WEIGHTS_NAME, read_config, resolve
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import give_default_permissions
from pixelsmith.registry import create_model


def save_pretrained(model: nn.Module, directory: str | Path, metadata: dict[str, Any] | None = None,
                    dtype: torch.dtype = torch.float32) -> Path:
    """Write ``model`` to ``directory`` atomically: a temp folder is filled, then renamed into place.
    ``dtype=torch.float16`` halves the file (bundled weights); loading casts back to float32."""
    if not hasattr(model, "config"):
        raise PixelsmithError("model has no .config; build it with pixelsmith.create_model(name, ...)")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    config = dict(model.config, pixelsmith_version=__version__, metadata=metadata or model.config.get("metadata", {}))
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        state = {k: v.detach().to("cpu", dtype).contiguous() if v.is_floating_point() else v.detach().cpu()
                 for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS_NAME)
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        for f in [tmp, *tmp.iterdir()]:
            give_default_permissions(f)
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def from_pretrained(name_or_dir: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the exact architecture from ``config.json`` and load its weights (no pickle involved)."""
    folder = resolve(name_or_dir)
    config = read_config(folder)
    if "model" not in config or "args" not in config:
        raise PixelsmithError(f"{folder / CONFIG_NAME}: missing 'model' or 'args'; was it written by save_pretrained?")
    model = create_model(config["model"], **config["args"])
    model.config.update({k: v for k, v in config.items() if k not in ("model", "args", "pixelsmith_version")})
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise PixelsmithError(f"{folder}: {WEIGHTS_NAME} is missing; the folder needs {CONFIG_NAME} + {WEIGHTS_NAME}")
    try:
        state = load_file(weights)
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise PixelsmithError(f"{weights}: not a valid safetensors file ({exc})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise PixelsmithError(f"{weights}: weights do not match the architecture in {CONFIG_NAME} ({first})") from None
    return model.to(device).eval()


def transplant(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy ``source``'s weights into ``target`` (a variant of the same architecture): tensors of equal shape
    are copied (under the name ``target.source_name`` gives, when the model defines it; None keeps the target's
    own initialisation, for a part that the model knows starts as the identity); others go through
    ``target.adapt_parameter(name, tensor, source.config)`` when the model defines it (e.g. a gray model's
    weights starting a colour one); anything else is a one-line error."""
    src, dst = source.state_dict(), target.state_dict()
    rename = getattr(target, "source_name", lambda name, names: name)
    src_names = set(src)
    names = {name: rename(name, src_names) for name in dst}
    missing = sorted(n for n in names.values() if n is not None and n not in src)
    if missing:
        raise PixelsmithError(f"cannot start from this model: it has no '{missing[0]}' (different architecture)")
    unused = sorted(set(src) - set(names.values()))
    if unused:
        raise PixelsmithError(f"cannot start from this model: its '{unused[0]}' has no place in the new one "
                              "(different architecture)")
    new = {}
    for name, value in dst.items():
        if names[name] is None:
            new[name] = value
            continue
        old = src[names[name]]
        if old.shape == value.shape:
            new[name] = old
        elif hasattr(target, "adapt_parameter"):
            new[name] = target.adapt_parameter(name, old, source.config)
        else:
            raise PixelsmithError(f"cannot start from this model: '{name}' is {tuple(old.shape)}, "
                                  f"needs {tuple(value.shape)}")
    target.load_state_dict(new)
    return target


def bundle(source: str | Path, name: str, description: str) -> Path:
    """Copy a trained model folder into the package as ``pixelsmith/weights/<name>`` with float16 weights."""
    model = from_pretrained(source)
    metadata = dict(model.config.get("metadata", {}), description=description)
    return save_pretrained(model, WEIGHTS_DIR / name, metadata=metadata, dtype=torch.float16)
