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
