"""Data augmentation as a Keras model of preprocessing layers (active in training, identity at inference)."""

from __future__ import annotations

import keras
from keras import layers


def augmentation(flip: str | None = "horizontal", translate: float = 0.1, zoom: float = 0.1,
                 fill_mode: str = "reflect", seed: int = 0, name: str = "augment") -> keras.Sequential:
    """Random flips, shifts and zooms, the augmentation of lectures 04 and 08.

    Args:
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or ``None``.
        translate: largest shift as a fraction of height and width (0 for none).
        zoom: largest zoom in or out as a fraction (0 for none).
        fill_mode: how pixels outside the image are filled (``"reflect"``, ``"constant"``, ...).
        seed: seed of the random transformations.

    Input shape: ``(batch, H, W, C)``. Output shape: the same. Put it first in a model, or call it
    with ``training=True`` to look at augmented examples.
    """
    if not (0 <= translate < 1 and 0 <= zoom < 1):
        raise ValueError(f"translate and zoom are fractions in [0, 1), got translate={translate}, zoom={zoom}")
    steps = []
    if flip:
        steps.append(layers.RandomFlip(flip, seed=seed))
    if translate:
        steps.append(layers.RandomTranslation(translate, translate, fill_mode=fill_mode, seed=seed))
    if zoom:
        steps.append(layers.RandomZoom(zoom, fill_mode=fill_mode, seed=seed))
    if not steps:
        raise ValueError("augmentation with no flip, translation or zoom does nothing; set at least one")
    return keras.Sequential(steps, name=name)
