"""Content and style images: a bundled photograph or texture as a square float image in [0, 1]."""

from __future__ import annotations

import numpy as np

from keras import ops


def square(image, size: int) -> np.ndarray:
    """The central square of `image` resized to ``size x size`` (bilinear, antialiased), float32 in [0, 1].

    Args:
        image: ``(H, W, 3)`` or grey ``(H, W)`` uint8 pixels (0..255), or floats in [0, 1].
        size: the side in pixels.

    Returns: ``(size, size, 3)`` float32 in [0, 1].
    """
    x = np.asarray(image)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=-1)
    if x.ndim != 3 or x.shape[-1] not in (3, 4):
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {x.shape}")
    x = x[..., :3].astype("float32") / (255.0 if x.dtype == np.uint8 else 1.0)
    h, w = x.shape[:2]
    side = min(h, w)
    x = x[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    if int(size) < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    resized = ops.image.resize(x[None], (int(size), int(size)), interpolation="bilinear", antialias=True)
    return np.clip(np.asarray(ops.convert_to_numpy(resized), dtype="float32")[0], 0.0, 1.0)


def load(name: str, size: int):
    """A bundled image by name (`cl.data.IMAGE_NAMES`) as `square` makes it, and its `Source`."""
    from course_lib import data

    image, source = data.image(name)
    return square(image, size), source


def to_uint8(image) -> np.ndarray:
    """An image in [0, 1] as uint8 pixels, for display or saving."""
    return np.clip(np.round(np.asarray(ops.convert_to_numpy(image), dtype="float32") * 255.0), 0, 255).astype(np.uint8)


__all__ = ["square", "load", "to_uint8"]
