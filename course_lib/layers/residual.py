"""Residual blocks (He et al., 2016): basic, bottleneck and pre-activation, with or without the shortcut."""

from __future__ import annotations

import keras
from keras import layers, ops

from course_lib.layers.costs import CountsMACs

KINDS = ("basic", "bottleneck")
SHORTCUTS = ("projection", "zero_pad")


def _conv(filters, size, strides=1, name=None):
    return layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False,
                         kernel_initializer="he_normal", name=name)


@keras.saving.register_keras_serializable(package="course_lib")
class ResidualBlock(CountsMACs, keras.layers.Layer):
    """One residual block: ``F(x) + shortcut(x)``.

    Args:
        filters: filters of the 3x3 convolutions (a bottleneck block outputs ``4 * filters``).
        strides: stride of the block (2 halves the resolution).
        kind: ``"basic"`` (two 3x3 convs) or ``"bottleneck"`` (1x1, 3x3, 1x1).
        preact: pre-activation ordering (BN-ReLU-conv, He et al., 2016b).
        shortcut: when the shape changes, ``"projection"`` (1x1 conv + BN, option B) or
            ``"zero_pad"`` (subsample and pad channels with zeros, option A, no parameters).
        residual: ``False`` drops the shortcut: the same block as a plain network.
        bn_momentum: momentum of the batch-norm moving averages (0.9 suits short runs).

    Input shape: `(batch, H, W, C)`. Output shape: `(batch, H / strides, W / strides, filters * expansion)`.
    """

    def __init__(self, filters, *, strides=1, kind="basic", preact=False, shortcut="projection", residual=True,
                 bn_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        if strides not in (1, 2):
            raise ValueError(f"strides must be 1 or 2, got {strides}")
        if not 0.0 <= bn_momentum < 1.0:
            raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
        self.bn_momentum = float(bn_momentum)
        self.filters, self.strides, self.kind = int(filters), int(strides), kind
        self.preact, self.shortcut, self.residual = bool(preact), shortcut, bool(residual)
        self.out_channels = self.filters * (4 if kind == "bottleneck" else 1)

    def build(self, input_shape):
        f, s = self.filters, self.strides
        if self.kind == "basic":
            specs = [(f, 3, s), (f, 3, 1)]
        else:
            specs = [(f, 1, 1), (f, 3, s), (4 * f, 1, 1)]
        self.convs = [_conv(n, k, st) for n, k, st in specs]
        self.norms = [layers.BatchNormalization(momentum=self.bn_momentum) for _ in specs]
        shape = tuple(input_shape)
        for conv, norm in zip(self.convs, self.norms):
            self.record(conv, shape)
            if self.preact:
                norm.build(shape)
                conv.build(shape)
                shape = conv.compute_output_shape(shape)
            else:
                conv.build(shape)
                shape = conv.compute_output_shape(shape)
                norm.build(shape)
        self.needs_change = self.strides != 1 or input_shape[-1] != self.out_channels
        self.project = None
        if self.residual and self.needs_change and self.shortcut == "projection":
            self.project = _conv(self.out_channels, 1, self.strides)
            self.project.build(tuple(input_shape))
            self.record(self.project, input_shape)
            self.project_norm = layers.BatchNormalization(momentum=self.bn_momentum)
            self.project_norm.build(self.project.compute_output_shape(tuple(input_shape)))
        self.in_channels = input_shape[-1]

    def _shortcut(self, x, training):
        if not self.needs_change:
            return x
        if self.project is not None:
            return self.project_norm(self.project(x), training=training)
        x = x[:, ::self.strides, ::self.strides, :]
        extra = self.out_channels - self.in_channels
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def call(self, x, training=None):
        y = x
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.preact:
                y = conv(ops.relu(norm(y, training=training)))
            else:
                y = norm(conv(y), training=training)
                if i < last:
                    y = ops.relu(y)
        if self.residual:
            y = y + self._shortcut(x, training)
        return y if self.preact else ops.relu(y)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else -(-h // s), None if w is None else -(-w // s), self.out_channels)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides, "kind": self.kind,
                "preact": self.preact, "shortcut": self.shortcut, "residual": self.residual,
                "bn_momentum": self.bn_momentum}


@keras.saving.register_keras_serializable(package="course_lib")
class SqueezeExcite(CountsMACs, keras.layers.Layer):
    """Squeeze-and-excitation (Hu et al., 2018): rescale each channel by a gate computed from
    the global average of all channels.

    Args:
        ratio: reduction of the bottleneck (16 in the paper).

    Input shape: `(batch, H, W, C)`. Output shape: the same.
    """

    def __init__(self, ratio=16, **kwargs):
        super().__init__(**kwargs)
        if int(ratio) < 1:
            raise ValueError(f"ratio must be at least 1, got {ratio}")
        self.ratio = int(ratio)

    def build(self, input_shape):
        c = input_shape[-1]
        self.squeeze = layers.Dense(max(1, c // self.ratio), activation="relu")
        self.excite = layers.Dense(c, activation="sigmoid")
        self.squeeze.build((None, c))
        self.excite.build((None, max(1, c // self.ratio)))
        self.record(self.squeeze, (None, c))
        self.record(self.excite, (None, max(1, c // self.ratio)))

    def call(self, x):
        gate = self.excite(self.squeeze(ops.mean(x, axis=(1, 2))))
        return x * gate[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}
