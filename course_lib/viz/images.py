"""Grids of images with their labels."""

from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt


def show_images(images, labels=None, class_names=None, ncols: int = 10, title: str = "", size: float = 1.2,
                predictions=None):
    """Show images in a grid, with labels (and predictions, red where wrong) under each. Returns the Figure."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}")
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        scale = {"vmin": 0, "vmax": 255} if images.dtype == np.uint8 else {}   # one grey scale for all
        ax.imshow(img.squeeze(), cmap="gray" if img.ndim == 2 or img.shape[-1] == 1 else None, **scale)
        if labels is not None:
            name = class_names[int(labels[i])] if class_names else str(labels[i])
            if predictions is not None:
                guess = class_names[int(predictions[i])] if class_names else str(predictions[i])
                wrong = int(predictions[i]) != int(labels[i])
                ax.set_title(f"{guess}\n({name})" if wrong else name, fontsize=7, color="red" if wrong else "black")
            else:
                ax.set_title(name, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _grid(n, ncols, size):
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def show_filters(kernel, ncols: int = 8, title: str = "", size: float = 1.0):
    """The filters of a convolution, one tile each: `kernel` ``(kh, kw, c_in, c_out)`` as Keras stores it.

    Three input channels are shown in colour, otherwise the first channel in grey; each filter is
    scaled to its own range (the sign pattern, not the magnitude, is what one reads). Returns the Figure.
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must have shape (kh, kw, c_in, c_out), got {kernel.shape}")
    fig, axes = _grid(kernel.shape[-1], ncols, size)
    for i, ax in zip(range(kernel.shape[-1]), axes):
        k = kernel[..., i]
        k = (k - k.min()) / (np.ptp(k) + 1e-12)
        ax.imshow(k if k.shape[-1] == 3 else k[..., 0], cmap=None if k.shape[-1] == 3 else "gray",
                  interpolation="nearest")
        ax.set_title(str(i), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_feature_maps(maps, ncols: int = 8, title: str = "", size: float = 1.2, cmap: str = "viridis"):
    """The channels of one feature map ``(H, W, C)`` side by side, each on its own colour scale. Returns the Figure."""
    maps = np.asarray(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (H, W, C) (or (1, H, W, C)), got {maps.shape}")
    fig, axes = _grid(maps.shape[-1], ncols, size)
    for i, ax in zip(range(maps.shape[-1]), axes):
        ax.imshow(maps[..., i], cmap=cmap)
        ax.set_title(str(i), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
