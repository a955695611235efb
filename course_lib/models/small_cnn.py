"""A small CNN for 28x28 or 32x32 images: the course's first convolutional model."""

from __future__ import annotations

import keras
from keras import layers


def small_cnn(input_shape=(28, 28, 1), num_classes: int = 10, width: int = 32, dropout: float = 0.25,
              bn_momentum: float = 0.99, name: str = "small_cnn") -> keras.Model:
    """Two conv blocks (conv-BN-ReLU twice, max-pool) and a dense head.

    Args:
        input_shape: ``(H, W, C)``; H and W at least 8.
        num_classes: softmax outputs.
        width: filters of the first block (the second has twice as many).
        dropout: dropout rate before the classifier.
        bn_momentum: momentum of the batch-norm moving averages (Keras' 0.99 needs several
            hundred steps to settle; 0.9 suits runs of a few hundred steps).

    Input shape: ``(batch, H, W, C)``, pixel values scaled to [0, 1].
    Output shape: ``(batch, num_classes)`` class probabilities.
    """
    if len(input_shape) != 3 or min(input_shape[:2]) < 8:
        raise ValueError(f"input_shape must be (H, W, C) with H, W >= 8, got {input_shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if not 0.0 <= bn_momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1), got {bn_momentum}")
    inputs = keras.Input(input_shape)
    x = inputs
    for filters in (width, 2 * width):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=bn_momentum)(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=name)
