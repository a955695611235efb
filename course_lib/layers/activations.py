"""Activation layers that Keras does not ship: Maxout and LeCun's scaled tanh."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_lib")
class Maxout(keras.layers.Layer):
    """Maximum over `pieces` linear units (Goodfellow et al., 2013).

    Args:
        units: number of output features.
        pieces: linear pieces per unit.

    Input shape: `(batch, features)`. Output shape: `(batch, units)`.

    Example:
        >>> layer = Maxout(4, pieces=3)
        >>> tuple(layer(keras.ops.ones((2, 5))).shape)
        (2, 4)
    """

    def __init__(self, units, pieces=2, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"Maxout units must be at least 1, got {units}")
        if int(pieces) < 1:
            raise ValueError(f"Maxout pieces must be at least 1, got {pieces}")
        self.units, self.pieces = int(units), int(pieces)
        self.dense = keras.layers.Dense(self.units * self.pieces)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Maxout expects inputs of shape (batch, features), got {tuple(input_shape)}; "
                             f"add a Flatten layer before it")
        self.dense.build(input_shape)

    def call(self, x):
        y = self.dense(x)
        y = ops.reshape(y, (-1, self.units, self.pieces))
        return ops.max(y, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces}


@keras.saving.register_keras_serializable(package="course_lib")
class ScaledTanh(keras.layers.Layer):
    """LeCun's scaled hyperbolic tangent `a * tanh(b * x)`, by default 1.7159 tanh(2x/3).

    With these constants f(±1) = ±1 and the slope at 0 is about 1.14 (LeCun et al., 1998).

    Args:
        a: output scale.
        b: input scale.

    Input shape: any. Output shape: same as input.
    """

    def __init__(self, a=1.7159, b=2.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = float(a), float(b)

    def call(self, x):
        return self.a * ops.tanh(self.b * x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "a": self.a, "b": self.b}
