"""Loss surfaces with optimizer paths drawn over their contours."""

from __future__ import annotations

import numpy as np

from course_lib.viz._axes import axes_or_new


def plot_loss_surface(fn, paths: dict | None = None, xlim=(-2, 2), ylim=(-1, 3), ax=None, levels: int = 30,
                      log: bool = True, minimum=None, title: str = "", resolution: int = 200):
    """Contours of a 2-D function with optimizer paths on top.

    Args:
        fn: maps points ``(..., 2)`` to values ``(...)`` (e.g. `course_lib.optim.rosenbrock`).
        paths: name -> array ``(steps + 1, 2)`` of visited points (from `optimizer_path`).
        xlim, ylim: the plotted window.
        log: space the contour levels logarithmically (for surfaces with a wide range).
        minimum: a point to mark with a star.
    Returns the Axes.
    """
    from course_lib.optim import surface_grid

    ax = axes_or_new(ax, figsize=(6, 5))
    X, Y, Z = surface_grid(fn, xlim, ylim, resolution)
    if log:
        shifted = Z - Z.min() + 1e-3
        lv = np.geomspace(shifted.min(), shifted.max(), levels)
        ax.contour(X, Y, shifted, levels=lv, cmap="viridis", linewidths=0.7)
    else:
        ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.7)
    for name, path in (paths or {}).items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], marker=".", markersize=2, linewidth=1.2, label=name)
        ax.plot(*path[0], marker="o", color="k", markersize=4)
    if minimum is not None:
        ax.plot(*minimum, marker="*", color="red", markersize=12, linestyle="none", label="minimum")
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title(title)
    if paths or minimum is not None:
        ax.legend(fontsize=8, loc="best")
    return ax
