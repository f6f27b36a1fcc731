"""Reusable layers shared by the model families."""

from pixelsmith.nn.blocks import (ConditionalBatchNorm2d, GatedConv2d, ResBlock, channels_last, dihedral, init_weights,
                                   pad_to_multiple, pull_push_fill)

__all__ = ["ConditionalBatchNorm2d", "GatedConv2d", "ResBlock", "channels_last", "dihedral", "init_weights", "pad_to_multiple", "pull_push_fill"]
