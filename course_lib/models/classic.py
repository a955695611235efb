"""AlexNet, VGG, GoogLeNet, DenseNet-121 and MobileNet v1, each with its paper's defaults.

Each takes inputs in [0, 1] (``rescale=1/255`` puts a Rescaling layer first for raw pixels).
"""

from __future__ import annotations

import keras
from keras import layers

from course_lib.layers.inception import DenseBlock, InceptionModule
from course_lib.models._common import model_inputs

VGG_STAGES = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}

# GoogLeNet, Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) per module.
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _head(x, num_classes, dropout, widths=(4096, 4096)):
    x = layers.Flatten(name="flatten")(x)
    for i, width in enumerate(widths):
        x = layers.Dense(width, activation="relu", name=f"fc{i + 1}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{i + 1}")(x)
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)


def alexnet(input_shape=(227, 227, 3), num_classes: int = 1000, dropout: float = 0.5,
            rescale: float | None = None, name="alexnet") -> keras.Model:
    """AlexNet (Krizhevsky et al., 2012) as one tower, without local response normalisation:
    conv 96@11x11/4, pool, conv 256@5x5, pool, conv 384, 384, 256 @3x3, pool, FC 4096, 4096, softmax."""
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    for i, filters in enumerate((384, 384, 256), start=3):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    return keras.Model(inputs, _head(x, num_classes, dropout), name=name)


def vgg(depth: int = 16, input_shape=(224, 224, 3), num_classes: int = 1000, dropout: float = 0.5,
        rescale: float | None = None, name: str | None = None) -> keras.Model:
    """VGG (Simonyan & Zisserman, 2015), configurations A (11), B (13), D (16) and E (19):
    stacks of 3x3 convolutions with 64, 128, 256, 512, 512 filters, 2x2 max pools, FC 4096, 4096, softmax."""
    if depth not in VGG_STAGES:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_STAGES)}, got {depth}")
    inputs, x = model_inputs(input_shape, rescale)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512, 512), VGG_STAGES[depth]), start=1):
        for i in range(count):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{stage}_conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"block{stage}_pool")(x)
    return keras.Model(inputs, _head(x, num_classes, dropout), name=name or f"vgg{depth}")


def googlenet(input_shape=(224, 224, 3), num_classes: int = 1000, dropout: float = 0.4,
              rescale: float | None = None, name="googlenet") -> keras.Model:
    """GoogLeNet / Inception v1 (Szegedy et al., 2015) without the auxiliary classifiers and LRN:
    the stem, nine Inception modules of Table 1, global average pooling, dropout 40 %, softmax."""
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Conv2D(64, 7, strides=2, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Conv2D(64, 1, activation="relu", name="conv2_reduce")(x)
    x = layers.Conv2D(192, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for key, sizes in GOOGLENET_MODULES.items():
        if key in ("4a", "5a"):
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = InceptionModule(*sizes, name=f"inception_{key}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def densenet121(input_shape=(224, 224, 3), num_classes: int = 1000, growth_rate: int = 32,
                rescale: float | None = None, name="densenet121") -> keras.Model:
    """DenseNet-121 (Huang et al., 2017): dense blocks of 6, 12, 24, 16 units with growth rate 32,
    transition layers halving the channels (compression 0.5), as in `keras.applications.DenseNet121`."""
    eps = 1.001e-5
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.ZeroPadding2D(3)(x)
    x = layers.Conv2D(2 * growth_rate, 7, strides=2, use_bias=False, name="conv1")(x)
    x = layers.ReLU()(layers.BatchNormalization(epsilon=eps)(x))
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(3, strides=2)(x)
    for i, units in enumerate((6, 12, 24, 16)):
        x = DenseBlock(units, growth_rate, name=f"dense_block{i + 1}")(x)
        if i < 3:
            x = layers.ReLU()(layers.BatchNormalization(epsilon=eps)(x))
            x = layers.Conv2D(x.shape[-1] // 2, 1, use_bias=False, name=f"transition{i + 1}")(x)
            x = layers.AveragePooling2D(2, strides=2)(x)
    x = layers.ReLU()(layers.BatchNormalization(epsilon=eps)(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def mobilenet_v1(input_shape=(224, 224, 3), num_classes: int = 1000, alpha: float = 1.0, dropout: float = 1e-3,
                 rescale: float | None = None, name="mobilenet_v1") -> keras.Model:
    """MobileNet v1 (Howard et al., 2017): a 3x3 conv, then 13 depthwise-separable blocks
    (depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6), global average pooling, softmax."""
    if alpha <= 0:
        raise ValueError(f"alpha (the width multiplier) must be positive, got {alpha}")
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="conv1")(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    for i, (filters, strides) in enumerate(plan, start=1):
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"conv_dw_{i}")(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = layers.Conv2D(int(filters * alpha), 1, use_bias=False, name=f"conv_pw_{i}")(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
