"""Residual networks: the CIFAR-style ResNet-20/32/44/56/110 and ImageNet ResNet-18/34/50/101/152."""

from __future__ import annotations

import keras
from keras import layers

from course_lib.layers.residual import ResidualBlock
from course_lib.models._common import check_choice, check_count, check_fraction, model_inputs

IMAGENET_STAGES = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                   101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}

# Parameter counts the models should reproduce (trainable parameters: weights, biases, BN scale and shift).
REFERENCE_PARAMETERS = {
    "resnet20": 269_722, "resnet56": 853_018,          # He et al. 2016, Table 6 (0.27M, 0.85M)
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,  # the torchvision models
}


def resnet_cifar(depth: int = 20, input_shape=(32, 32, 3), num_classes: int = 10, residual: bool = True,
                 preact: bool = False, shortcut: str = "zero_pad", width: int = 16, bn_momentum: float = 0.99,
                 rescale: float | None = None, name: str | None = None) -> keras.Model:
    """The CIFAR ResNet of He et al. (2016), section 4.2: 6n + 2 layers in three stages of 16, 32, 64 filters.

    Args:
        depth: 6n + 2 (20, 32, 44, 56, 110, ...).
        residual: ``False`` gives the plain network of the same depth (the degradation experiment).
        preact: pre-activation blocks.
        shortcut: ``"zero_pad"`` (option A, as in the paper's CIFAR experiments) or ``"projection"``.
        width: filters of the first stage.
        bn_momentum: momentum of every batch-norm moving average (Keras' 0.99 lags behind the
            weights for several hundred steps; 0.9 suits short runs).
        rescale: multiply the inputs by this first (``1/255`` for raw uint8 pixels); ``None``
            (the default) for inputs in [0, 1].

    Input shape: ``(batch, H, W, C)``. Output shape: ``(batch, num_classes)`` probabilities.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    check_count("width", width)
    check_count("num_classes", num_classes, minimum=2)
    check_fraction("bn_momentum", bn_momentum)
    check_choice("shortcut", shortcut, ("zero_pad", "projection"))
    n = (depth - 2) // 6
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name="conv1")(x)
    if not preact:
        x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum, name="bn1")(x))
    for stage, filters in enumerate((width, 2 * width, 4 * width)):
        for block in range(n):
            strides = 2 if stage > 0 and block == 0 else 1
            x = ResidualBlock(filters, strides=strides, kind="basic", preact=preact, shortcut=shortcut,
                              residual=residual, bn_momentum=bn_momentum, name=f"stage{stage + 1}_block{block + 1}")(x)
    if preact:
        x = layers.ReLU()(layers.BatchNormalization(momentum=bn_momentum, name="bn_final")(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    kind = "resnet" if residual else "plain"
    return keras.Model(inputs, outputs, name=name or f"{kind}{depth}")


def resnet(depth: int = 18, input_shape=(224, 224, 3), num_classes: int = 1000, preact: bool = False,
           rescale: float | None = None, name: str | None = None) -> keras.Model:
    """The ImageNet ResNet (He et al., 2016, Table 1): 7x7/2 conv, 3x3/2 max pool, four stages
    of 64, 128, 256, 512 filters (basic blocks for 18/34, bottlenecks from 50), projection
    shortcuts where the shape changes, global average pooling, a softmax layer.

    Args:
        depth: 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks).
        preact: pre-activation blocks.
        rescale: multiply the inputs by this first; ``None`` (the default) for inputs in [0, 1].

    Input shape: ``(batch, H, W, 3)``. Output shape: ``(batch, num_classes)`` probabilities.
    """
    if depth not in IMAGENET_STAGES:
        raise ValueError(f"ImageNet ResNets have depth 18, 34, 50, 101 or 152, got {depth}")
    kind, blocks = IMAGENET_STAGES[depth]
    inputs, x = model_inputs(input_shape, rescale)
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, kernel_initializer="he_normal", name="conv1")(x)
    x = layers.ReLU()(layers.BatchNormalization(name="bn1")(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for block in range(count):
            strides = 2 if stage > 0 and block == 0 else 1
            x = ResidualBlock(filters, strides=strides, kind=kind, preact=preact, shortcut="projection",
                              name=f"stage{stage + 1}_block{block + 1}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def trainable_parameters(model) -> int:
    """Trainable parameters (what papers and PyTorch count; Keras' count_params adds BN's moving statistics)."""
    return int(sum(int(keras.ops.size(w)) for w in model.trainable_weights))
