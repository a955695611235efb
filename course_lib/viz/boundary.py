"""Decision boundaries of 2-D classifiers."""

from __future__ import annotations

import numpy as np

from course_lib.viz._axes import axes_or_new


def predicted_classes(scores) -> np.ndarray:
    """Class ids from a classifier's scores: arg-max over ``(N, classes)``, threshold 0.5 for
    ``(N,)`` or ``(N, 1)`` (a single probability of class 1)."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(1)
    return (scores.reshape(-1) > 0.5).astype(int)


def plot_decision_boundary(predict, x, y, ax=None, resolution: int = 200, title: str = "", margin: float = 0.3):
    """Shade the regions a 2-D classifier assigns to each class and scatter the points over them.

    Args:
        predict: maps an array ``(N, 2)`` to class scores ``(N,)`` / ``(N, 1)`` (threshold 0.5)
            or ``(N, classes)`` (argmax), e.g. ``model.predict`` or a NumPy function.
        x: points, shape ``(N, 2)``.
        y: labels, shape ``(N,)``.
    Returns the Axes.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2), got {x.shape}")
    ax = axes_or_new(ax)
    lo, hi = x.min(0) - margin, x.max(0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], 1).astype(np.float32)
    labels = predicted_classes(predict(grid))
    ax.contourf(g0, g1, labels.reshape(g0.shape), alpha=0.25, cmap="coolwarm", levels=np.arange(labels.max() + 2) - 0.5)
    ax.scatter(x[:, 0], x[:, 1], c=np.asarray(y), cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    return ax
