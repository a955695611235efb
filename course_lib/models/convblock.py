"""The ConvBlock network of the lecture's ablation: factorized 3x1 / 1x3 convolutions,
strided-convolution subsampling and global average pooling (about 2M parameters)."""

from __future__ import annotations

import keras
from keras import layers

from course_lib.models._common import (check_count, check_fraction, check_image_shape, check_positive,
                                        model_inputs)


def convblock_net(input_shape=(28, 28, 1), num_classes: int = 10, filters=(64, 128, 256), blocks: int = 3,
                  width_multiplier: float = 1.0, batch_norm: bool = False, dropout: float = 0.0, l2: float = 0.0,
                  rescale: float | None = None, bn_momentum: float = 0.99,
                  name: str = "convblock_net") -> keras.Model:
    """A stem conv, then stages of ConvBlocks separated by stride-2 convolutions, then GAP and softmax.

    A ConvBlock is ``Conv (3, 1)`` then ``Conv (1, 3)`` (a factorized 3x3), each followed by
    batch normalization (if ``batch_norm``) and ReLU. Between stages a 3x3 convolution with
    stride 2 halves the resolution and sets the next stage's width. With the defaults on
    28x28x1 inputs: 1,923,210 parameters (28x28x64 -> 14x14x128 -> 7x7x256 -> 256 -> 10).

    Args:
        input_shape: ``(H, W, C)``, H and W at least ``2 ** (len(filters) - 1)``.
        num_classes: softmax outputs, at least 2.
        filters: channels of each stage (before the width multiplier).
        blocks: ConvBlocks per stage, at least 1.
        width_multiplier: multiplies every stage's channels (0.25 gives a 16x cheaper network for CPUs).
        batch_norm: BatchNormalization after every convolution (the convolutions then have no bias).
        dropout: dropout rate before the classifier, in [0, 1).
        l2: L2 weight decay on every kernel (0 for none).
        rescale: multiply the inputs by this first (``1/255`` for raw uint8 pixels); ``None``
            (the default) for inputs in [0, 1].
        bn_momentum: momentum of the batch-norm moving averages (Keras' 0.99 needs several
            hundred steps to settle; 0.9 suits runs of a few hundred steps).

    Input shape: ``(batch, H, W, C)``.
    Output shape: ``(batch, num_classes)`` class probabilities.
    """
    check_image_shape(input_shape)
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters must be a non-empty sequence of positive channel counts, got {filters}")
    check_image_shape(input_shape, min_size=2 ** (len(filters) - 1),
                      what=f"input_shape (halved {len(filters) - 1} times by {len(filters)} stages)")
    check_count("num_classes", num_classes, minimum=2)
    check_count("blocks", blocks)
    check_positive("width_multiplier (e.g. 0.25 for a narrow CPU version)", width_multiplier)
    check_fraction("dropout", dropout)
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    check_fraction("bn_momentum", bn_momentum)
    channels = [max(1, round(f * width_multiplier)) for f in filters]
    regularizer = keras.regularizers.L2(l2) if l2 else None

    def conv(x, c, kernel, strides=1):
        x = layers.Conv2D(c, kernel, strides=strides, padding="same", use_bias=not batch_norm,
                          kernel_regularizer=regularizer)(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=bn_momentum)(x)
        return layers.ReLU()(x)

    inputs, x = model_inputs(input_shape, rescale)
    x = conv(x, channels[0], 3)
    for stage, c in enumerate(channels):
        if stage > 0:
            x = conv(x, c, 3, strides=2)
        for _ in range(blocks):
            x = conv(conv(x, c, (3, 1)), c, (1, 3))
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name=name)
