"""What every model builder shares: the input convention and the argument checks.

The input convention of the course: **a builder's model takes pixel values in [0, 1]**
(``cl.data.scale_images`` turns the loaders' uint8 images into that). Every builder has a
``rescale`` argument for other inputs: ``rescale=1/255`` puts a ``Rescaling`` layer first,
so the model takes raw 0..255 pixels; the default ``None`` adds no layer.

The checks raise a `ValueError` that names the argument, the value and what is allowed.
"""

from __future__ import annotations

import numbers

import keras
from keras import layers


def model_inputs(input_shape, rescale: float | None = None):
    """``(inputs, x)``: a ``keras.Input`` and the tensor the first layer reads (rescaled if asked)."""
    if rescale is not None and (isinstance(rescale, bool) or not isinstance(rescale, numbers.Real) or rescale <= 0):
        raise ValueError(f"rescale must be a positive factor (1/255 for uint8 pixels) or None, got {rescale!r}")
    inputs = keras.Input(tuple(input_shape))
    x = layers.Rescaling(rescale, name="rescale")(inputs) if rescale is not None else inputs
    return inputs, x


def check_image_shape(input_shape, min_size: int = 1, what: str = "input_shape") -> tuple:
    """``(H, W, C)`` with H and W at least `min_size`."""
    shape = tuple(input_shape)
    if len(shape) != 3 or any(d is not None and int(d) < 1 for d in shape):
        raise ValueError(f"{what} must be (H, W, C), got {shape}")
    if min(shape[:2]) < min_size:
        raise ValueError(f"{what} {shape} is too small: this network needs H and W of at least {min_size}")
    return shape


def check_fraction(name: str, value, upper_open: bool = True) -> float:
    """A rate in [0, 1) (dropout, momentum, label smoothing), or [0, 1] with ``upper_open=False``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= value and (
        value < 1.0 if upper_open else value <= 1.0)
    if not ok:
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def check_count(name: str, value, minimum: int = 1) -> int:
    """An integer of at least `minimum` (filters, blocks, classes, units)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name: str, value) -> float:
    """A number > 0 (a width multiplier, a learning rate)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
