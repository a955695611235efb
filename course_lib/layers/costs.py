"""What a layer costs and where it looks: multiply-accumulates and windows.

Two small protocols that the course's own layers implement and the model tools ask for:

- ``layer.macs(input_shape) -> int``: multiply-accumulates for one example. Keras' built-in
  layers have no such method; `macs()` below knows their formulas. A composite layer
  (residual, Inception, dense and SE blocks) mixes in `CountsMACs`, records its sublayers
  while it builds, and sums their costs.
- ``layer.window() -> ((kh, kw), (sh, sw), (dh, dw), padding)``: the window a layer slides
  over its input, for receptive fields (`cl.models.receptive_fields`).

`course_lib.models.summary_table` and `receptive_fields` only ask; no layer module imports them.
"""

from __future__ import annotations

import math

from keras import layers


def pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def macs(layer, input_shape, output_shape=None) -> int:
    """Multiply-accumulates of `layer` for one example (0 for layers without multiplications).

    Args:
        layer: a built Keras layer.
        input_shape: its input shape, with the batch axis.
        output_shape: its output shape (computed from `input_shape` when omitted).
    """
    if hasattr(layer, "macs"):
        return int(layer.macs(tuple(input_shape)))
    if not isinstance(layer, (layers.Conv2D, layers.Dense, layers.DepthwiseConv2D, layers.SeparableConv2D)):
        return 0
    if output_shape is None:
        output_shape = layer.compute_output_shape(tuple(input_shape))
    out = list(output_shape[1:])
    c_in = input_shape[-1]
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return math.prod(out) * kh * kw
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        depthwise = out[0] * out[1] * c_in * layer.depth_multiplier * kh * kw
        return depthwise + out[0] * out[1] * c_in * layer.depth_multiplier * out[2]
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        return math.prod(out) * kh * kw * c_in // layer.groups
    return math.prod(out) * c_in          # Dense


def window(layer):
    """``((kh, kw), (sh, sw), (dh, dw), padding)`` of a layer that slides a window, else ``None``."""
    if hasattr(layer, "window"):
        return layer.window()
    if isinstance(layer, layers.Conv2D):     # also Depthwise and Separable convolutions
        return pair(layer.kernel_size), pair(layer.strides), pair(layer.dilation_rate), layer.padding
    if isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
        return pair(layer.pool_size), pair(layer.strides), (1, 1), layer.padding
    return None


class CountsMACs:
    """Mixin for a layer built from sublayers: `record(sublayer, input_shape)` during `build`,
    and `macs()` sums the multiply-accumulates of the recorded sublayers for one example."""

    def record(self, sublayer, input_shape) -> None:
        log = self.__dict__.get("_mac_log")
        if log is None:
            log = []
            object.__setattr__(self, "_mac_log", log)   # plain list: not tracked by Keras
        log.append((sublayer, tuple(input_shape)))

    def macs(self, input_shape=None) -> int:
        return sum(macs(layer, shape) for layer, shape in self.__dict__.get("_mac_log", []))


__all__ = ["macs", "window", "CountsMACs", "pair"]
