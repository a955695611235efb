"""Johnson, Alahi & Fei-Fei (2016): a feed-forward network that stylises an image in one pass.

Gatys et al. optimise every new image for minutes; Johnson et al. train an image
transformation network once, with the same perceptual loss (`PerceptualLoss`), on many
content images, and then stylise any image with one forward pass.
"""

from __future__ import annotations

import keras
from keras import layers

# The paper's network (its supplementary material): 32-64-128 filters, five residual blocks.
JOHNSON_FILTERS = (32, 64, 128)
JOHNSON_RESIDUAL_BLOCKS = 5


def _conv_norm(x, filters, kernel, stride, name, activation=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", name=f"{name}_conv")(x)
    x = layers.GroupNormalization(groups=filters, name=f"{name}_instance_norm")(x)   # one group per map: instance norm
    return layers.Activation("relu", name=f"{name}_relu")(x) if activation else x


def transform_net(filters=JOHNSON_FILTERS, residual_blocks: int = JOHNSON_RESIDUAL_BLOCKS, input_shape=(None, None, 3),
                  name: str = "transform_net") -> keras.Model:
    """Johnson et al.'s image transformation network.

    A 9x9 convolution, two stride-2 3x3 convolutions (down to 1/4 of the size), residual blocks
    of two 3x3 convolutions, two upsampling steps back to full size, and a 9x9 convolution to 3
    channels. Every convolution but the last is followed by instance normalization (Ulyanov et
    al., 2016, which Johnson et al. adopted after the paper) and a ReLU. Two changes from the
    paper: upsampling is nearest-neighbour followed by a convolution instead of a
    fractionally-strided convolution (which leaves checkerboard patterns; Odena et al., 2016),
    and the output is a sigmoid, giving pixels in [0, 1] (the paper: a scaled tanh to 0..255).

    Args:
        filters: ``(f1, f2, f3)``: filters at full, 1/2 and 1/4 resolution (the paper: 32, 64, 128).
        residual_blocks: blocks at 1/4 resolution (the paper: 5).
        input_shape: ``(H, W, 3)``, H and W divisible by 4; ``(None, None, 3)`` takes any such size.

    Input shape: `(batch, H, W, 3)` in [0, 1]. Output shape: `(batch, H, W, 3)` in [0, 1].
    """
    filters = tuple(int(f) for f in filters)
    if len(filters) != 3 or min(filters) < 1:
        raise ValueError(f"filters must be three positive numbers (full, 1/2, 1/4 resolution), got {filters}; "
                         f"the paper uses {JOHNSON_FILTERS}")
    if int(residual_blocks) < 0:
        raise ValueError(f"residual_blocks must be >= 0, got {residual_blocks}")
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (H, W, 3), got {input_shape}")
    if any(s is not None and s % 4 for s in input_shape[:2]):
        raise ValueError(f"height and width must be divisible by 4 (two stride-2 steps down and up), got {input_shape}")
    f1, f2, f3 = filters
    inputs = keras.Input(input_shape, name="image")
    x = _conv_norm(inputs, f1, 9, 1, "down0")
    x = _conv_norm(x, f2, 3, 2, "down1")
    x = _conv_norm(x, f3, 3, 2, "down2")
    for i in range(int(residual_blocks)):
        y = _conv_norm(x, f3, 3, 1, f"res{i}_a")
        y = _conv_norm(y, f3, 3, 1, f"res{i}_b", activation=False)
        x = layers.Add(name=f"res{i}_add")([x, y])
    x = layers.UpSampling2D(2, name="up1_resize")(x)
    x = _conv_norm(x, f2, 3, 1, "up1")
    x = layers.UpSampling2D(2, name="up2_resize")(x)
    x = _conv_norm(x, f1, 3, 1, "up2")
    x = layers.Conv2D(3, 9, padding="same", name="out_conv")(x)
    outputs = layers.Activation("sigmoid", name="pixels")(x)
    return keras.Model(inputs, outputs, name=name)


__all__ = ["transform_net", "JOHNSON_FILTERS", "JOHNSON_RESIDUAL_BLOCKS"]
