"""Scenes with their annotations: boxes with class labels, class masks as a colour overlay, a caption."""

from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import numpy as np

from course_lib.viz._axes import axes_or_new

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")   # matplotlib's tab10


def class_color(cls: int) -> str:
    """The colour of class `cls` in every scene figure (boxes and masks agree)."""
    return CLASS_COLORS[int(cls) % len(CLASS_COLORS)]


def show_scene(x, boxes=None, masks=None, class_names=None, caption=None, ax=None, mask_alpha: float = 0.45):
    """Draw one scene, its boxes with class labels and its class mask as a colour overlay.

    Args:
        x: the image, ``(H, W)`` grey or ``(H, W, 3)`` colour (uint8 0..255 or float 0..1).
        boxes: ``(k, 5)`` rows ``[class, y0, x0, y1, x1]`` in pixels (end exclusive, as
            `fashion_scenes` and `shapes` give them), or ``(k, 6)`` with a score last (drawn as
            ``"bag 0.93"``); rows with a negative class are padding and skipped.
        masks: ``(H, W)`` class map, 0 for background and 1 + class id elsewhere.
        class_names: names of the classes, for the labels; class ids are shown without them.
        caption: a sentence shown as the title.
        ax: the Axes to draw on; a new one if ``None``.
        mask_alpha: opacity of the mask overlay.

    Returns the Axes.
    """
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be one image, (H, W) or (H, W, 3), got shape {x.shape}")
    ax = axes_or_new(ax, figsize=(4, 4))
    scale = {"vmin": 0, "vmax": 255} if x.dtype == np.uint8 else {}
    ax.imshow(x, cmap="gray" if x.ndim == 2 else None, interpolation="nearest", **scale)
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != x.shape[:2]:
            raise ValueError(f"masks must have the image's shape {x.shape[:2]}, got {masks.shape}")
        overlay = np.zeros(masks.shape + (4,), np.float32)
        for value in np.unique(masks[masks > 0]):
            overlay[masks == value] = (*mcolors.to_rgb(class_color(value - 1)), mask_alpha)
        ax.imshow(overlay, interpolation="nearest")
    if boxes is not None:
        boxes = np.asarray(boxes, np.float32).reshape(-1, np.shape(boxes)[-1])
        if boxes.shape[1] not in (5, 6):
            raise ValueError(f"boxes must have rows [class, y0, x0, y1, x1] (and a score), got shape {boxes.shape}")
        for row in boxes[boxes[:, 0] >= 0]:
            cls, y0, x0, y1, x1 = int(row[0]), *row[1:5]
            color = class_color(cls)
            # pixel i covers i - 0.5 .. i + 0.5 on imshow's axes; boxes end one past the last pixel
            ax.add_patch(mpatches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                            edgecolor=color, linewidth=1.5))
            label = class_names[cls] if class_names is not None else str(cls)
            if len(row) == 6:
                label = f"{label} {row[5]:.2f}"
            inside = y0 < 0.12 * x.shape[0]           # no room above the box: label inside it
            ax.text(x0 - 0.5, y0 - 0.5, label, color="white", fontsize=7, va="top" if inside else "bottom", ha="left",
                    bbox={"facecolor": color, "edgecolor": "none", "pad": 1, "alpha": 0.85})
    if caption:
        ax.set_title(caption, fontsize=9)
    ax.set_xlim(-0.5, x.shape[1] - 0.5)
    ax.set_ylim(x.shape[0] - 0.5, -0.5)
    ax.axis("off")
    return ax
