"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant of the TensorFlow TPU repository) in Keras.

Lite differs from EfficientNet-B0 in what mobile accelerators handle badly: ReLU6 instead of
swish, no squeeze-and-excitation, and a stem (32 filters) and head (1280) that are never
scaled. The rest is B0: a 3x3 stride-2 stem, 16 inverted-residual ("MBConv") blocks in 7
stages, a 1x1 head convolution, global average pooling, dropout 0.2 and a 1000-way classifier.

The ImageNet weights were trained in TensorFlow, so this model keeps TensorFlow's conventions:
"same" padding that puts the odd pixel of a stride-2 convolution at the bottom and right (the
PyTorch port pads explicitly to get the same), BatchNormalization with epsilon 1e-3, and inputs
scaled as ``(pixel - 127) / 128`` (`preprocess`).

Layer names follow `keras.applications.EfficientNetB0`, so feature maps can be picked by name:
``stem_conv``, ``stem_activation``, ``block1a_...`` to ``block7a_...`` (``block6c_add`` is the
output of block 6c), ``top_conv``, ``top_activation`` (the last feature map, 7x7x1280 at 224x224),
``avg_pool`` and ``predictions``.
"""

from __future__ import annotations

import string

import numpy as np

import keras
from keras import layers, ops

# One row per stage: (repeats, kernel, first stride, expansion, input filters, output filters).
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99
DROPOUT, DROP_CONNECT = 0.2, 0.2
# The training pipeline of the Lite models: pixels in 0..255 become (pixel - MEAN) / STD.
MEAN, STD = 127.0, 128.0
DEFAULT_SIZE = 224
# Initial kernels as in the TensorFlow reference (and keras.applications' EfficientNet): variance
# scaling by fan-out. Dicts, so that every layer gets its own initializer instance.
CONV_INIT = {"class_name": "VarianceScaling",
             "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_INIT = {"class_name": "VarianceScaling", "config": {"scale": 1 / 3, "mode": "fan_out", "distribution": "uniform"}}


def blocks():
    """The 16 blocks in order: ``(name, kernel, stride, expansion, filters_in, filters_out)``."""
    out = []
    for stage, (repeats, kernel, stride, expand, f_in, f_out) in enumerate(STAGES, start=1):
        for j in range(repeats):
            out.append((f"block{stage}{string.ascii_lowercase[j]}", kernel, stride if j == 0 else 1, expand,
                        f_in if j == 0 else f_out, f_out))
    return out


def _conv_bn(x, filters, name, init, kernel=1, stride=1, activation=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, kernel_initializer=init,
                      name=f"{name}_conv")(x)
    return _bn_act(x, name, activation)


def _bn_act(x, name, activation=True, bn_name=None):
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=bn_name or f"{name}_bn")(x)
    if activation:
        x = layers.Activation("relu6", name=f"{name}_activation")(x)
    return x


def _mbconv(x, name, kernel, stride, expand, f_in, f_out, drop_rate, init):
    """Inverted residual: 1x1 expansion, depthwise kxk, 1x1 linear projection, identity shortcut."""
    inputs = x
    if expand != 1:
        x = layers.Conv2D(f_in * expand, 1, padding="same", use_bias=False, kernel_initializer=init,
                          name=f"{name}_expand_conv")(x)
        x = _bn_act(x, f"{name}_expand")
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, depthwise_initializer=init,
                               name=f"{name}_dwconv")(x)
    x = _bn_act(x, name)
    x = layers.Conv2D(f_out, 1, padding="same", use_bias=False, kernel_initializer=init,
                      name=f"{name}_project_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_project_bn")(x)
    if stride == 1 and f_in == f_out:
        if drop_rate > 0:  # stochastic depth: drops the whole residual branch of an example while training
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def build(include_top=True, input_shape=(DEFAULT_SIZE, DEFAULT_SIZE, 3), pooling=None, classes=1000,
          classifier_activation="softmax", name="efficientnet_lite0", random_init=True):
    """The EfficientNet-Lite0 architecture with fresh weights (see `course_lib.pretrained.efficientnet_lite0`).

    Args:
        include_top: end with pooling, dropout and the ``classes``-way ``predictions`` layer.
        input_shape: ``(H, W, 3)``; ``(None, None, 3)`` accepts any size (the ImageNet weights
            were trained at 224x224).
        pooling: with ``include_top=False``: ``None`` (the 4-D ``top_activation`` map),
            ``"avg"`` or ``"max"`` (a 2-D feature vector of 1280).
        classes: outputs of the classifier.
        classifier_activation: ``"softmax"``, or ``None`` for logits.
        random_init: draw the kernels at random, with the variance scaling of the reference
            implementation (`CONV_INIT`, `DENSE_INIT`). ``False`` starts them at zero,
            for weights that are loaded right after: much faster on JAX, which otherwise
            compiles one random draw per kernel shape.

    Input shape: `(batch, H, W, 3)`, preprocessed by `preprocess`.
    Output shape: `(batch, classes)`; without the top `(batch, ceil(H/32), ceil(W/32), 1280)` or `(batch, 1280)`.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for RGB images, got {input_shape}; "
                         f"e.g. input_shape=(224, 224, 3)")
    if any(s is not None and s < 32 for s in input_shape[:2]):
        raise ValueError(f"input_shape {input_shape} is too small: five stride-2 stages need at least 32x32 pixels")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    init = CONV_INIT if random_init else "zeros"
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_bn(inputs, STEM_FILTERS, "stem", init, kernel=3, stride=2)
    spec = blocks()
    for i, (block_name, kernel, stride, expand, f_in, f_out) in enumerate(spec):
        x = _mbconv(x, block_name, kernel, stride, expand, f_in, f_out, DROP_CONNECT * i / len(spec), init)
    x = _conv_bn(x, HEAD_FILTERS, "top", init)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(DROPOUT, name="top_dropout")(x)
        dense_init = DENSE_INIT if random_init else "zeros"
        x = layers.Dense(classes, activation=classifier_activation, kernel_initializer=dense_init, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


def _is_tensor(x) -> bool:
    return not isinstance(x, (np.ndarray, list, tuple, int, float, np.generic))


def preprocess(images, size=None):
    """Images as EfficientNet-Lite0's ImageNet weights expect them: RGB, ``(pixel - 127) / 128``.

    Args:
        images: ``(H, W, 3)`` or ``(N, H, W, 3)`` with pixel values in 0..255 (uint8 or float);
            a grey ``(H, W)`` image is repeated to 3 channels, an alpha channel is dropped.
        size: if given, each image is first cropped to its central square and resized to
            ``size x size`` (bilinear, antialiased) - 224 for the network's training size.

    Returns: float32, same rank as the input, values in about [-1, 1]; a NumPy array for
    NumPy input, else a tensor of the backend (so gradients can flow through it).
    """
    as_numpy = not _is_tensor(images)
    x = np.asarray(images) if as_numpy else images
    if as_numpy and x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    if len(x.shape) not in (3, 4) or x.shape[-1] not in (3, 4):
        raise ValueError(f"preprocess expects (H, W, 3) or (N, H, W, 3) RGB images with values 0..255, "
                         f"got shape {tuple(x.shape)}")
    x = ops.cast(x[..., :3], "float32")
    if size is not None:
        h, w = x.shape[-3], x.shape[-2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        x = x[..., top:top + side, left:left + side, :]
        x = ops.image.resize(x, (int(size), int(size)), interpolation="bilinear", antialias=True)
    x = (x - MEAN) / STD
    return ops.convert_to_numpy(x) if as_numpy else x


def deprocess(x):
    """The inverse of `preprocess` (without the crop): uint8 RGB images for display, as NumPy."""
    x = np.asarray(ops.convert_to_numpy(x), dtype=np.float32)
    return np.clip(np.round(x * STD + MEAN), 0, 255).astype(np.uint8)


__all__ = ["build", "blocks", "preprocess", "deprocess", "STAGES", "MEAN", "STD", "DEFAULT_SIZE"]
