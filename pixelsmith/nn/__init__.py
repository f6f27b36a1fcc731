"""Reusable layers shared by the model families."""

from pixelsmith.nn.blocks import ResBlock, dihedral, init_weights, pad_to_multiple

__all__ = ["ResBlock", "dihedral", "init_weights", "pad_to_multiple"]
