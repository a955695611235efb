"""Plotting helpers: each takes data and ``ax=None``, draws, and returns the Axes (or Figure for grids)."""

from course_lib.viz.boundary import plot_decision_boundary
from course_lib.viz.curves import plot_functions, plot_history
from course_lib.viz.images import show_images

__all__ = ["plot_decision_boundary", "plot_functions", "plot_history", "show_images"]
