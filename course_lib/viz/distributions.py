"""Per-layer distributions: activations, gradients and weights."""

from __future__ import annotations

import numpy as np

from course_lib.viz._axes import axes_or_new


def plot_layer_distributions(values: dict, ax=None, title: str = "", ylabel: str = "activation"):
    """One box per layer (in order) of the values it produced: spread collapsing or exploding
    with depth shows at a glance. `values`: layer name -> array. Returns the Axes."""
    if not values:
        raise ValueError("values is empty: pass {layer_name: array}")
    ax = axes_or_new(ax, figsize=(max(5, 0.5 * len(values)), 3.5))
    names = list(values)
    ax.boxplot([np.asarray(values[n]).ravel() for n in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return ax


def plot_per_layer(series: dict, layer_names, ax=None, title: str = "", ylabel: str = "", log: bool = True):
    """Lines over the layers, one per series (e.g. one per initialisation, or one per epoch).

    `series`: label -> sequence with one value per layer. Returns the Axes."""
    ax = axes_or_new(ax, figsize=(6, 3.5))
    x = np.arange(1, len(layer_names) + 1)
    for label, vals in series.items():
        vals = np.asarray(vals, dtype=float)
        if len(vals) != len(x):
            raise ValueError(f"series {label!r} has {len(vals)} values for {len(x)} layers")
        ax.plot(x, vals, marker="o", markersize=3, label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xticks(x, layer_names, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_weight_histograms(weights, ax=None, bins: int = 60, title: str = "", log: bool = False):
    """Overlaid histograms of weight values: `weights` is name -> array, or a Keras model
    (its Dense/Conv kernels). Returns the Axes."""
    if hasattr(weights, "layers"):
        from keras import ops

        weights = {layer.name: ops.convert_to_numpy(layer.kernel) for layer in weights.layers
                   if getattr(layer, "kernel", None) is not None}
    if not weights:
        raise ValueError("no weights to plot: pass {name: array} or a model with Dense/Conv layers")
    ax = axes_or_new(ax, figsize=(6, 3.5))
    for name, w in weights.items():
        ax.hist(np.asarray(w).ravel(), bins=bins, histtype="step", linewidth=1.3, label=name, log=log)
    ax.set_xlabel("weight value")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
