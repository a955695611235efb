"""Pooling that Keras does not ship: Lp pooling (L2 pooling for p = 2)."""

from __future__ import annotations

import keras
from keras import ops

from course_lib.layers.costs import pair


@keras.saving.register_keras_serializable(package="course_lib")
class LpPooling(keras.layers.Layer):
    """``(mean over the window of |x|^p)^(1/p)``: average pooling at p = 1, tends to max pooling as p grows.

    Args:
        p: the norm's order, at least 1.
        pool_size: window size.
        strides: step (default: `pool_size`).
        padding: ``"valid"`` or ``"same"``.

    Input shape: `(batch, H, W, C)`. Output shape: `(batch, H', W', C)` as for `AveragePooling2D`.
    """

    def __init__(self, p=2.0, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        if float(p) < 1:
            raise ValueError(f"p must be at least 1 for an Lp norm, got {p}")
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.p, self.pool_size, self.padding = float(p), pool_size, padding
        self.strides = strides or pool_size

    def call(self, x):
        powered = ops.power(ops.abs(x) + 1e-12, self.p)
        pooled = ops.average_pool(powered, self.pool_size, strides=self.strides, padding=self.padding)
        return ops.power(pooled, 1.0 / self.p)

    def compute_output_shape(self, input_shape):
        return keras.layers.AveragePooling2D(self.pool_size, self.strides, self.padding).compute_output_shape(input_shape)

    def window(self):
        return pair(self.pool_size), pair(self.strides), (1, 1), self.padding

    def get_config(self):
        return {**super().get_config(), "p": self.p, "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}
