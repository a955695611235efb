"""Plotting helpers: each takes data and ``ax=None``, draws, and returns the Axes (or Figure for grids)."""

from course_lib.viz.boundary import plot_decision_boundary
from course_lib.viz.curves import plot_functions, plot_histories, plot_history
from course_lib.viz.distributions import plot_layer_distributions, plot_per_layer, plot_weight_histograms
from course_lib.viz.images import show_feature_maps, show_filters, show_images
from course_lib.viz.scenes import show_scene
from course_lib.viz.surfaces import plot_loss_surface

__all__ = ["plot_decision_boundary", "plot_functions", "plot_histories", "plot_history", "plot_layer_distributions",
           "plot_loss_surface", "plot_per_layer", "plot_weight_histograms", "show_feature_maps", "show_filters", "show_images",
           "show_scene"]
