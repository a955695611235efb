"""A small CNN for 28x28 or 32x32 images: the course's first convolutional model."""

from __future__ import annotations

import keras
from keras import layers

from course_lib.models._common import (check_choice, check_count, check_fraction, check_image_shape,
                                        model_inputs)


def small_cnn(input_shape=(28, 28, 1), num_classes: int = 10, width: int = 32, dropout: float = 0.25,
              bn_momentum: float = 0.99, convs_per_block: int = 2, head: str = "gap", dense_units: int = 128,
              rescale: float | None = None, name: str = "small_cnn") -> keras.Model:
    """Two conv blocks (conv-BN-ReLU, twice by default, then max-pool) and a classifier head.

    Two heads: ``"gap"`` (global average pooling, dropout, softmax: few parameters, blind
    to where a feature is) and ``"dense"`` (flatten, dropout, a ReLU layer of `dense_units`,
    softmax: keeps the layout of the final feature maps). With ``convs_per_block=1,
    head="dense"`` the network costs about a quarter of the default's multiply-accumulates
    on 28x28 images and learns faster in the first epochs, which suits a CPU.

    Args:
        input_shape: ``(H, W, C)``; H and W at least 8.
        num_classes: softmax outputs.
        width: filters of the first block (the second has twice as many).
        dropout: dropout rate on the pooled (``"gap"``) or flattened (``"dense"``) features.
        convs_per_block: conv-BN-ReLU layers before each pooling, 1 or more.
        head: ``"gap"`` or ``"dense"``, see above.
        dense_units: width of the hidden layer of the ``"dense"`` head.
        bn_momentum: momentum of the batch-norm moving averages (Keras' 0.99 needs several
            hundred steps to settle; 0.9 suits runs of a few hundred steps).
        rescale: multiply the inputs by this first (``1/255`` for raw uint8 pixels); ``None``
            (the default) for inputs in [0, 1].

    Input shape: ``(batch, H, W, C)``, pixel values in [0, 1].
    Output shape: ``(batch, num_classes)`` class probabilities.
    """
    check_image_shape(input_shape, min_size=8)
    check_count("num_classes", num_classes, minimum=2)
    check_count("width", width)
    check_fraction("dropout", dropout)
    check_fraction("bn_momentum", bn_momentum)
    check_count("convs_per_block", convs_per_block)
    check_choice("head", head, ("gap", "dense"))
    inputs, x = model_inputs(input_shape, rescale)
    for filters in (width, 2 * width):
        for _ in range(convs_per_block):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=bn_momentum)(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(dropout)(x)
    else:
        x = layers.Flatten()(x)
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(dense_units, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=name)
