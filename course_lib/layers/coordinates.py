"""Position channels for a feature grid (CoordConv, Liu et al., 2018)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class AddCoordinates(keras.layers.Layer):
    """Append two channels holding each cell's row and column, scaled to [-1, 1].

    A convolution or an attention-weighted sum of cells does not know where a cell is;
    with these channels it does (an average of cells carries the average position).

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, H, W, C + 2)``, channels
    ``C`` (row) and ``C + 1`` (column) added.
    """

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"AddCoordinates expects a grid (batch, H, W, C) with known H and W, got {tuple(input_shape)}")

    def call(self, x):
        h, w = x.shape[1], x.shape[2]
        rows = ops.linspace(-1.0, 1.0, h) if h > 1 else ops.zeros((1,))
        cols = ops.linspace(-1.0, 1.0, w) if w > 1 else ops.zeros((1,))
        grid = ops.stack(ops.meshgrid(rows, cols, indexing="ij"), axis=-1)       # (H, W, 2)
        grid = ops.cast(grid, x.dtype)
        grid = ops.broadcast_to(grid[None], (ops.shape(x)[0], h, w, 2))
        return ops.concatenate([x, grid], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] + 2)
