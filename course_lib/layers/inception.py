"""The Inception module of GoogLeNet (Szegedy et al., 2015) and DenseNet's dense block (Huang et al., 2017)."""

from __future__ import annotations

import keras
from keras import layers, ops

from course_lib.layers.costs import CountsMACs


@keras.saving.register_keras_serializable(package="course_lib")
class InceptionModule(CountsMACs, keras.layers.Layer):
    """Four parallel branches concatenated: 1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1.

    Args:
        f1: filters of the 1x1 branch.
        f3_reduce, f3: the 1x1 reduction and the 3x3 convolution.
        f5_reduce, f5: the 1x1 reduction and the 5x5 convolution.
        pool_proj: filters of the 1x1 after the pool.

    The names follow Table 1 of the paper (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
    Every convolution has a bias and a ReLU, as in the paper.

    Input shape: `(batch, H, W, C)`. Output shape: `(batch, H, W, f1 + f3 + f5 + pool_proj)`.
    """

    def __init__(self, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, **kwargs):
        super().__init__(**kwargs)
        self.sizes = dict(f1=f1, f3_reduce=f3_reduce, f3=f3, f5_reduce=f5_reduce, f5=f5, pool_proj=pool_proj)
        if any(int(v) < 1 for v in self.sizes.values()):
            raise ValueError(f"every branch needs at least one filter, got {self.sizes}")

        def conv(n, k):
            return layers.Conv2D(n, k, padding="same", activation="relu")

        self.b1 = [conv(f1, 1)]
        self.b3 = [conv(f3_reduce, 1), conv(f3, 3)]
        self.b5 = [conv(f5_reduce, 1), conv(f5, 5)]
        self.pool = layers.MaxPooling2D(3, strides=1, padding="same")
        self.bp = [conv(pool_proj, 1)]

    def build(self, input_shape):
        for branch in (self.b1, self.b3, self.b5, self.bp):
            shape = tuple(input_shape)
            for conv in branch:
                conv.build(shape)
                self.record(conv, shape)
                shape = conv.compute_output_shape(shape)

    def call(self, x):
        def run(branch, y):
            for conv in branch:
                y = conv(y)
            return y

        return ops.concatenate([run(self.b1, x), run(self.b3, x), run(self.b5, x), run(self.bp, self.pool(x))], axis=-1)

    def compute_output_shape(self, input_shape):
        s = self.sizes
        return (*input_shape[:3], s["f1"] + s["f3"] + s["f5"] + s["pool_proj"])

    def get_config(self):
        return {**super().get_config(), **self.sizes}


@keras.saving.register_keras_serializable(package="course_lib")
class DenseBlock(CountsMACs, keras.layers.Layer):
    """`layers` bottleneck units (BN-ReLU-1x1 conv to 4k, BN-ReLU-3x3 conv to k), each fed the
    concatenation of everything before it; the output has ``C + layers * growth_rate`` channels.

    Args:
        num_layers: units in the block.
        growth_rate: k, channels each unit adds (32 in DenseNet-121).

    Input shape: `(batch, H, W, C)`. Output shape: `(batch, H, W, C + num_layers * growth_rate)`.
    """

    def __init__(self, num_layers, growth_rate=32, **kwargs):
        super().__init__(**kwargs)
        if int(num_layers) < 1 or int(growth_rate) < 1:
            raise ValueError(f"num_layers and growth_rate must be at least 1, got {num_layers}, {growth_rate}")
        self.num_layers, self.growth_rate = int(num_layers), int(growth_rate)
        k = self.growth_rate
        self.units = [[layers.BatchNormalization(epsilon=1.001e-5), layers.Conv2D(4 * k, 1, use_bias=False),
                       layers.BatchNormalization(epsilon=1.001e-5), layers.Conv2D(k, 3, padding="same", use_bias=False)]
                      for _ in range(self.num_layers)]

    def build(self, input_shape):
        c = input_shape[-1]
        h, w = input_shape[1], input_shape[2]
        for bn1, conv1, bn2, conv2 in self.units:
            bn1.build((None, h, w, c))
            conv1.build((None, h, w, c))
            bn2.build((None, h, w, 4 * self.growth_rate))
            conv2.build((None, h, w, 4 * self.growth_rate))
            self.record(conv1, (None, h, w, c))
            self.record(conv2, (None, h, w, 4 * self.growth_rate))
            c += self.growth_rate

    def call(self, x, training=None):
        for bn1, conv1, bn2, conv2 in self.units:
            y = conv1(ops.relu(bn1(x, training=training)))
            y = conv2(ops.relu(bn2(y, training=training)))
            x = ops.concatenate([x, y], axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[-1] + self.num_layers * self.growth_rate)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "growth_rate": self.growth_rate}
