"""Turning a classifier's fully connected head into convolutions, and receptive fields of a conv stack."""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from course_lib.layers import costs

_SPATIAL = (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D, layers.ZeroPadding2D)


def fc_to_conv(model: keras.Model, channels: int | None = None) -> keras.Model:
    """A fully convolutional copy of a sequential classifier: ``Flatten`` + ``Dense`` becomes a
    convolution as large as the feature map it read, later ``Dense`` layers become 1x1 convolutions,
    with the weights copied. On the original input size it gives the same outputs (as a 1x1 map);
    on a larger image it slides the classifier over it and returns a map of answers.

    Args:
        model: a model whose layers run in sequence (Sequential or a linear functional model)
            built of Conv2D / pooling / padding / activation / dropout layers, then Flatten, then Dense layers.
        channels: input channels (default: the model's).

    Output: a model with input ``(None, None, C)``.
    """
    in_channels = channels or model.input_shape[-1]
    inputs = keras.Input((None, None, in_channels))
    x = inputs
    pending_flatten = None
    copies = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, layers.Flatten):
            pending_flatten = tuple(layer.input.shape[1:])
            continue
        if isinstance(layer, layers.Dense):
            kernel, *bias = layer.get_weights()
            if pending_flatten is not None:
                h, w, c = pending_flatten
                kernel = kernel.reshape(h, w, c, layer.units)
                pending_flatten = None
            elif len(layer.input.shape) == 2:
                kernel = kernel.reshape(1, 1, *kernel.shape)
            else:
                raise ValueError(f"Dense layer {layer.name!r} does not follow a Flatten or another Dense layer")
            conv = layers.Conv2D(layer.units, kernel.shape[:2], activation=layer.activation, use_bias=layer.use_bias,
                                 name=f"{layer.name}_conv")
            x = conv(x)
            copies.append((conv, [kernel, *bias]))
            continue
        if isinstance(layer, (*_SPATIAL, layers.Activation, layers.ReLU, layers.Dropout, layers.BatchNormalization,
                              layers.Rescaling)):
            clone = layer.__class__.from_config(layer.get_config())
            x = clone(x)
            copies.append((clone, layer.get_weights()))
            continue
        raise ValueError(f"fc_to_conv cannot convert layer {layer.name!r} of type {type(layer).__name__}; "
                         f"it handles Conv2D, pooling, padding, activation, dropout, batch norm, Flatten and Dense")
    converted = keras.Model(inputs, x, name=f"{model.name}_fully_conv")
    for clone, weights in copies:
        if weights:
            clone.set_weights(weights)
    return converted


@dataclasses.dataclass
class ReceptiveField:
    """Receptive field after one layer, down the rows (``size``, ``jump``, ``start``) and
    across the columns (``size_w``, ``jump_w``, ``start_w``); the two agree for square windows."""

    layer: str
    size: int      # receptive field of one output unit, in input pixels (rows)
    jump: int      # distance in input pixels between neighbouring output units (rows)
    start: float   # centre of the first output unit's field, in input pixels (rows)
    size_w: int = None
    jump_w: int = None
    start_w: float = None

    def __post_init__(self):
        self.size_w = self.size if self.size_w is None else self.size_w
        self.jump_w = self.jump if self.jump_w is None else self.jump_w
        self.start_w = self.start if self.start_w is None else self.start_w


def receptive_fields(model: keras.Model) -> list[ReceptiveField]:
    """Receptive field size, jump and start after each spatial layer of a sequential conv net.

    The recurrence, for each axis: with kernel k, stride s, dilation d, padding p,
    ``k_eff = d (k - 1) + 1``, ``size += (k_eff - 1) * jump``, ``start += ((k_eff - 1) / 2 - p) * jump``,
    ``jump *= s``. Rows and columns are followed separately, so 1×n and n×1 kernels count right.
    """
    state = [[1, 1, 0.5], [1, 1, 0.5]]  # per axis: size, jump, start
    rows = []
    for layer in model.layers:
        if isinstance(layer, layers.ZeroPadding2D):
            for axis in (0, 1):
                state[axis][2] -= layer.padding[axis][0] * state[axis][1]
            continue
        window = costs.window(layer)
        if window is None:
            continue
        kernel, strides, dilation, padding = window
        for axis in (0, 1):
            k_eff = dilation[axis] * (kernel[axis] - 1) + 1
            pad = (k_eff - 1) / 2 if padding == "same" else 0
            size, jump, start = state[axis]
            state[axis] = [size + (k_eff - 1) * jump, jump * strides[axis], start + ((k_eff - 1) / 2 - pad) * jump]
        (h, jh, sh), (w, jw, sw) = state
        rows.append(ReceptiveField(layer.name, h, jh, sh, w, jw, sw))
    return rows
