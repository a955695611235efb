"""The layers of LeNet-5 as published (LeCun, Bottou, Bengio & Haffner, 1998).

- `TrainableSubsampling`: S2/S4, the sum over 2x2 windows times a trainable coefficient plus a
  trainable bias, one pair per feature map.
- `LeNetC3`: C3, a 5x5 convolution in which each of the 16 output maps sees only the subset of
  the 6 input maps given by the paper's Table I, so it has 1,516 parameters, not 2,416.
- `RBFOutput`: the output layer, Euclidean distances between F6 and one fixed 84-dimensional
  prototype per class.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

# Table I of the paper: the S2 maps that each C3 map is connected to.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="course_lib")
class TrainableSubsampling(keras.layers.Layer):
    """LeNet's subsampling: ``coef[c] * sum(2x2 window) + bias[c]`` per feature map.

    Args:
        pool_size: window and stride (2 in LeNet-5).

    Input shape: `(batch, H, W, C)` with H, W divisible by `pool_size`.
    Output shape: `(batch, H / pool_size, W / pool_size, C)`.
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"TrainableSubsampling expects (batch, H, W, C), got {tuple(input_shape)}")
        h, w = input_shape[1], input_shape[2]
        if h is not None and (h % self.pool_size or w % self.pool_size):
            raise ValueError(f"input height and width must be divisible by pool_size={self.pool_size}, got {h}x{w}")
        c = input_shape[-1]
        self.coef = self.add_weight(shape=(c,), initializer="ones", name="coef")
        self.bias = self.add_weight(shape=(c,), initializer="zeros", name="bias")

    def call(self, x):
        k = self.pool_size
        window_sum = ops.average_pool(x, k, strides=k, padding="valid") * (k * k)
        return window_sum * self.coef + self.bias

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        k = self.pool_size
        return (b, None if h is None else h // k, None if w is None else w // k, c)

    def window(self):
        """Non-overlapping ``pool_size`` windows (for receptive fields)."""
        k = self.pool_size
        return (k, k), (k, k), (1, 1), "valid"

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="course_lib")
class LeNetC3(keras.layers.Layer):
    """A convolution with a partial connection table: output map j sees input maps ``table[j]``.

    Args:
        kernel_size: square kernel size (5 in LeNet-5).
        table: tuple of tuples of input-map indices, one per output map (default: Table I).

    Input shape: `(batch, H, W, C_in)`. Output shape: `(batch, H - k + 1, W - k + 1, len(table))`.
    """

    def __init__(self, kernel_size=5, table=C3_TABLE, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        if not self.table or any(len(row) == 0 for row in self.table):
            raise ValueError("table must list at least one input map for every output map")

    def build(self, input_shape):
        c_in = input_shape[-1]
        if max(max(row) for row in self.table) >= c_in:
            raise ValueError(f"the connection table refers to input map {max(max(r) for r in self.table)}, "
                             f"but the input has only {c_in} maps")
        k = self.kernel_size
        self.kernels = [self.add_weight(shape=(k, k, len(row), 1), initializer="glorot_uniform", name=f"kernel_{j}")
                        for j, row in enumerate(self.table)]
        self.bias = self.add_weight(shape=(len(self.table),), initializer="zeros", name="bias")

    def call(self, x):
        maps = []
        for row, kernel in zip(self.table, self.kernels):
            inputs = ops.take(x, np.array(row), axis=-1)
            maps.append(ops.conv(inputs, kernel, strides=1, padding="valid"))
        return ops.concatenate(maps, axis=-1) + self.bias

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        k = self.kernel_size
        return (b, None if h is None else h - k + 1, None if w is None else w - k + 1, len(self.table))

    def macs(self, input_shape) -> int:
        """Multiply-accumulates for one example: each output pixel of map j sums k*k*len(table[j]) products."""
        _, h, w, _ = self.compute_output_shape(tuple(input_shape))
        k = self.kernel_size
        return h * w * sum(len(row) for row in self.table) * k * k

    def window(self):
        k = self.kernel_size
        return (k, k), (1, 1), (1, 1), "valid"

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "table": [list(r) for r in self.table]}


@keras.saving.register_keras_serializable(package="course_lib")
class RBFOutput(keras.layers.Layer):
    """Euclidean RBF output units: ``y_i = sum_j (x_j - w_ij)^2`` for fixed prototypes ``w_i``.

    The paper's prototypes are stylised 7x12 bitmaps of the characters with entries ±1; here
    they are random ±1 codes drawn from `seed` (the course has no bitmaps of clothing). The
    layer returns the negative distances, so a softmax over them acts as the classifier.

    Args:
        units: number of classes.
        seed: seed of the ±1 prototypes.
        trainable_prototypes: learn the prototypes (the paper kept them fixed).

    Input shape: `(batch, features)`. Output shape: `(batch, units)`.
    """

    def __init__(self, units=10, seed=0, trainable_prototypes=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.seed, self.trainable_prototypes = int(units), int(seed), bool(trainable_prototypes)

    def build(self, input_shape):
        codes = np.random.default_rng(self.seed).choice([-1.0, 1.0], size=(input_shape[-1], self.units))
        self.prototypes = self.add_weight(shape=codes.shape, initializer=keras.initializers.Constant(codes),
                                          trainable=self.trainable_prototypes, name="prototypes")

    def call(self, x):
        diff = ops.expand_dims(x, -1) - self.prototypes
        return -ops.sum(diff * diff, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed,
                "trainable_prototypes": self.trainable_prototypes}
